'use strict';
// Development A/B of curve25519-dalek backends (not run by `npm run bench`): the Rust-only ceiling (benchCeiling) of
// the default addon (AVX-512 IFMA compiled in, chosen at run time) against an AVX2-only build, interleaved in one
// process so both see the same machine load. Build the second addon first:
//   BIZRA_NATIVE_DALEK_BACKEND=simd BIZRA_NATIVE_OUT=node-app/native/target-simd/bizra_native_avx2.node bash node-app/native/build.sh
// Usage: node bench/perf/backend-ab.js [other.node] [--pairs 7] [--threads 1] [--items 4096]
const path = require('node:path');
const crypto = require('node:crypto');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const otherPath = path.resolve(args.find((a) => a.endsWith('.node')) ?? path.join(__dirname, '..', '..', 'native', 'target-simd', 'bizra_native_avx2.node'));
const pairs = opt('--pairs', 7);
const threads = opt('--threads', 1);
const n = opt('--items', 4096);

const main = require('../../native').loadNative();
if (!main) throw new Error('default addon not built (bash node-app/native/build.sh)');
const other = require(otherPath);
// The loader's backendInfo() returns an object, the raw addon's a JSON string.
const label = (a) => {
  const info = a.backendInfo();
  return (typeof info === 'string' ? JSON.parse(info) : info).curveBackend;
};

// 128 validators, n signatures over random 32-byte digests (RFC 8032 via node:crypto).
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const keys = Array.from({ length: 128 }, () => {
  const k = crypto.createPrivateKey({ key: Buffer.concat([PKCS8, crypto.randomBytes(32)]), format: 'der', type: 'pkcs8' });
  return { k, pk: crypto.createPublicKey(k).export({ format: 'der', type: 'spki' }).subarray(12) };
});
const pks = Buffer.alloc(32 * n), dg = crypto.randomBytes(32 * n), sg = Buffer.alloc(64 * n);
for (let i = 0; i < n; i++) {
  const v = keys[i % keys.length];
  v.pk.copy(pks, 32 * i);
  crypto.sign(null, dg.subarray(32 * i, 32 * i + 32), v.k).copy(sg, 64 * i);
}
const run = (addon) => {
  const r = addon.benchCeiling(pks, dg, sg, threads, 256, 2);
  const [items, valid, seconds] = Array.isArray(r) ? r : [r.items, r.valid, r.seconds];
  if (valid !== items) throw new Error(`only ${valid} of ${items} valid`);
  return items / seconds;
};
run(main);
run(other);
const a = [], b = [], ratio = [];
for (let p = 0; p < pairs; p++) {
  const x = run(main), y = run(other);
  a.push(x);
  b.push(y);
  ratio.push(x / y);
}
const med = (xs) => [...xs].sort((u, v) => u - v)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({
  threads, items: n, pairs,
  default: { curveBackend: label(main), medianPerSecond: Math.round(med(a)) },
  other: { path: otherPath, curveBackend: label(other), medianPerSecond: Math.round(med(b)) },
  medianRatioDefaultOverOther: Number(med(ratio).toFixed(3)),
}));
