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
import type { RejectReason } from "@bizra/contract";
import {
  AttestationFormatError,
  attestationDigest,
  decodeAttestation,
  encodeAttestation,
  type Attestation,
} from "./attestation";
import { ReplayWindow, type ReplayGuard, type ReplayItem } from "./replay";
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

/** BLAKE3-256 of each encoding, in order (the messages that Ed25519 signs). */
export type DigestBatch = (encodings: readonly Uint8Array[]) => Uint8Array[];

/** The pure TypeScript digest (@noble/hashes BLAKE3), the default; a faster one with the same bytes is passed in. */
export const jsDigests: DigestBatch = (encodings) => encodings.map(attestationDigest);

/**
 * Optional memo of signature outcomes. Keys bind public key, signature and the BLAKE3 digest of the encoding (a
 * binary string of their 128 bytes), hence the encoding itself.
 */
export interface SignatureCache {
  get(key: string): boolean | undefined;
  set(key: string, valid: boolean): void;
}

export interface AttestationVerifierOptions {
  readonly publicKeyOf: PublicKeyLookup;
  /** This process's window (default) or a store shared by all replicas. */
  readonly replay?: ReplayGuard;
  /** Signature checks (default: noble, ZIP-215); the process entry point chooses a faster one (main.ts). */
  readonly backend?: SignatureVerifier;
  readonly cache?: SignatureCache;
  /** BLAKE3 of the encodings when the backend does not hash them itself (default: `jsDigests`; same bytes either way). */
  readonly digests?: DigestBatch;
  /** Clock in Unix milliseconds (injectable for tests). */
  readonly now?: () => number;
}

export class AttestationVerifier {
  readonly replay: ReplayGuard;
  readonly backend: SignatureVerifier;
  private readonly lookup: PublicKeyLookup;
  private readonly cache: SignatureCache | undefined;
  private readonly now: () => number;
  readonly digests: DigestBatch;

  constructor(options: AttestationVerifierOptions) {
    this.lookup = options.publicKeyOf;
    this.replay = options.replay ?? new ReplayWindow();
    this.backend = options.backend ?? nobleVerifier;
    this.cache = options.cache;
    this.now = options.now ?? Date.now;
    this.digests = options.digests ?? jsDigests;
    // Hash-and-verify in the backend (native: BLAKE3 + ZIP-215 in one addon call, in the workers for a pool) when it
    // offers it and nothing needs the digests first (no signature cache).
    this.encoded = options.cache === undefined && typeof this.backend.verifyEncoded === "function";
  }

  /** True when signatures are checked through the backend's `verifyEncoded` (digests computed there). */
  readonly encoded: boolean;

  async verify(item: SignedAttestation): Promise<VerifyResult> {
    const [result] = await this.verifyBatch([item]);
    return result as VerifyResult;
  }

  /** One result per item, in order; never a single verdict for the batch. */
  async verifyBatch(items: readonly SignedAttestation[]): Promise<VerifyResult[]> {
    const now = this.now();
    const n = items.length;
    const results: VerifyResult[] = new Array<VerifyResult>(n);
    const idx: number[] = [];
    const atts: Attestation[] = [];
    const keys: Uint8Array[] = [];
    const encodings: Uint8Array[] = [];

    for (let index = 0; index < n; index++) {
      const item = items[index] as SignedAttestation;
      const pre = this.precheck(item, now);
      if (pre.ok) {
        idx.push(index);
        atts.push(pre.attestation);
        keys.push(pre.publicKey);
        encodings.push(item.encoding);
      } else {
        results[index] = pre;
      }
    }
    const m = idx.length;
    if (m === 0) return results;
    if (this.encoded) {
      const signatures: Uint8Array[] = new Array<Uint8Array>(m);
      for (let k = 0; k < m; k++) signatures[k] = (items[idx[k] as number] as SignedAttestation).signature;
      const out = await (this.backend.verifyEncoded as NonNullable<SignatureVerifier["verifyEncoded"]>)({ keys, signatures, encodings });
      if (out.digests.length !== m || out.verdicts.length !== m) throw new Error("signature backend returned the wrong number of results");
      await this.admit(results, idx, atts, out.digests, (k) => out.verdicts[k] === 1);
      return results;
    }

    const digests = this.digests(encodings);
    if (digests.length !== m) throw new Error("digest function returned the wrong number of digests");
    const valid: boolean[] = new Array<boolean>(m);
    const cacheKeys: string[] | undefined = this.cache === undefined ? undefined : new Array<string>(m);
    const toCheck: SignatureItem[] = [];
    const toCheckAt: number[] = [];
    for (let k = 0; k < m; k++) {
      const signature = (items[idx[k] as number] as SignedAttestation).signature;
      const digest = digests[k] as Uint8Array;
      if (cacheKeys !== undefined) {
        const key = cacheKeyOf(keys[k] as Uint8Array, signature, digest);
        cacheKeys[k] = key;
        const cached = this.cache?.get(key);
        if (cached !== undefined) {
          valid[k] = cached;
          continue;
        }
      }
      toCheck.push({ publicKey: keys[k] as Uint8Array, message: digest, signature });
      toCheckAt.push(k);
    }

    if (toCheck.length > 0) {
      const outcomes = await this.backend.verifyMany(toCheck);
      if (outcomes.length !== toCheck.length) throw new Error("signature backend returned the wrong number of results");
      for (let j = 0; j < outcomes.length; j++) valid[toCheckAt[j] as number] = outcomes[j] === true;
    }

    if (cacheKeys !== undefined) for (let k = 0; k < m; k++) this.cache?.set(cacheKeys[k] as string, valid[k] === true);
    await this.admit(results, idx, atts, digests, (k) => valid[k] === true);
    return results;
  }

  /** Signature verdicts -> results; the replay guard admits only items whose signature passed, in input order. */
  private async admit(
    results: VerifyResult[],
    idx: readonly number[],
    atts: readonly Attestation[],
    digests: readonly Uint8Array[],
    valid: (k: number) => boolean,
  ): Promise<void> {
    const admitAt = this.now();
    const passed: number[] = [];
    const items: ReplayItem[] = [];
    for (let k = 0; k < idx.length; k++) {
      if (!valid(k)) {
        results[idx[k] as number] = { ok: false, reason: "bad_signature", detail: "Ed25519 (ZIP-215) verification failed" };
        continue;
      }
      const a = atts[k] as Attestation;
      passed.push(k);
      items.push({ validatorId: a.validatorId, nonce: a.nonce, timestampMs: a.timestampMs });
    }
    if (items.length === 0) return;
    const verdicts = await this.replay.admitMany(items, admitAt);
    if (verdicts.length !== items.length) throw new Error("replay guard returned the wrong number of verdicts");
    for (let j = 0; j < passed.length; j++) {
      const k = passed[j] as number;
      const verdict = verdicts[j];
      results[idx[k] as number] =
        verdict === "ok"
          ? { ok: true, attestation: atts[k] as Attestation, digest: digests[k] as Uint8Array }
          : { ok: false, reason: verdict === "replayed" ? "replayed" : "stale", detail: verdict === "replayed" ? "nonce already used" : "timestamp outside the replay window" };
    }
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

/**
 * Encodes `attestation` canonically and signs BLAKE3(encoding) with Ed25519 (RFC 8032, deterministic; OpenSSL via
 * node:crypto, same bytes as @noble/ed25519). `digests` as for `AttestationVerifier` (default: `jsDigests`).
 */
export function signAttestation(attestation: Attestation, secretKey: Uint8Array, digests: DigestBatch = jsDigests): IssuedAttestation {
  const encoding = encodeAttestation(attestation);
  const [hashed] = digests([encoding]);
  if (hashed === undefined) throw new Error("digest function returned no digest");
  const digest = hashed.slice(); // a batch function may return views into one shared buffer
  return { attestation, encoding, digest, signature: signMessage(secretKey, digest), publicKey: publicKeyOf(secretKey) };
}

/** Cache key: public key, signature and digest as one 128-character binary string. */
function cacheKeyOf(publicKey: Uint8Array, signature: Uint8Array, digest: Uint8Array): string {
  return Buffer.concat([publicKey, signature, digest]).toString("latin1");
}
