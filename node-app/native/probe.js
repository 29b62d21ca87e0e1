'use strict';
// Throughput probe (not a unit test): verifications/s on ONE thread for the
// native verifier and for node's crypto.verify (OpenSSL) on the same inputs.
// Median of 5 runs. Run: node node-app/native/probe.js [items-per-run]
//
// Inputs: random 32-byte digests (as BLAKE3 digests are in the pipeline),
// signed either by N distinct keys ("distinct") or by a 64-key validator set
// ("64 keys", which lets the batch verifier coalesce terms per key and lets
// verifyOne hit its decoded-key cache). OpenSSL KeyObjects are created before
// timing (a pipeline would cache them), so the baseline is verify-only.
//
// Two rates are printed: wall clock, and CPU time of this process
// (process.cpuUsage). On a busy machine the CPU-time rate is the steadier one.

const crypto = require('node:crypto');
const { loadNative } = require('./index.js');

const native = loadNative();
if (!native) {
  console.error('probe: native addon not available (build with node-app/native/build.sh, and unset BIZRA_USE_RUST=false)');
  process.exit(1);
}

const N = Number(process.argv[2] || 4096); // items per run (multiple of 256)
const RUNS = 5;
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function dataset(nKeys) {
  const keys = [];
  for (let k = 0; k < nKeys; k++) {
    // PKCS#8 import of a random seed (crypto.generateKeyPairSync intermittently deadlocked on node v20.20.2 here)
    const privateKey = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, crypto.randomBytes(32)]), format: 'der', type: 'pkcs8' });
    const publicKey = crypto.createPublicKey(privateKey);
    keys.push({ publicKey, privateKey, raw: Buffer.from(publicKey.export({ format: 'der', type: 'spki' }).subarray(12)) });
  }
  const pks = Buffer.alloc(N * 32);
  const msgs = Buffer.alloc(N * 32);
  const sigs = Buffer.alloc(N * 64);
  const keyObjs = [];
  for (let i = 0; i < N; i++) {
    const key = keys[i % nKeys];
    key.raw.copy(pks, i * 32);
    const m = crypto.randomBytes(32);
    m.copy(msgs, i * 32);
    crypto.sign(null, m, key.privateKey).copy(sigs, i * 64);
    keyObjs.push(key.publicKey);
  }
  const pkV = [];
  const msgV = [];
  const sigV = [];
  for (let i = 0; i < N; i++) {
    pkV.push(pks.subarray(i * 32, i * 32 + 32));
    msgV.push(msgs.subarray(i * 32, i * 32 + 32));
    sigV.push(sigs.subarray(i * 64, i * 64 + 64));
  }
  return { pks, msgs, sigs, keyObjs, pkV, msgV, sigV };
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function measure(name, fn) {
  if (fn() !== N) throw new Error(`${name}: warm-up did not verify all ${N}`);
  const wall = [];
  const cpu = [];
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const ok = fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    if (ok !== N) throw new Error(`${name}: ${ok}/${N} verified`);
    wall.push(N / dt);
    cpu.push(N / ((c.user + c.system) / 1e6));
  }
  return { name, wall: median(wall), cpu: median(cpu), runs: wall.map(Math.round) };
}

function batchFn(d, size, malicious = 0) {
  // `malicious` bad items per batch, spread evenly (planted by flipping an S bit)
  const sigs = Buffer.from(d.sigs);
  for (let j = 0; j < N; j += size) {
    for (let b = 0; b < malicious; b++) sigs[(j + Math.floor(((b + 0.5) * size) / malicious)) * 64 + 40] ^= 1;
  }
  return () => {
    let ok = 0;
    for (let j = 0; j < N; j += size) {
      const out = native.verifyBatch(
        d.pks.subarray(j * 32, (j + size) * 32),
        d.msgs.subarray(j * 32, (j + size) * 32),
        sigs.subarray(j * 64, (j + size) * 64),
      );
      for (let i = 0; i < size; i++) ok += out[i];
    }
    return ok + (malicious * N) / size; // count the planted bad items as correctly handled
  };
}

function suite(label, d) {
  return [
    measure(`${label}: crypto.verify (OpenSSL)`, () => {
      let ok = 0;
      for (let i = 0; i < N; i++) ok += crypto.verify(null, d.msgV[i], d.keyObjs[i], d.sigV[i]) ? 1 : 0;
      return ok;
    }),
    measure(`${label}: native verifyOne`, () => {
      let ok = 0;
      for (let i = 0; i < N; i++) ok += native.verifyOne(d.pkV[i], d.msgV[i], d.sigV[i]) ? 1 : 0;
      return ok;
    }),
    measure(`${label}: native verifyBatch n=64`, batchFn(d, 64)),
    measure(`${label}: native verifyBatch n=256`, batchFn(d, 256)),
    measure(`${label}: verifyBatch n=64, 1 bad/batch`, batchFn(d, 64, 1)),
    measure(`${label}: verifyBatch n=256, 1 bad/batch`, batchFn(d, 256, 1)),
    ...(label === 'distinct'
      ? [
          measure(`${label}: verifyBatch n=256, 8 bad/batch`, batchFn(d, 256, 8)),
          measure(`${label}: verifyBatch n=256, all bad`, batchFn(d, 256, 256)),
        ]
      : []),
  ];
}

const info = native.backendInfo();
const os = require('node:os');
console.log(
  `node ${process.version}, ${info.verifier}, ${info.curve}, cpu AVX2: ${info.cpuAvx2}, ${os.cpus().length} cpus, ` +
    `loadavg ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; ${N} items/run, median of ${RUNS} runs, 1 thread`,
);
const results = [...suite('distinct', dataset(N)), ...suite('64 keys', dataset(64))];
console.log(`${'path'.padEnd(40)} ${'wall/s'.padStart(8)} ${'us/sig'.padStart(7)} ${'cpu/s'.padStart(8)} ${'us/sig'.padStart(7)}  xOpenSSL(cpu)  wall runs`);
let base = 0;
for (const r of results) {
  if (r.name.endsWith('(OpenSSL)')) base = r.cpu;
  console.log(
    `${r.name.padEnd(40)} ${String(Math.round(r.wall)).padStart(8)} ${(1e6 / r.wall).toFixed(1).padStart(7)} ` +
      `${String(Math.round(r.cpu)).padStart(8)} ${(1e6 / r.cpu).toFixed(1).padStart(7)}  ${('x' + (r.cpu / base).toFixed(2)).padStart(12)}  ${r.runs.join(',')}`,
  );
}
console.log(`loadavg after: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
