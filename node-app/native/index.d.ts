/** BIZRA native Ed25519 verifier (ZIP-215 rules, ed25519-zebra). */
export interface NativeVerifier {
  /**
   * Single ZIP-215 verification. Wrong lengths (pubkey != 32, sig != 64) or a
   * malformed key give false. Throws TypeError only if an argument is not a
   * Buffer/Uint8Array.
   */
  verifyOne(pubkey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
  /**
   * Batch verification with per-item results: out[i] is 1 (valid) or 0 (invalid).
   * pubkeys: n*32 bytes concatenated; sigs: n*64 bytes concatenated;
   * msgs: an array of n messages of any length, or one Buffer of n concatenated
   * 32-byte digests (fast path). A failed batch is bisected, so an invalid item
   * never makes a valid one fail. Throws TypeError for mismatched lengths.
   * Inputs are read in place (no copy).
   */
  verifyBatch(pubkeys: Uint8Array, msgs: Uint8Array | Uint8Array[], sigs: Uint8Array): Uint8Array;
  /**
   * As verifyBatch, but runs on the libuv threadpool. Inputs are read in place:
   * do not mutate them until the promise settles. Rejects with TypeError for
   * mismatched lengths.
   */
  verifyBatchAsync(pubkeys: Uint8Array, msgs: Uint8Array | Uint8Array[], sigs: Uint8Array): Promise<Uint8Array>;
  /**
   * BLAKE3-256 (blake3 crate) of each data[offsets[i]..offsets[i+1]], written to out[32i..32i+32]
   * (n = offsets.length - 1). Throws TypeError for bad offsets or a wrong out length.
   */
  blake3Into(data: Uint8Array, offsets: Uint32Array, out: Uint8Array): void;
  /**
   * Attestation batch: digests[i] = BLAKE3(data[offsets[i]..offsets[i+1]]), verdicts[i] = 1 when the ZIP-215
   * signature sigs[i] by pubkeys[i] over digests[i] is valid (batch equation with bisection when batch, else
   * single verification), else 0.
   */
  verifyEncoded(
    pubkeys: Uint8Array,
    data: Uint8Array,
    offsets: Uint32Array,
    sigs: Uint8Array,
    digests: Uint8Array,
    verdicts: Uint8Array,
    batch: boolean,
  ): void;
  /**
   * The signature ceiling with no JavaScript in the loop: `threads` Rust threads verify `rounds` passes over the
   * items (n keys, n concatenated 32-byte digests, n signatures) in chunks of `chunk`, with the batch routine
   * `verifyBatch` uses (ZIP-215 batch equation, bisection on failure). Blocks the calling thread until done.
   */
  benchCeiling(
    pubkeys: Uint8Array,
    digests: Uint8Array,
    sigs: Uint8Array,
    threads: number,
    chunk: number,
    rounds: number,
  ): { items: number; valid: number; seconds: number };
  /** Build and CPU facts: crate versions, CPU features, and the curve25519-dalek backend chosen at run time. */
  backendInfo(): {
    crate: string;
    verifier: string;
    curve: string;
    /** The curve arithmetic that runs on this CPU: "avx512ifma", "avx2" or "serial". */
    curveBackend: "avx512ifma" | "avx2" | "serial";
    /** Whether this build contains the AVX-512 IFMA backend (build.sh compiles it in on x86_64). */
    avx512Compiled: boolean;
    arch: string;
    cpuAvx2: boolean;
    cpuAvx512Ifma: boolean;
    singleThreshold: number;
  };
  /** Absolute path of the loaded .node file. */
  readonly addonPath: string;
}

/**
 * Returns the native verifier, or null when BIZRA_USE_RUST is false/0/no/off
 * or the addon has not been built (node-app/native/bizra_native.node absent).
 */
export function loadNative(): NativeVerifier | null;

/** Where the loader looks for the addon. */
export const ADDON_PATH: string;

/** The environment variable (`BIZRA_REQUIRE_NATIVE`) that turns a missing addon from a test skip into a failure. */
export const REQUIRE_NATIVE_ENV: string;

/**
 * Why tests that need the addon cannot run, or null when it is loaded. Throws when BIZRA_REQUIRE_NATIVE=1 (set by
 * .ci/run), so CI fails where a developer without cargo gets a skip with this reason.
 */
export function nativeMissingReason(): string | null;
