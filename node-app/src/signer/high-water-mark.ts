/**
 * The signer's high-water mark: the last (epoch, slot) it signed and exactly what it signed there.
 *
 * Rule for a request (epoch, slot, payloadDigest), with `mark` the persisted record (CometBFT's
 * priv_validator_state.json, with (epoch, slot) for (height, round, step)):
 *   no mark, or (epoch, slot) > (mark.epoch, mark.slot)  -> advance: persist the new record, THEN sign it
 *   (epoch, slot) = mark's and same payloadDigest        -> repeat: re-sign the stored record (same bytes, same
 *                                                           signature: Ed25519 is deterministic)
 *   (epoch, slot) = mark's and another payloadDigest     -> refuse "double_sign"
 *   (epoch, slot) < mark's                               -> refuse "slot_regression"
 * Order is lexicographic: epoch first, then slot.
 */
import type { Attestation } from "../poi/attestation";
import { ATTESTATION_VERSION } from "../poi/attestation";
import { fromHex, toHex } from "../poi/bytes";

/** What the signer signed last; stored as JSON (hex strings), so it reads the same in a file and a Lease annotation. */
export interface SignRecord {
  readonly epoch: number;
  readonly slot: number;
  readonly payloadDigest: string;
  readonly nonce: string;
  readonly timestampMs: number;
}

export type Decision =
  | { readonly kind: "advance" }
  | { readonly kind: "repeat"; readonly record: SignRecord }
  | { readonly kind: "refuse"; readonly reason: "double_sign" | "slot_regression"; readonly detail: string };

export function decide(mark: SignRecord | undefined, epoch: number, slot: number, payloadDigest: string): Decision {
  if (mark === undefined || epoch > mark.epoch || (epoch === mark.epoch && slot > mark.slot)) return { kind: "advance" };
  if (epoch === mark.epoch && slot === mark.slot) {
    if (payloadDigest === mark.payloadDigest) return { kind: "repeat", record: mark };
    return {
      kind: "refuse",
      reason: "double_sign",
      detail: `epoch ${epoch} slot ${slot} is already signed for another payload (digest ${mark.payloadDigest.slice(0, 16)}…)`,
    };
  }
  return {
    kind: "refuse",
    reason: "slot_regression",
    detail: `epoch ${epoch} slot ${slot} is below the high-water mark (epoch ${mark.epoch} slot ${mark.slot})`,
  };
}

const HEX32 = /^[0-9a-f]{64}$/;
const HEX16 = /^[0-9a-f]{32}$/;

/** Parses a stored record, or throws naming the bad field (a corrupt mark must stop signing, never reset it). */
export function parseRecord(json: unknown, source: string): SignRecord {
  const r = json as Partial<Record<keyof SignRecord, unknown>>;
  const u53 = (k: "epoch" | "slot" | "timestampMs") => {
    const v = r?.[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new Error(`${source}: ${k} must be an integer in [0, 2^53-1]`);
    return v;
  };
  if (typeof r !== "object" || r === null) throw new Error(`${source}: must be a JSON object`);
  if (typeof r.payloadDigest !== "string" || !HEX32.test(r.payloadDigest)) throw new Error(`${source}: payloadDigest must be 64 hex digits`);
  if (typeof r.nonce !== "string" || !HEX16.test(r.nonce)) throw new Error(`${source}: nonce must be 32 hex digits`);
  return { epoch: u53("epoch"), slot: u53("slot"), payloadDigest: r.payloadDigest, nonce: r.nonce, timestampMs: u53("timestampMs") };
}

export function recordOf(a: Attestation): SignRecord {
  return { epoch: a.epoch, slot: a.slot, payloadDigest: toHex(a.payloadDigest), nonce: toHex(a.nonce), timestampMs: a.timestampMs };
}

export function attestationOf(validatorId: string, r: SignRecord): Attestation {
  return {
    version: ATTESTATION_VERSION,
    validatorId,
    epoch: r.epoch,
    slot: r.slot,
    payloadDigest: fromHex(r.payloadDigest),
    nonce: fromHex(r.nonce),
    timestampMs: r.timestampMs,
  };
}

/**
 * Where the mark lives. `commit` is compare-and-swap: it replaces `expected` by `next` only if `expected` is still
 * the stored mark and this process may sign, and throws StateConflictError otherwise (nothing is signed then).
 */
export interface SignerStateStore {
  readonly kind: string;
  /** Starts election or locking; resolves once the store can answer `current`. */
  start(): Promise<void>;
  /** True while this process is the one active signer. */
  isActive(): boolean;
  /** Who is active, for the refusal message (may be undefined). */
  activeHolder(): string | undefined;
  /** The stored mark as last read or written by this process. */
  current(): Promise<SignRecord | undefined>;
  commit(expected: SignRecord | undefined, next: SignRecord): Promise<void>;
  /** Stops election (releasing what it holds) and timers. */
  close(): Promise<void>;
}

export class StateConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateConflictError";
  }
}

export class NotSignerError extends Error {
  constructor(readonly holder: string | undefined) {
    super(holder === undefined ? "this process is not the active signer" : `this process is not the active signer (${holder} is)`);
    this.name = "NotSignerError";
  }
}

export const sameRecord = (a: SignRecord | undefined, b: SignRecord | undefined): boolean =>
  a === b ||
  (a !== undefined && b !== undefined && a.epoch === b.epoch && a.slot === b.slot && a.payloadDigest === b.payloadDigest && a.nonce === b.nonce && a.timestampMs === b.timestampMs);
