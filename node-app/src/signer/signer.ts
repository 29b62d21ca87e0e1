/**
 * The signing path, small enough to audit in one reading. One request at a time per process:
 *   1. refuse unless this process is the active signer (store.isActive)
 *   2. decide against the stored high-water mark (high-water-mark.ts)
 *   3. advance: commit the new mark (compare-and-swap, persisted) and only then sign; repeat: re-sign the stored mark
 * A commit that loses a race (StateConflictError) re-reads the mark and decides again, once; a store that cannot be
 * reached refuses with state_unavailable. Nothing is ever signed without the mark that covers it being persisted.
 */
import { randomBytes } from "node:crypto";
import type { SignRefuseReason } from "@bizra/contract";
import { NONCE_LENGTH, payloadDigest } from "../poi/attestation";
import { toHex } from "../poi/bytes";
import { signAttestation, type DigestBatch, type IssuedAttestation } from "../poi/verify";
import { attestationOf, decide, NotSignerError, StateConflictError, type SignRecord, type SignerStateStore } from "./high-water-mark";

export interface SignRequest {
  readonly epoch: number;
  readonly slot: number;
  readonly payload: Uint8Array;
  readonly nonce?: Uint8Array | undefined;
  readonly timestampMs?: number | undefined;
}

export type SignOutcome =
  | { readonly ok: true; readonly issued: IssuedAttestation; readonly repeated: boolean }
  | { readonly ok: false; readonly reason: Exclude<SignRefuseReason, "unauthenticated" | "forbidden">; readonly detail: string };

export interface SignerOptions {
  readonly validatorId: string;
  readonly seed: () => Uint8Array;
  readonly store: SignerStateStore;
  /** A requested timestamp may differ from the local clock by at most this (the verifiers' allowed skew). */
  readonly maxClockSkewMs: number;
  /** BLAKE3 of the encodings (default: `jsDigests`; main.ts passes the native one when the addon is loaded). */
  readonly digests?: DigestBatch;
  readonly now?: () => number;
}

export class Signer {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: SignerOptions) {
    this.now = options.now ?? Date.now;
  }

  get store(): SignerStateStore {
    return this.options.store;
  }

  sign(request: SignRequest): Promise<SignOutcome> {
    const run = this.queue.then(() => this.signNow(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async signNow(request: SignRequest): Promise<SignOutcome> {
    const { store, maxClockSkewMs, validatorId } = this.options;
    const now = this.now();
    const timestampMs = request.timestampMs ?? now;
    if (Math.abs(timestampMs - now) > maxClockSkewMs) {
      return { ok: false, reason: "timestamp_out_of_range", detail: `timestampMs must be within ${maxClockSkewMs} ms of the signer's clock (${now})` };
    }
    const digest = toHex(payloadDigest(request.payload));
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!store.isActive()) return notSigner(store.activeHolder());
      let mark: SignRecord | undefined;
      try {
        mark = await store.current();
      } catch (err) {
        return { ok: false, reason: "state_unavailable", detail: (err as Error).message };
      }
      const d = decide(mark, request.epoch, request.slot, digest);
      if (d.kind === "refuse") return { ok: false, reason: d.reason, detail: d.detail };
      if (d.kind === "repeat") return { ok: true, issued: signAttestation(attestationOf(validatorId, d.record), this.options.seed(), this.options.digests), repeated: true };
      const next: SignRecord = {
        epoch: request.epoch,
        slot: request.slot,
        payloadDigest: digest,
        nonce: toHex(request.nonce ?? new Uint8Array(randomBytes(NONCE_LENGTH))),
        timestampMs,
      };
      try {
        await store.commit(mark, next);
      } catch (err) {
        if (err instanceof StateConflictError) continue;
        if (err instanceof NotSignerError) return notSigner(err.holder);
        return { ok: false, reason: "state_unavailable", detail: `cannot persist the high-water mark: ${(err as Error).message}` };
      }
      return { ok: true, issued: signAttestation(attestationOf(validatorId, next), this.options.seed(), this.options.digests), repeated: false };
    }
    return { ok: false, reason: "state_unavailable", detail: "the high-water mark kept changing under this signer; retry" };
  }
}

function notSigner(holder: string | undefined): SignOutcome {
  return { ok: false, reason: "not_signer", detail: holder ? `this process is not the active signer; ${holder} is` : "this process is not the active signer (no signer elected yet)" };
}
