/**
 * The fast signature path: native addon (ZIP-215, ed25519-zebra) in a worker pool, behind a batcher.
 *
 *   createSignatureBackend({ useRust, batchVerify, threads, maxBatchItems, maxBatchWaitMicros })
 *
 * useRust=false or addon not built -> noble (pure TypeScript), in process, as before.
 * threads=0                        -> native in process (batch equation when batchVerify, else single).
 * threads>=1                       -> VerifyPool of native workers; with batchVerify, a BatchingVerifier in front
 *                                     coalesces concurrent calls (N items or T us) and workers use the batch equation;
 *                                     without it, each call goes straight to a worker, which verifies item by item.
 * Every combination follows the same ZIP-215 rule (test/poi/equivalence.test.ts).
 */
import { availableParallelism } from "node:os";
import { nobleVerifier, type SignatureVerifier } from "../signature";
import { BatchingVerifier } from "./batcher";
import { loadNativeVerifier, nativeVerifier, type NativeAddon } from "./native";
import { VerifyPool } from "./pool";

export * from "./batcher";
export * from "./native";
export * from "./pool";

export interface FastBackendOptions {
  /** Use the native addon when it is built (default true). */
  readonly useRust?: boolean;
  /** Batch verification and request coalescing (default true). */
  readonly batchVerify?: boolean;
  /** Worker threads; 0 = verify on the calling thread (default: os.availableParallelism()). */
  readonly threads?: number;
  /** A batch closes at this many items (default 256). */
  readonly maxBatchItems?: number;
  /** ... or this many microseconds after its first item (default 200). */
  readonly maxBatchWaitMicros?: number;
}

export interface FastBackend {
  readonly backend: SignatureVerifier;
  /** "noble" | "native" | "pool". */
  readonly kind: "noble" | "native" | "pool";
  readonly native: NativeAddon | null;
  /** Why the fast path is not in use, when it is not. */
  readonly fallbackReason?: string;
  /** Resolves when workers are up (immediately for in-process backends). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export function createSignatureBackend(options: FastBackendOptions = {}): FastBackend {
  const useRust = options.useRust ?? true;
  const batch = options.batchVerify ?? true;
  const native = loadNativeVerifier(useRust);
  if (native === null) {
    return {
      backend: nobleVerifier,
      kind: "noble",
      native: null,
      fallbackReason: useRust ? "native addon not built (run: bash node-app/native/build.sh)" : "BIZRA_USE_RUST=false",
      ready: Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }
  const local = nativeVerifier(native, { batch });
  const threads = Math.max(0, Math.floor(options.threads ?? availableParallelism()));
  if (threads === 0) {
    const backend = batch
      ? new BatchingVerifier(local, { maxItems: options.maxBatchItems ?? 256, maxWaitMicros: options.maxBatchWaitMicros ?? 200 })
      : local;
    return { backend, kind: "native", native, ready: Promise.resolve(), close: () => Promise.resolve() };
  }
  const pool = new VerifyPool({ threads, engine: "native", batch, local });
  const backend = batch
    ? new BatchingVerifier(pool, { maxItems: options.maxBatchItems ?? 256, maxWaitMicros: options.maxBatchWaitMicros ?? 200 })
    : pool;
  return { backend, kind: "pool", native, ready: pool.ready, close: () => pool.close() };
}
