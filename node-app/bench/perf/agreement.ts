/**
 * ZIP-215 agreement of every verification path the bench measures, checked in the same run: the shared vector suite
 * (node-app/test/vectors: ZIP-215 edge cases with their recorded verdicts, RFC 8032 vectors and bit-flipped copies)
 * goes through each path, each vector inside a batch of honest items so batch paths run the batch equation and its
 * bisection, and every verdict must equal the recorded one. The unit tests (test/poi/equivalence.test.ts) check the
 * same paths and more; this makes the bench's MET line rest on the binary it measured.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { publicKeyOf, signMessage, type SignatureItem, type SignatureVerifier } from "../../src/poi/signature";
import { BatchingVerifier, nativeVerifier, VerifyPool, type NativeAddon } from "../../src/poi/fast";

interface Case { name: string; item: SignatureItem; valid: boolean }

const VECTORS = path.resolve(__dirname, "..", "..", "test", "vectors");
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

function suite(): Case[] {
  const edge = (JSON.parse(readFileSync(path.join(VECTORS, "ed25519-edge-cases.json"), "utf8")) as Array<{ name: string; pubkey: string; msg: string; sig: string; valid: boolean }>).map(
    (c) => ({ name: `edge ${c.name}`, item: { publicKey: hex(c.pubkey), message: hex(c.msg), signature: hex(c.sig) }, valid: c.valid }),
  );
  const rfc = (JSON.parse(readFileSync(path.join(VECTORS, "rfc8032.json"), "utf8")) as { vectors: Array<{ name: string; publicKey: string; msg: string; sig: string }> }).vectors.flatMap((v) => {
    const item = { publicKey: hex(v.publicKey), message: hex(v.msg), signature: hex(v.sig) };
    const flipped = Uint8Array.from(item.signature);
    flipped[5] = (flipped[5] as number) ^ 0x10;
    return [
      { name: `rfc ${v.name}`, item, valid: true },
      { name: `rfc ${v.name} (bit flipped)`, item: { ...item, signature: flipped }, valid: false },
    ];
  });
  return [...edge, ...rfc];
}

function honest(n: number): Case[] {
  return Array.from({ length: n }, (_, i) => {
    const seed = new Uint8Array(randomBytes(32));
    const message = new Uint8Array(randomBytes(32));
    return { name: `honest ${i}`, item: { publicKey: publicKeyOf(seed), message, signature: signMessage(seed, message) }, valid: true };
  });
}

export interface Agreement {
  readonly vectors: number;
  /** Path name -> names of the vectors whose verdict differed from the recorded one (empty = agrees). */
  readonly paths: Record<string, string[]>;
  readonly agree: boolean;
}

/** Runs the suite through each path; `pool` is a native pool of the kind the bench measures. */
export async function zip215Agreement(addon: NativeAddon, pool: VerifyPool): Promise<Agreement> {
  const cases = suite();
  const filler = honest(15);
  const paths: Record<string, string[]> = {};
  const check = async (name: string, run: (batch: Case[]) => Promise<boolean[]> | boolean[]): Promise<void> => {
    const bad: string[] = [];
    for (const c of cases) {
      const batch = [...filler.slice(0, 7), c, ...filler.slice(7)];
      const got = await run(batch);
      if (got.length !== batch.length || batch.some((b, i) => got[i] !== b.valid)) bad.push(c.name);
    }
    paths[name] = bad;
  };
  const many = (v: SignatureVerifier) => (batch: Case[]) => v.verifyMany(batch.map((c) => c.item));
  await check("native single", many(nativeVerifier(addon, { batch: false })));
  await check("native batch", many(nativeVerifier(addon, { batch: true })));
  await check("pool batch (shared-memory hand-off)", many(pool));
  const batcher = new BatchingVerifier(pool, { maxItems: 256, maxWaitMicros: 200 });
  await check("batcher (adaptive window) + pool, one call per item", (batch) => Promise.all(batch.map((c) => batcher.verifyMany([c.item]).then((r) => r[0] as boolean))));
  // The Rust-only ceiling takes 32-byte messages (digests), as the pipeline hands them over.
  const bad: string[] = [];
  for (const c of cases.filter((x) => x.item.message.length === 32 && x.item.publicKey.length === 32 && x.item.signature.length === 64)) {
    const batch = [...filler.slice(0, 7), c, ...filler.slice(7)];
    const cat = (f: (x: SignatureItem) => Uint8Array) => Buffer.concat(batch.map((b) => f(b.item)));
    const r = addon.benchCeiling(cat((x) => x.publicKey), cat((x) => x.message), cat((x) => x.signature), 1, batch.length, 1);
    if (r.valid !== batch.filter((b) => b.valid).length) bad.push(c.name);
  }
  paths["Rust-only ceiling (benchCeiling; 32-byte messages)"] = bad;
  return { vectors: cases.length, paths, agree: Object.values(paths).every((p) => p.length === 0) };
}
