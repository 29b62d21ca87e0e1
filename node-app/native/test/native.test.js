'use strict';
// Tests for the native ZIP-215 verifier. Run: node --test node-app/native/test/ (part of npm test).
// Needs the addon built first (node-app/native/build.sh); without it the tests that need it are
// skipped and the loader tests still run, unless BIZRA_REQUIRE_NATIVE=1 (set by .ci/run): then
// the file fails with the reason.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { loadNative, nativeMissingReason } = require('..');

const missingReason = nativeMissingReason();
const native = loadNative();
const needNative = missingReason === null ? {} : { skip: missingReason };

const hex = (s) => Buffer.from(s, 'hex');

// ---------------------------------------------------------------------------
// Curve / scalar helpers for constructing edge cases (BigInt, test-only).
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const P = (1n << 255n) - 19n;
function leToBig(buf) {
  let x = 0n;
  for (let i = buf.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(buf[i]);
  return x;
}
function bigToLe(x, len = 32) {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
}
const sha512 = (...parts) => crypto.createHash('sha512').update(Buffer.concat(parts)).digest();

// RFC 8032 section 7.1, TEST 1..3 (secret key, public key, message, signature).
const RFC8032 = [
  {
    name: 'TEST 1 (empty message)',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pubkey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2 (1-octet message)',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pubkey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3 (2-octet message)',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pubkey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

// Node's OpenSSL verify (RFC 8032 strict encodings, cofactorless) for comparison.
const SPKI_PREFIX = hex('302a300506032b6570032100');
function opensslVerify(pk, msg, sig) {
  try {
    const key = crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pk]), format: 'der', type: 'spki' });
    return crypto.verify(null, msg, key, sig);
  } catch {
    return false;
  }
}

// Keys come from random 32-byte seeds through PKCS#8 import, not from
// crypto.generateKeyPairSync: on node v20.20.2 that call intermittently
// deadlocked here (main thread blocked in ~KeyGenJob() run by a GC inside
// KeyObject.export, a node-internal lock; seen twice in ~40 runs).
const PKCS8_PREFIX = hex('302e020100300506032b657004220420');
function keypair() {
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, crypto.randomBytes(32)]), format: 'der', type: 'pkcs8' });
  const pk = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12);
  return { pk: Buffer.from(pk), privateKey };
}

// n honest (pubkey, 32-byte digest, signature) triples, concatenated.
function honestBatch(n) {
  const pks = [];
  const msgs = [];
  const sigs = [];
  for (let i = 0; i < n; i++) {
    const { pk, privateKey } = keypair();
    const m = crypto.randomBytes(32);
    pks.push(pk);
    msgs.push(m);
    sigs.push(crypto.sign(null, m, privateKey));
  }
  return { pks: Buffer.concat(pks), msgs: Buffer.concat(msgs), msgList: msgs, sigs: Buffer.concat(sigs) };
}

// Signature with an arbitrary R encoding that is valid under the cofactored
// equation: R is a small-order point (here: an encoding of the identity),
// S = k*a mod L, so [S]B - [k]A = 0 and [8]R = 0.
function sigWithTorsionR(secretHex, msg, rBytes) {
  const h = sha512(hex(secretHex));
  const a = Buffer.from(h.subarray(0, 32));
  a[0] &= 248;
  a[31] &= 127;
  a[31] |= 64;
  const aBig = leToBig(a);
  const pk = hex(RFC8032[0].pubkey);
  const k = leToBig(sha512(rBytes, pk, msg)) % L;
  const s = (k * aBig) % L;
  return Buffer.concat([rBytes, bigToLe(s)]);
}

// Encodings used below.
const IDENTITY = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]); // y = 1, canonical
const IDENTITY_NONCANON_Y = bigToLe(P + 1n); // y = p + 1 (≡ 1), non-canonical
const IDENTITY_SIGNBIT = Buffer.concat([Buffer.from([1]), Buffer.alloc(30), Buffer.from([0x80])]); // x = 0 with sign bit set
const ORDER2 = bigToLe(P - 1n); // y = -1: the point of order 2, canonical
// y = 2: (y^2 - 1) / (d y^2 + 1) is a non-residue mod p (checked with Euler's criterion), so no point has it.
const NOT_ON_CURVE = bigToLe(2n);

function edgeCases() {
  const t1 = RFC8032[0];
  const pk1 = hex(t1.pubkey);
  const sig1 = hex(t1.sig);
  const msg1 = hex(t1.msg);
  const sPlusL = bigToLe(leToBig(sig1.subarray(32)) + L);
  const zeroS = Buffer.alloc(32);
  const m = Buffer.from('BIZRA edge case message');
  return [
    { name: 'rfc8032 test1', pk: pk1, msg: msg1, sig: sig1, valid: true },
    { name: 'rfc8032 test1, S + L (malleated, S >= L)', pk: pk1, msg: msg1, sig: Buffer.concat([sig1.subarray(0, 32), sPlusL]), valid: false },
    {
      name: 'S = L exactly',
      pk: pk1,
      msg: msg1,
      sig: Buffer.concat([sig1.subarray(0, 32), bigToLe(L)]),
      valid: false,
    },
    {
      name: 'S with top bits set (2^255 + S)',
      pk: pk1,
      msg: msg1,
      sig: Buffer.concat([sig1.subarray(0, 32), bigToLe(leToBig(sig1.subarray(32)) + (1n << 255n))]),
      valid: false,
    },
    { name: 'small-order A (identity), small-order R (identity), S = 0', pk: IDENTITY, msg: m, sig: Buffer.concat([IDENTITY, zeroS]), valid: true },
    { name: 'small-order A (order 2), R identity, S = 0', pk: ORDER2, msg: m, sig: Buffer.concat([IDENTITY, zeroS]), valid: true },
    { name: 'small-order A (identity) with the RFC test1 signature', pk: IDENTITY, msg: msg1, sig: sig1, valid: false },
    { name: 'real key, R = identity non-canonical (y = p + 1)', pk: pk1, msg: m, sig: sigWithTorsionR(t1.secret, m, IDENTITY_NONCANON_Y), valid: true },
    { name: 'real key, R = identity with sign bit set (x = 0, sign 1)', pk: pk1, msg: m, sig: sigWithTorsionR(t1.secret, m, IDENTITY_SIGNBIT), valid: true },
    { name: 'real key, R = identity canonical', pk: pk1, msg: m, sig: sigWithTorsionR(t1.secret, m, IDENTITY), valid: true },
    { name: 'non-canonical A (identity as y = p + 1), R identity, S = 0', pk: IDENTITY_NONCANON_Y, msg: m, sig: Buffer.concat([IDENTITY, zeroS]), valid: true },
    { name: 'A not on curve', pk: NOT_ON_CURVE, msg: msg1, sig: sig1, valid: false },
    { name: 'R not on curve', pk: pk1, msg: msg1, sig: Buffer.concat([NOT_ON_CURVE, sig1.subarray(32)]), valid: false },
    { name: 'wrong message', pk: pk1, msg: Buffer.from('x'), sig: sig1, valid: false },
    { name: 'flipped signature bit', pk: pk1, msg: msg1, sig: Buffer.from(sig1).fill(sig1[5] ^ 1, 5, 6), valid: false },
  ];
}

// ---------------------------------------------------------------------------

test('loader: BIZRA_USE_RUST=false gives null', () => {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(path.join(__dirname, '..'))}).loadNative()))`], {
    env: { ...process.env, BIZRA_USE_RUST: 'false' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'null');
});

test('loader: missing .node file gives null', () => {
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bizra-native-'));
  try {
    fs.copyFileSync(path.join(__dirname, '..', 'index.js'), path.join(dir, 'index.js'));
    const r = spawnSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(dir)}).loadNative()))`], {
      env: { ...process.env, BIZRA_USE_RUST: 'true' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'null');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('backendInfo reports the verifier', needNative, () => {
  const info = native.backendInfo();
  assert.match(info.verifier, /ed25519-zebra/);
  assert.equal(typeof info.cpuAvx2, 'boolean');
});

test('RFC 8032 7.1 vectors 1-3: verifyOne, verifyBatch (array and fixed msgs), async', needNative, async () => {
  for (const v of RFC8032) {
    assert.equal(native.verifyOne(hex(v.pubkey), hex(v.msg), hex(v.sig)), true, v.name);
    // and each one rejects a tampered message
    assert.equal(native.verifyOne(hex(v.pubkey), Buffer.from('tampered'), hex(v.sig)), false, v.name);
  }
  const pks = Buffer.concat(RFC8032.map((v) => hex(v.pubkey)));
  const sigs = Buffer.concat(RFC8032.map((v) => hex(v.sig)));
  const msgs = RFC8032.map((v) => hex(v.msg));
  assert.deepEqual([...native.verifyBatch(pks, msgs, sigs)], [1, 1, 1]);
  assert.deepEqual([...(await native.verifyBatchAsync(pks, msgs, sigs))], [1, 1, 1]);
  // Uint8Array (not Buffer) inputs work too
  assert.deepEqual([...native.verifyBatch(new Uint8Array(pks), msgs.map((m) => new Uint8Array(m)), new Uint8Array(sigs))], [1, 1, 1]);
});

test('honest 32-byte-digest batches pass (fixed and array msgs, several sizes)', needNative, async () => {
  for (const n of [0, 1, 2, 3, 7, 64, 256]) {
    const b = honestBatch(n);
    const want = new Array(n).fill(1);
    assert.deepEqual([...native.verifyBatch(b.pks, b.msgs, b.sigs)], want, `fixed n=${n}`);
    assert.deepEqual([...native.verifyBatch(b.pks, b.msgList, b.sigs)], want, `array n=${n}`);
    assert.deepEqual([...(await native.verifyBatchAsync(b.pks, b.msgs, b.sigs))], want, `async n=${n}`);
  }
});

test('one malicious item among honest ones: only it fails', needNative, async () => {
  const n = 64;
  for (const bad of [0, 17, 31, 32, 63]) {
    const b = honestBatch(n);
    b.sigs[bad * 64 + 40] ^= 0x01; // corrupt S
    const out = native.verifyBatch(b.pks, b.msgs, b.sigs);
    assert.ok(out instanceof Uint8Array);
    const want = new Array(n).fill(1);
    want[bad] = 0;
    assert.deepEqual([...out], want, `bad=${bad}`);
    assert.deepEqual([...(await native.verifyBatchAsync(b.pks, b.msgList, b.sigs))], want, `async bad=${bad}`);
  }
});

test('random malicious subsets: batch result equals per-item verifyOne', needNative, () => {
  const kinds = [
    (b, i) => { b.sigs[i * 64 + 3] ^= 0x80; }, // corrupt R
    (b, i) => { b.msgs[i * 32] ^= 1; }, // wrong message
    (b, i) => { b.pks[i * 32 + 7] ^= 4; }, // wrong / possibly off-curve key
    (b, i) => { // S + L
      const s = leToBig(b.sigs.subarray(i * 64 + 32, i * 64 + 64)) + L;
      bigToLe(s).copy(b.sigs, i * 64 + 32);
    },
  ];
  for (let trial = 0; trial < 20; trial++) {
    const n = 1 + crypto.randomInt(100);
    const b = honestBatch(n);
    const nBad = crypto.randomInt(Math.min(n, 6) + 1);
    for (let j = 0; j < nBad; j++) kinds[crypto.randomInt(kinds.length)](b, crypto.randomInt(n));
    const single = [];
    for (let i = 0; i < n; i++) {
      single.push(native.verifyOne(b.pks.subarray(i * 32, i * 32 + 32), b.msgs.subarray(i * 32, i * 32 + 32), b.sigs.subarray(i * 64, i * 64 + 64)) ? 1 : 0);
    }
    assert.deepEqual([...native.verifyBatch(b.pks, b.msgs, b.sigs)], single, `trial ${trial}`);
  }
});

test('dense bad items (budget fallback to single verification) still give exact per-item results', needNative, () => {
  for (const frac of [0.1, 0.5, 0.9]) {
    const n = 256;
    const b = honestBatch(n);
    const want = new Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      if (Math.random() < frac) {
        b.sigs[i * 64 + 33] ^= 2;
        want[i] = 0;
      }
    }
    assert.deepEqual([...native.verifyBatch(b.pks, b.msgs, b.sigs)], want, `bad fraction ${frac}`);
  }
});

test('all-bad batch', needNative, () => {
  const b = honestBatch(16);
  for (let i = 0; i < 16; i++) b.msgs[i * 32] ^= 1;
  assert.deepEqual([...native.verifyBatch(b.pks, b.msgs, b.sigs)], new Array(16).fill(0));
});

test('ZIP-215 edge cases: single, batch (alone and mixed with honest items) agree', needNative, () => {
  const cases = edgeCases();
  for (const c of cases) {
    assert.equal(native.verifyOne(c.pk, c.msg, c.sig), c.valid, `verifyOne: ${c.name}`);
  }
  // each case as a batch of one, with the message as an array entry
  for (const c of cases) {
    assert.deepEqual([...native.verifyBatch(c.pk, [c.msg], c.sig)], [c.valid ? 1 : 0], `batch of 1: ${c.name}`);
  }
  // all cases interleaved with honest items in one batch
  const honest = honestBatch(cases.length);
  const pks = [];
  const msgs = [];
  const sigs = [];
  const want = [];
  cases.forEach((c, i) => {
    pks.push(c.pk, honest.pks.subarray(i * 32, i * 32 + 32));
    msgs.push(c.msg, honest.msgList[i]);
    sigs.push(c.sig, honest.sigs.subarray(i * 64, i * 64 + 64));
    want.push(c.valid ? 1 : 0, 1);
  });
  assert.deepEqual([...native.verifyBatch(Buffer.concat(pks), msgs, Buffer.concat(sigs))], want);
});

test('y = 2 is off the curve (so the "not on curve" cases mean what they say)', () => {
  const pow = (b, e) => {
    let r = 1n;
    b %= P;
    while (e > 0n) {
      if (e & 1n) r = (r * b) % P;
      b = (b * b) % P;
      e >>= 1n;
    }
    return r;
  };
  const d = (((-121665n * pow(121666n, P - 2n)) % P) + P) % P;
  const x2 = ((4n - 1n) * pow((d * 4n + 1n) % P, P - 2n)) % P;
  assert.notEqual(pow(x2, (P - 1n) / 2n), 1n);
});

test('ZIP-215 differs from OpenSSL exactly where expected', needNative, () => {
  const byName = Object.fromEntries(edgeCases().map((c) => [c.name, c]));
  const c1 = byName['real key, R = identity non-canonical (y = p + 1)'];
  // OpenSSL recomputes R and compares encodings, so a non-canonical R fails there.
  assert.equal(opensslVerify(c1.pk, c1.msg, c1.sig), false);
  assert.equal(native.verifyOne(c1.pk, c1.msg, c1.sig), true);
  // Both reject S >= L.
  const c2 = byName['rfc8032 test1, S + L (malleated, S >= L)'];
  assert.equal(opensslVerify(c2.pk, c2.msg, c2.sig), false);
  assert.equal(native.verifyOne(c2.pk, c2.msg, c2.sig), false);
});

test('bad lengths give false for that item, never a throw', needNative, () => {
  const v = RFC8032[1];
  const pk = hex(v.pubkey);
  const sig = hex(v.sig);
  const msg = hex(v.msg);
  assert.equal(native.verifyOne(pk.subarray(0, 31), msg, sig), false);
  assert.equal(native.verifyOne(Buffer.concat([pk, Buffer.alloc(1)]), msg, sig), false);
  assert.equal(native.verifyOne(pk, msg, sig.subarray(0, 63)), false);
  assert.equal(native.verifyOne(pk, msg, Buffer.alloc(0)), false);
  assert.equal(native.verifyOne(Buffer.alloc(0), msg, sig), false);
});

test('structurally wrong calls throw TypeError with a clear message', needNative, async () => {
  const b = honestBatch(2);
  assert.throws(() => native.verifyBatch(b.pks.subarray(0, 63), b.msgs, b.sigs), { name: 'TypeError', message: /multiple of 32/ });
  assert.throws(() => native.verifyBatch(b.pks, b.msgs, b.sigs.subarray(0, 127)), { name: 'TypeError', message: /sigs length/ });
  assert.throws(() => native.verifyBatch(b.pks, b.msgs.subarray(0, 32), b.sigs), { name: 'TypeError', message: /msgs length/ });
  assert.throws(() => native.verifyBatch(b.pks, [b.msgList[0]], b.sigs), { name: 'TypeError', message: /msgs array has 1 entries, expected 2/ });
  assert.throws(() => native.verifyBatch(b.pks, [b.msgList[0], 'x'], b.sigs), { name: 'TypeError', message: /msgs\[1\]/ });
  assert.throws(() => native.verifyBatch(b.pks, 'nope', b.sigs), { name: 'TypeError' });
  assert.throws(() => native.verifyOne('00', b.msgList[0], b.sigs), { name: 'TypeError', message: /pubkey/ });
  await assert.rejects(native.verifyBatchAsync(b.pks, b.msgs, b.sigs.subarray(1)), { name: 'TypeError' });
});

test('inputs are not modified', needNative, () => {
  const b = honestBatch(8);
  b.sigs[3 * 64 + 40] ^= 1;
  const before = Buffer.concat([b.pks, b.msgs, b.sigs]);
  native.verifyBatch(b.pks, b.msgs, b.sigs);
  assert.deepEqual(Buffer.concat([b.pks, b.msgs, b.sigs]), before);
});

// Shared suite written by the node-app engineers (if present).
const SHARED = path.join(__dirname, '..', '..', 'test', 'vectors', 'ed25519-edge-cases.json');
test('shared edge-case suite (node-app/test/vectors/ed25519-edge-cases.json): single and batch agree with "valid"', {
  skip: missingReason !== null ? missingReason : !fs.existsSync(SHARED) ? `${SHARED} not present` : false,
}, () => {
  const raw = JSON.parse(fs.readFileSync(SHARED, 'utf8'));
  const list = Array.isArray(raw) ? raw : raw.vectors || raw.cases;
  assert.ok(Array.isArray(list) && list.length > 0, 'suite has vectors');
  const pks = [];
  const msgs = [];
  const sigs = [];
  const want = [];
  const structural = [];
  for (const v of list) {
    const pk = hex(v.pubkey);
    const msg = hex(v.msg);
    const sig = hex(v.sig);
    assert.equal(native.verifyOne(pk, msg, sig), v.valid, `verifyOne: ${v.name}`);
    if (pk.length === 32 && sig.length === 64) {
      pks.push(pk);
      msgs.push(msg);
      sigs.push(sig);
      want.push(v.valid ? 1 : 0);
    } else {
      structural.push(v.name);
    }
  }
  assert.deepEqual([...native.verifyBatch(Buffer.concat(pks), msgs, Buffer.concat(sigs))], want, 'batch over the whole suite');
  if (structural.length) test.diagnostic?.(`batch skipped wrong-length vectors (verifyOne covers them): ${structural.join(', ')}`);
});

// Shared RFC 8032 file written by the node-app engineers (if present): all must verify, single and batch.
const SHARED_RFC = path.join(__dirname, '..', '..', 'test', 'vectors', 'rfc8032.json');
test('shared RFC 8032 vectors (node-app/test/vectors/rfc8032.json) verify on single and batch paths', {
  skip: missingReason !== null ? missingReason : !fs.existsSync(SHARED_RFC) ? `${SHARED_RFC} not present` : false,
}, () => {
  const raw = JSON.parse(fs.readFileSync(SHARED_RFC, 'utf8'));
  const list = Array.isArray(raw) ? raw : raw.vectors;
  assert.ok(Array.isArray(list) && list.length > 0, 'file has vectors');
  for (const v of list) {
    assert.equal(native.verifyOne(hex(v.publicKey), hex(v.msg), hex(v.sig)), true, v.name);
  }
  const out = native.verifyBatch(
    Buffer.concat(list.map((v) => hex(v.publicKey))),
    list.map((v) => hex(v.msg)),
    Buffer.concat(list.map((v) => hex(v.sig))),
  );
  assert.deepEqual([...out], list.map(() => 1));
});
