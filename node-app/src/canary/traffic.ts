/**
 * Realistic canary traffic, as the load tester sends it during an analysis: each round signs a fresh attestation
 * locally (a new nonce and slot every time) with the load tester's own validator key and has the node verify it once
 * (`POST /v1/attestations/verify`); every `invalidEvery`-th verification of each target carries a corrupted signature; and it asks
 * the finality of a block (`GET /v1/consensus/finality/<hash>`, as clients poll it; 404 for a block without votes). No
 * attestation is verified twice, so the replay window never fires and the verify cache never hits, as with honest
 * clients. Paced at `ratePerSecond` rounds, bounded by `durationMs` and the abort signal.
 *
 * The load tester never asks the node to sign: signing is the signer's alone, behind its token. Its key is a test
 * validator's, an entry of the test stack's validator set only (`bizra:canary.loadTester.validatorId`); a set
 * without that entry answers every round `unknown_validator`, which the counts report as wrong verdicts.
 */
import { randomBytes } from "node:crypto";
import { ROUTES } from "@bizra/contract";
import { ATTESTATION_VERSION, NONCE_LENGTH, payloadDigest, VALIDATOR_ID_PATTERN } from "../poi/attestation";
import { toHex } from "../poi/bytes";
import { SECRET_KEY_LENGTH } from "../poi/signature";
import { signAttestation } from "../poi/verify";

export interface TrafficOptions {
  /** Base URLs of the node API (`http://host:port`); rounds go to each in turn. */
  readonly targets: readonly string[];
  /** Sign+verify rounds per second over all targets. */
  readonly ratePerSecond: number;
  readonly durationMs: number;
  /** Every N-th verification of each target has a corrupted signature (N >= 2). */
  readonly invalidEvery: number;
  /** The test validator the attestations are signed as: its id in the validator set and its 32-byte Ed25519 seed. */
  readonly validator: { readonly id: string; readonly secretKey: Uint8Array };
  readonly requestTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface TrafficStats {
  rounds: number;
  /** Verifications answered `valid: true`. */
  valid: number;
  /** Verifications of a corrupted signature answered `valid: false` (as they must). */
  rejected: number;
  /** Attestations signed locally (one per round). */
  signed: number;
  /** Finality queries answered (200, or 404 for a block without votes). */
  finalityChecks: number;
  /** Answers by status code, all routes. */
  status: Record<string, number>;
  /** Requests that got no HTTP answer (refused, timed out). */
  transportErrors: number;
  /** Verifications whose answer was not the expected one (a valid one refused or a corrupted one accepted). */
  wrongVerdicts: number;
  /** The first few wrong verdicts' answers and transport errors, for the log. */
  wrongSamples: unknown[];
}

/** Default share of corrupted signatures: one in 200 (0.5 %). */
export const DEFAULT_INVALID_EVERY = 200;

export function trafficProblem(o: Pick<TrafficOptions, "targets" | "ratePerSecond" | "durationMs" | "invalidEvery" | "validator">): string | undefined {
  if (o.targets.length === 0) return "targets: at least one URL";
  for (const t of o.targets) {
    try {
      const u = new URL(t);
      if (u.protocol !== "http:" && u.protocol !== "https:") return `targets: ${t} is not an http(s) URL`;
    } catch {
      return `targets: ${t} is not a URL`;
    }
  }
  if (!(o.ratePerSecond > 0 && o.ratePerSecond <= 10_000)) return `ratePerSecond: got ${o.ratePerSecond}, allowed: > 0 and <= 10000`;
  if (!(Number.isInteger(o.durationMs) && o.durationMs > 0)) return `durationMs: got ${o.durationMs}, allowed: a positive integer`;
  if (!(Number.isInteger(o.invalidEvery) && o.invalidEvery >= 2)) return `invalidEvery: got ${o.invalidEvery}, allowed: an integer >= 2`;
  if (!VALIDATOR_ID_PATTERN.test(o.validator.id)) return `validator.id: got ${JSON.stringify(o.validator.id)}, allowed: [A-Za-z0-9._-]{1,64}`;
  if (o.validator.secretKey.length !== SECRET_KEY_LENGTH) {
    return `validator.secretKey: got ${o.validator.secretKey.length} bytes, allowed: a ${SECRET_KEY_LENGTH}-byte Ed25519 seed`;
  }
  return undefined;
}

const flipLastHex = (sig: string) => sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");

export async function runTraffic(o: TrafficOptions): Promise<TrafficStats> {
  const problem = trafficProblem(o);
  if (problem) throw new RangeError(problem);
  const stats: TrafficStats = { rounds: 0, signed: 0, valid: 0, rejected: 0, finalityChecks: 0, status: {}, transportErrors: 0, wrongVerdicts: 0, wrongSamples: [] };
  const timeout = o.requestTimeoutMs ?? 5_000;
  // `json` is the node's answer as parsed; the verdict check below reads `valid` from it and nothing else
  const post = async (base: string, route: string, body?: unknown): Promise<{ status: number; json: { valid?: unknown } | undefined } | undefined> => {
    try {
      const res = await fetch(new URL(route, base), {
        method: body === undefined ? "GET" : "POST",
        ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeout),
      });
      stats.status[res.status] = (stats.status[res.status] ?? 0) + 1;
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as { valid?: unknown }) : undefined };
    } catch (err) {
      stats.transportErrors++;
      if (stats.wrongSamples.length < 3) stats.wrongSamples.push({ route, error: String((err as Error).cause ?? err) });
      return undefined;
    }
  };
  const start = Date.now();
  const periodMs = 1000 / o.ratePerSecond;
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; Date.now() - start < o.durationMs && !o.signal?.aborted; i++) {
    const due = start + i * periodMs;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const target = o.targets[i % o.targets.length] as string;
    // every N-th verification OF EACH TARGET: counted per target, so each (the canary too) gets its share of invalid
    // ones whatever the number of targets (a global count with an even N would give them all to one target)
    const corrupt = (Math.floor(i / o.targets.length) + 1) % o.invalidEvery === 0;
    const round = (async () => {
      const issued = signAttestation(
        {
          version: ATTESTATION_VERSION,
          validatorId: o.validator.id,
          epoch: 1,
          slot: i + 1,
          payloadDigest: payloadDigest(Buffer.from((i + 1).toString(16).padStart(8, "0"), "hex")),
          nonce: randomBytes(NONCE_LENGTH),
          timestampMs: Date.now(),
        },
        o.validator.secretKey,
      );
      stats.signed++;
      const encoding = toHex(issued.encoding);
      const signature = corrupt ? flipLastHex(toHex(issued.signature)) : toHex(issued.signature);
      const r = await post(target, ROUTES.attestationsVerify, { encoding, signature });
      const block = toHex(issued.digest);
      const f = await post(target, ROUTES.finality.replace(":blockHash", block));
      if (f?.status === 200 || f?.status === 404) stats.finalityChecks++;
      if (r?.status !== 200) return;
      if (r.json?.valid === true && !corrupt) stats.valid++;
      else if (r.json?.valid === false && corrupt) stats.rejected++;
      else {
        stats.wrongVerdicts++;
        if (stats.wrongSamples.length < 3) stats.wrongSamples.push({ corrupt, answer: r.json });
      }
    })().finally(() => {
      stats.rounds++;
      inFlight.delete(round);
    });
    inFlight.add(round);
  }
  await Promise.all(inFlight);
  return stats;
}
