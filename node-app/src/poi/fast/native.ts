/**
 * The native (Rust, ed25519-zebra, ZIP-215) signature backend, in process.
 *
 * `loadNativeVerifier()` returns the addon or null (not built, or BIZRA_USE_RUST=false); `nativeVerifier()` wraps it
 * as a `SignatureVerifier`: one `verifyBatch` call per `verifyMany` when batching is on (the addon bisects a failed
 * batch, so results are per item), one `verifyOne` per item otherwise. Items with wrong key or signature lengths are
 * answered `false` here and never reach the addon, so the addon's shape checks cannot throw.
 */
import * as path from "node:path";
import {
  PUBLIC_KEY_LENGTH,
  SIGNATURE_LENGTH,
  type EncodedBatch,
  type EncodedResult,
  type SignatureItem,
  type SignatureVerifier,
} from "../signature";
import type { NativeVerifier } from "../../../native";

/** The addon's API, declared once in node-app/native/index.d.ts. */
export type NativeAddon = NativeVerifier;

/** node-app/native (the loader `index.js`); the same relative path from src/poi/fast and dist/poi/fast. */
export const NATIVE_DIR = path.resolve(__dirname, "..", "..", "..", "native");
export const NATIVE_LOADER = path.join(NATIVE_DIR, "index.js");

/**
 * The addon, or null when it is not built or `enabled` is false. `enabled` defaults to the loader's own reading of
 * BIZRA_USE_RUST (false/0/no/off disable it).
 */
export function loadNativeVerifier(enabled = true): NativeAddon | null {
  if (!enabled) return null;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loader = require(NATIVE_LOADER) as { loadNative(): NativeAddon | null };
  return loader.loadNative();
}

/** True when the key and signature have the lengths the addon requires (anything else is simply invalid). */
export function wellFormed(i: SignatureItem): boolean {
  return (
    i.publicKey instanceof Uint8Array &&
    i.publicKey.length === PUBLIC_KEY_LENGTH &&
    i.signature instanceof Uint8Array &&
    i.signature.length === SIGNATURE_LENGTH &&
    i.message instanceof Uint8Array
  );
}

/** Indices of the items that `wellFormed` accepts. */
export function wellFormedIndex(items: readonly SignatureItem[]): number[] {
  const index: number[] = [];
  for (let i = 0; i < items.length; i++) if (wellFormed(items[i] as SignatureItem)) index.push(i);
  return index;
}

/** Packs well-formed items for one addon batch call: concatenated keys, signatures, and messages (32-byte fast path). */
export function packItems(items: readonly SignatureItem[]): {
  index: number[];
  pubkeys: Uint8Array;
  sigs: Uint8Array;
  msgs: Uint8Array | Uint8Array[];
} {
  const index = wellFormedIndex(items);
  const n = index.length;
  const pubkeys = new Uint8Array(n * 32);
  const sigs = new Uint8Array(n * 64);
  const all32 = index.every((i) => (items[i] as SignatureItem).message.length === 32);
  const msgs32 = all32 ? new Uint8Array(n * 32) : undefined;
  const msgList: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const it = items[index[k] as number] as SignatureItem;
    pubkeys.set(it.publicKey, k * 32);
    sigs.set(it.signature, k * 64);
    if (msgs32) msgs32.set(it.message, k * 32);
    else msgList.push(it.message);
  }
  return { index, pubkeys, sigs, msgs: msgs32 ?? msgList };
}

export interface NativeVerifierOptions {
  /** One batch call per verifyMany (true, default) or one single verification per item (false). */
  readonly batch?: boolean;
}

/**
 * Layout of one hash-and-verify batch in ONE buffer (offsets first, so the Uint32Array view is aligned):
 *   [(n+1) u32 offsets into data][n*32 keys][n*64 signatures][n*32 digests][n verdicts][data = the encodings]
 * The pool transfers this buffer to a worker and back (no copy); the worker's `verifyEncoded` reads keys,
 * signatures and encodings in place and writes digests and verdicts in place.
 */
export function encodedLayout(n: number, dataBytes: number): {
  keys: number;
  sigs: number;
  digests: number;
  verdicts: number;
  data: number;
  total: number;
} {
  const keys = 4 * (n + 1);
  const sigs = keys + 32 * n;
  const digests = sigs + 64 * n;
  const verdicts = digests + 32 * n;
  const data = verdicts + n;
  return { keys, sigs, digests, verdicts, data, total: data + dataBytes };
}

/** Packs items [from, to) of `batch` straight into one transferable buffer (see `encodedLayout`). */
export function packEncoded(batch: EncodedBatch, from: number, to: number): ArrayBuffer {
  const n = to - from;
  let dataBytes = 0;
  for (let i = from; i < to; i++) dataBytes += (batch.encodings[i] as Uint8Array).length;
  const L = encodedLayout(n, dataBytes);
  const buf = new ArrayBuffer(L.total);
  const u8 = new Uint8Array(buf);
  const offs = new Uint32Array(buf, 0, n + 1);
  let at = 0;
  for (let k = 0; k < n; k++) {
    const i = from + k;
    u8.set(batch.keys[i] as Uint8Array, L.keys + 32 * k);
    u8.set(batch.signatures[i] as Uint8Array, L.sigs + 64 * k);
    const e = batch.encodings[i] as Uint8Array;
    offs[k] = at;
    u8.set(e, L.data + at);
    at += e.length;
  }
  offs[n] = at;
  return buf;
}

/** Runs the addon over a packed buffer (in place). */
export function runPackedEncoded(addon: NativeAddon, buf: ArrayBuffer, n: number, batch: boolean): void {
  const u8 = new Uint8Array(buf);
  const offs = new Uint32Array(buf, 0, n + 1);
  const L = encodedLayout(n, (offs[n] as number) - (offs[0] as number));
  addon.verifyEncoded(
    u8.subarray(L.keys, L.sigs),
    u8.subarray(L.data, L.total),
    offs,
    u8.subarray(L.sigs, L.digests),
    u8.subarray(L.digests, L.verdicts),
    u8.subarray(L.verdicts, L.data),
    batch,
  );
}

/** Digest views and verdicts of a packed buffer after `verifyEncoded` ran over it, written into `into` at `at`. */
export function unpackEncoded(buf: ArrayBuffer, n: number, digests: Uint8Array[], verdicts: Uint8Array, at: number): void {
  const L = encodedLayout(n, 0);
  const u8 = new Uint8Array(buf);
  for (let k = 0; k < n; k++) digests[at + k] = u8.subarray(L.digests + 32 * k, L.digests + 32 * k + 32);
  verdicts.set(u8.subarray(L.verdicts, L.verdicts + n), at);
}

/** A SignatureVerifier over the addon, verifying on the calling thread. */
export function nativeVerifier(addon: NativeAddon, options: NativeVerifierOptions = {}): SignatureVerifier {
  const batch = options.batch ?? true;
  const verifyOne = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean =>
    wellFormed({ publicKey, message, signature }) && addon.verifyOne(publicKey, message, signature);
  return {
    name: batch ? "native-zip215-batch" : "native-zip215",
    verifyOne,
    verifyMany(items) {
      if (!batch || items.length < 2) return items.map((i) => verifyOne(i.publicKey, i.message, i.signature));
      const out: boolean[] = new Array<boolean>(items.length).fill(false);
      const { index, pubkeys, msgs, sigs } = packItems(items);
      if (index.length === 0) return out;
      const res = addon.verifyBatch(pubkeys, msgs, sigs);
      for (let k = 0; k < index.length; k++) out[index[k] as number] = res[k] === 1;
      return out;
    },
    verifyEncoded(b: EncodedBatch): EncodedResult {
      const n = b.keys.length;
      const buf = packEncoded(b, 0, n);
      runPackedEncoded(addon, buf, n, batch);
      const digests: Uint8Array[] = new Array<Uint8Array>(n);
      const verdicts = new Uint8Array(n);
      unpackEncoded(buf, n, digests, verdicts, 0);
      return { digests, verdicts };
    },
  };
}

/**
 * BLAKE3-256 of many messages with one addon call (the `blake3` crate): the messages are copied into one buffer and
 * the digests come back as 32-byte views of one output buffer. Same bytes as `@noble/hashes` (test/poi/fast.test.ts).
 */
export function nativeDigests(addon: NativeAddon): (messages: readonly Uint8Array[]) => Uint8Array[] {
  return (messages) => {
    const n = messages.length;
    const offsets = new Uint32Array(n + 1);
    let total = 0;
    for (let i = 0; i < n; i++) {
      offsets[i] = total;
      total += (messages[i] as Uint8Array).length;
    }
    offsets[n] = total;
    const data = Buffer.allocUnsafe(total);
    for (let i = 0; i < n; i++) data.set(messages[i] as Uint8Array, offsets[i] as number);
    const out = new Uint8Array(32 * n);
    addon.blake3Into(data, offsets, out);
    const digests: Uint8Array[] = new Array<Uint8Array>(n);
    for (let i = 0; i < n; i++) digests[i] = out.subarray(32 * i, 32 * i + 32);
    return digests;
  };
}
