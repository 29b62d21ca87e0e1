/**
 * Attestation verification: single and batch share ONE path (`verifyBatch`), so they cannot disagree.
 *
 * Order of checks for each item, first failure wins:
 *   1. malformed / unsupported_version  the encoding or signature bytes are not canonical
 *   2. unknown_validator                the validator id has no registered public key
 *   3. stale                            the timestamp is outside the replay window (see replay.ts)
 *   4. bad_signature                    Ed25519 over BLAKE3(encoding) fails the ZIP-215 rule
 *   5. replayed                         (validatorId, nonce) was already accepted; checked last so that
 *                                       forged items cannot burn nonces of honest validators
 * Items of one batch are admitted in input order: a duplicate later in the batch is "replayed".
 */
import { blake3 } from "@noble/hashes/blake3.js";
import type { RejectReason } from "../contract";
import {
  AttestationFormatError,
  attestationDigest,
  decodeAttestation,
  encodeAttestation,
  type Attestation,
} from "./attestation";
import { concatBytes, toHex } from "./bytes";
import { ReplayWindow } from "./replay";
import {
  nobleVerifier,
  publicKeyOf,
  signMessage,
  SIGNATURE_LENGTH,
  type SignatureItem,
  type SignatureVerifier,
} from "./signature";

/** A submitted attestation: its canonical encoding and the Ed25519 signature over BLAKE3(encoding). */
export interface SignedAttestation {
  readonly encoding: Uint8Array;
  readonly signature: Uint8Array;
}

export type VerifyResult =
  | { readonly ok: true; readonly attestation: Attestation; readonly digest: Uint8Array }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/** Looks up a validator's 32-byte Ed25519 public key. */
export type PublicKeyLookup = (validatorId: string) => Uint8Array | undefined;

/** Optional memo of signature outcomes; keys already bind public key, signature and encoding. */
export interface SignatureCache {
  get(key: string): boolean | undefined;
  set(key: string, valid: boolean): void;
}

export interface AttestationVerifierOptions {
  readonly publicKeyOf: PublicKeyLookup;
  readonly replay?: ReplayWindow;
  readonly backend?: SignatureVerifier;
  readonly cache?: SignatureCache;
  /** Clock in Unix milliseconds (injectable for tests). */
  readonly now?: () => number;
}

export class AttestationVerifier {
  readonly replay: ReplayWindow;
  readonly backend: SignatureVerifier;
  private readonly lookup: PublicKeyLookup;
  private readonly cache: SignatureCache | undefined;
  private readonly now: () => number;

  constructor(options: AttestationVerifierOptions) {
    this.lookup = options.publicKeyOf;
    this.replay = options.replay ?? new ReplayWindow();
    this.backend = options.backend ?? nobleVerifier;
    this.cache = options.cache;
    this.now = options.now ?? Date.now;
  }

  async verify(item: SignedAttestation): Promise<VerifyResult> {
    const [result] = await this.verifyBatch([item]);
    return result as VerifyResult;
  }

  /** One result per item, in order; never a single verdict for the batch. */
  async verifyBatch(items: readonly SignedAttestation[]): Promise<VerifyResult[]> {
    const now = this.now();
    const results: (VerifyResult | undefined)[] = new Array(items.length);
    const pending: { index: number; attestation: Attestation; digest: Uint8Array; cacheKey: string }[] = [];
    const toCheck: SignatureItem[] = [];
    const toCheckIndex: number[] = [];
    const sigValid = new Map<number, boolean>();

    items.forEach((item, index) => {
      const pre = this.precheck(item, now);
      if (!pre.ok) {
        results[index] = pre;
        return;
      }
      const { attestation, publicKey } = pre;
      const digest = attestationDigest(item.encoding);
      const cacheKey = toHex(blake3(concatBytes(publicKey, item.signature, item.encoding)));
      pending.push({ index, attestation, digest, cacheKey });
      const cached = this.cache?.get(cacheKey);
      if (cached !== undefined) {
        sigValid.set(index, cached);
      } else {
        toCheck.push({ publicKey, message: digest, signature: item.signature });
        toCheckIndex.push(index);
      }
    });

    if (toCheck.length > 0) {
      const outcomes = await this.backend.verifyMany(toCheck);
      if (outcomes.length !== toCheck.length) throw new Error("signature backend returned the wrong number of results");
      outcomes.forEach((valid, k) => sigValid.set(toCheckIndex[k] as number, valid === true));
    }

    const admitAt = this.now();
    for (const p of pending) {
      const valid = sigValid.get(p.index) === true;
      this.cache?.set(p.cacheKey, valid);
      if (!valid) {
        results[p.index] = { ok: false, reason: "bad_signature", detail: "Ed25519 (ZIP-215) verification failed" };
        continue;
      }
      const verdict = this.replay.admit(p.attestation.validatorId, p.attestation.nonce, p.attestation.timestampMs, admitAt);
      results[p.index] =
        verdict === "ok"
          ? { ok: true, attestation: p.attestation, digest: p.digest }
          : { ok: false, reason: verdict, detail: verdict === "stale" ? "timestamp outside the replay window" : "nonce already used" };
    }
    return results as VerifyResult[];
  }

  private precheck(
    item: SignedAttestation,
    now: number,
  ): { ok: true; attestation: Attestation; publicKey: Uint8Array } | Extract<VerifyResult, { ok: false }> {
    let attestation: Attestation;
    try {
      attestation = decodeAttestation(item.encoding);
    } catch (e) {
      if (e instanceof AttestationFormatError) return { ok: false, reason: e.reason, detail: e.message };
      throw e;
    }
    if (!(item.signature instanceof Uint8Array) || item.signature.length !== SIGNATURE_LENGTH) {
      return { ok: false, reason: "malformed", detail: `signature must be ${SIGNATURE_LENGTH} bytes` };
    }
    const publicKey = this.lookup(attestation.validatorId);
    if (publicKey === undefined) {
      return { ok: false, reason: "unknown_validator", detail: `validator ${attestation.validatorId} is not registered` };
    }
    if (this.replay.peek(attestation.validatorId, attestation.nonce, attestation.timestampMs, now) === "stale") {
      return { ok: false, reason: "stale", detail: "timestamp outside the replay window" };
    }
    return { ok: true, attestation, publicKey };
  }
}

export interface IssuedAttestation extends SignedAttestation {
  readonly attestation: Attestation;
  readonly digest: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Encodes `attestation` canonically and signs BLAKE3(encoding) with Ed25519 (RFC 8032, deterministic). */
export function signAttestation(attestation: Attestation, secretKey: Uint8Array): IssuedAttestation {
  const encoding = encodeAttestation(attestation);
  const digest = attestationDigest(encoding);
  return { attestation, encoding, digest, signature: signMessage(secretKey, digest), publicKey: publicKeyOf(secretKey) };
}
