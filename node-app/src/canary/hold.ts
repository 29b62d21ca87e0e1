/**
 * The canary hold gate's rule, as pure functions (the HTTP shell is `cli/hold-gate.ts`).
 *
 * Flagger (fluxcd/flagger, `pkg/controller/scheduler.go`) advances a canary through `stepWeights` one step per
 * analysis interval. Before raising the weight it calls every `confirm-traffic-increase` webhook, and at the last
 * weight, before promoting, every `confirm-promotion` webhook. Either hook is called once per interval, only after
 * that interval's metric checks passed (a failed check returns before the hooks run); a non-2xx answer holds the
 * weight and Flagger asks again next interval. The payload is `{name, namespace, phase, checksum, metadata}`;
 * `checksum` identifies the revision under analysis.
 *
 * The rule. State per canary (`namespace/name`) and revision (`checksum`): `approvals` so far and `calls` since the
 * last approval. The schedule comes from `metadata.schedule` (`"10:60,50:120,100:180"`) on every call; the kind of
 * call from `metadata.hook` (`pre-rollout`, `confirm-traffic-increase`, `confirm-promotion`).
 * - `pre-rollout` (Flagger calls it once, at 0 %, before the first step of an analysis): always 200; arms the
 *   revision at approvals = 0.
 * - confirm, approvals = 0 (armed, canary at 0 %): approve at once; the first step (0 → first weight) holds nothing.
 * - confirm, approvals = k, 1 <= k <= stages (canary at stage k's weight): count the call; approve when `calls`
 *   reaches the stage's required calls, `ceil(holdMinutes / interval)` (interval from `metadata.interval`, default
 *   1m, so holdMinutes calls), and count afresh. The N-th call at a stage is approved, the (N-1)-th is held.
 * - a new checksum is a new revision: it is armed by its `pre-rollout` call.
 *
 * Production `10:60,50:120,100:180` therefore needs exactly 1 + 60 + 120 + 180 = 361 confirm calls after the
 * pre-rollout call: call 1 approves 0 → 10 %, call 61 approves 10 → 50 %, call 181 approves 50 → 100 %, call 361
 * approves promotion; the other 357 are held. Each confirm call follows one successful one-minute check, so Flagger
 * runs 60 checks at 10 %, 120 at 50 % and 180 at 100 % before promoting: exactly the expanded schedule.
 *
 * Restarts. The state is in memory (one replica), so a restart loses it. Flagger's payload does not carry the
 * weight, so a confirm call for a revision that was never armed (the gate restarted after its pre-rollout call, or
 * the revision is analysed again after promotion) cannot be placed in the schedule. Approving it as a "first step"
 * would skip the rest of the current stage and shift every later hold by one stage (a 50 % stage held for the 10 %
 * stage's 60 checks). Instead such a revision is "resumed": EVERY remaining step, promotion included, is held for
 * the LONGEST stage's calls. Each stage is then held at least its holdMinutes: a restart only lengthens holds.
 */
import { LruCache } from "../server/lru-cache";

export interface HoldStage {
  readonly weight: number;
  readonly holdMinutes: number;
}

export interface HoldSchedule {
  readonly stages: readonly HoldStage[];
  /** Seconds between Flagger's calls (the analysis interval). */
  readonly intervalSeconds: number;
}

/** A problem with the request, named by field (`metadata.schedule[1].weight`). */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: FieldProblem };

const bad = (field: string, message: string): Parsed<never> => ({ ok: false, problem: { field, message } });

const INTEGER = /^[0-9]+$/;
const DURATION = /^([0-9]+)(s|m|h)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;

/** Parses `metadata.schedule` (`weight:holdMinutes,...`) and `metadata.interval` (`1m`, default). Pure. */
export function parseSchedule(metadata: Readonly<Record<string, unknown>> | undefined): Parsed<HoldSchedule> {
  const text = metadata?.["schedule"];
  if (typeof text !== "string" || text.trim() === "") {
    return bad("metadata.schedule", 'metadata.schedule must be a string "weight:holdMinutes,..." such as "10:60,50:120,100:180"');
  }
  const stages: HoldStage[] = [];
  const parts = text.split(",");
  for (let i = 0; i < parts.length; i++) {
    const field = `metadata.schedule[${i}]`;
    const pair = (parts[i] as string).trim().split(":");
    if (pair.length !== 2) return bad(field, `${field} must be "weight:holdMinutes", found "${parts[i]}"`);
    const [w, h] = pair.map((p) => p.trim()) as [string, string];
    const weight = INTEGER.test(w) ? Number(w) : NaN;
    if (!(weight >= 1 && weight <= 100)) return bad(`${field}.weight`, `${field}.weight must be an integer from 1 to 100, found "${w}"`);
    const previous = stages[i - 1];
    if (previous && weight <= previous.weight) {
      return bad(`${field}.weight`, `${field}.weight must be greater than the previous stage's weight ${previous.weight}, found ${weight}`);
    }
    const holdMinutes = INTEGER.test(h) ? Number(h) : NaN;
    if (!(Number.isSafeInteger(holdMinutes) && holdMinutes >= 1)) {
      return bad(`${field}.holdMinutes`, `${field}.holdMinutes must be an integer >= 1, found "${h}"`);
    }
    stages.push({ weight, holdMinutes });
  }
  const interval = metadata?.["interval"];
  let intervalSeconds = 60;
  if (interval !== undefined) {
    const m = typeof interval === "string" ? DURATION.exec(interval.trim()) : null;
    const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] : 0;
    if (!(seconds >= 1)) return bad("metadata.interval", `metadata.interval must be a duration such as 1m, 30s or 1h, found ${JSON.stringify(interval)}`);
    intervalSeconds = seconds;
  }
  return { ok: true, value: { stages, intervalSeconds } };
}

/** `metadata.hook`: which webhook of the Canary called. */
export function parseHook(metadata: Readonly<Record<string, unknown>> | undefined): Parsed<HoldHook> {
  const hook = metadata?.["hook"];
  return (HOOKS as readonly unknown[]).includes(hook)
    ? { ok: true, value: hook as HoldHook }
    : bad("metadata.hook", `metadata.hook must be one of ${HOOKS.join(", ")}, found ${JSON.stringify(hook)}`);
}

/** Calls needed at a stage: one per interval over its hold (`holdMinutes` at a one-minute interval). */
export function requiredCalls(stage: HoldStage, intervalSeconds: number): number {
  return Math.max(1, Math.ceil((stage.holdMinutes * 60) / intervalSeconds));
}

/** What the gate remembers about one canary. */
export interface HoldState {
  readonly checksum: string;
  /**
   * Steps approved for this revision: 0 = canary at 0 %, k = at stage k (1-based), stages + 1 = promoted; or
   * "resumed" when the revision was not armed by a pre-rollout call (position unknown).
   */
  readonly approvals: number | "resumed";
  /** Confirm calls since the last approval (the current call not included). */
  readonly calls: number;
}

export const HOOKS = ["pre-rollout", "confirm-traffic-increase", "confirm-promotion"] as const;
export type HoldHook = (typeof HOOKS)[number];

export interface HoldDecision {
  readonly approve: boolean;
  /** 0-based stage the canary is at when called, -1 at 0 % (or pre-rollout), null when resumed (unknown). */
  readonly stage: number | null;
  /** Confirm calls at this stage including this one, and how many the stage needs. */
  readonly calls: number;
  readonly required: number;
  /** What an approval lets Flagger do: `start`, `increase to W %`, `promote` or `next step` (resumed). */
  readonly step: string;
  readonly next: HoldState;
}

/**
 * One call of a hook: the decision and the state after it. Pure. `previous` is the remembered state of this canary
 * (any revision), undefined when there is none.
 */
export function decide(previous: HoldState | undefined, checksum: string, hook: HoldHook, schedule: HoldSchedule): HoldDecision {
  const n = schedule.stages.length;
  if (hook === "pre-rollout") {
    return { approve: true, stage: -1, calls: 0, required: 0, step: "start", next: { checksum, approvals: 0, calls: 0 } };
  }
  const known = previous !== undefined && previous.checksum === checksum;
  const approvals = known && previous.approvals !== "resumed" && previous.approvals <= n ? previous.approvals : "resumed";
  const calls = (known && previous.approvals === approvals ? previous.calls : 0) + 1;
  if (approvals === "resumed") {
    const required = Math.max(...schedule.stages.map((s) => requiredCalls(s, schedule.intervalSeconds)));
    const approve = calls >= required;
    return { approve, stage: null, calls, required, step: "next step", next: { checksum, approvals: "resumed", calls: approve ? 0 : calls } };
  }
  const step = approvals < n ? `increase to ${schedule.stages[approvals]?.weight} %` : "promote";
  if (approvals === 0) {
    return { approve: true, stage: -1, calls: 1, required: 1, step, next: { checksum, approvals: 1, calls: 0 } };
  }
  const stage = approvals - 1;
  const required = requiredCalls(schedule.stages[stage] as HoldStage, schedule.intervalSeconds);
  const approve = calls >= required;
  return {
    approve,
    stage,
    calls,
    required,
    step,
    next: approve ? { checksum, approvals: approvals + 1, calls: 0 } : { checksum, approvals, calls },
  };
}

/** The webhook payload Flagger posts (fluxcd/flagger `CanaryWebhookPayload`). */
export interface HoldRequest {
  readonly name: string;
  readonly namespace: string;
  readonly phase?: string;
  readonly checksum?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export type HoldAnswer =
  | { readonly ok: true; readonly canary: string; readonly decision: Omit<HoldDecision, "next"> }
  | { readonly ok: false; readonly canary: string; readonly problem: FieldProblem };

/** The gate's memory: one `HoldState` per canary, least recently called dropped beyond `capacity`. */
export class HoldGate {
  private readonly states: LruCache<string, HoldState>;

  constructor(readonly capacity = 1024) {
    this.states = new LruCache(capacity);
  }

  get size(): number {
    return this.states.size;
  }

  /** Answers one hook call and remembers the result. A bad schedule changes no state. */
  call(req: HoldRequest): HoldAnswer {
    const canary = `${req.namespace}/${req.name}`;
    const schedule = parseSchedule(req.metadata);
    if (!schedule.ok) return { ok: false, canary, problem: schedule.problem };
    const hook = parseHook(req.metadata);
    if (!hook.ok) return { ok: false, canary, problem: hook.problem };
    const { next, ...decision } = decide(this.states.get(canary), req.checksum ?? "", hook.value, schedule.value);
    this.states.set(canary, next);
    return { ok: true, canary, decision };
  }
}
