/**
 * The evidence package's building blocks at their edges: hex and key files, Ed25519 under ZIP-215, signed documents,
 * the artifact schema's ranges and messages, trust lists and latency statistics. Each test owns its temp folder.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  ARTIFACT_SCHEMA,
  artifactFiles,
  documentSignatureValid,
  EVIDENCE_KEY_ENV,
  fromHex,
  LOCAL_KEY_FILE,
  loadEvidenceKey,
  localPublicKeyHex,
  parseArtifact,
  parseTrustedKeys,
  percentile,
  publicKeyOf,
  sign,
  signDocument,
  signedDigest,
  since,
  summarizeNanos,
  toHex,
  trustedKeysOrLocal,
  verify,
  type EvidenceKey,
} from "@bizra/evidence";
import { hex, readVectors } from "../helpers";

interface EdgeCase { name: string; pubkey: string; msg: string; sig: string; valid: boolean; why: string }

describe("evidence building blocks", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-evidence-primitives-"));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const fresh = (name: string) => path.join(root, `${n++}`, name);

  describe("hex", () => {
    it("fromHex takes lower-case hex of exactly the length, and refuses anything else by name", () => {
      assert.deepEqual(fromHex("00ff10", 3), Uint8Array.of(0, 255, 16));
      for (const [text, length] of [["00ff1", 3], ["00ff10", 2], ["00ff1000", 3], ["00FF10", 3], ["zz00ff", 3], ["00ffzz", 3], ["", 1]] as const) {
        assert.throws(() => fromHex(text, length), { name: "TypeError", message: `expected ${length} bytes as lower-case hex` }, `${text}/${length}`);
      }
      assert.equal(toHex(Uint8Array.of(0, 171, 255)), "00abff");
      assert.equal(toHex(new Uint8Array([9, 0, 1, 2]).subarray(1, 3)), "0001", "a view: only its own bytes");
    });
  });

  describe("key files", () => {
    it("creates a missing key file it was named, 0600 in a 0700 folder, holding 64 hex digits and a newline", () => {
      const file = fresh("k.seed");
      const key = loadEvidenceKey({ file, env: {} });
      assert.equal(key.created, true);
      assert.equal(key.file, file);
      const text = fs.readFileSync(file, "utf8");
      assert.match(text, /^[0-9a-f]{64}\n$/);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
      assert.deepEqual(key.seed, fromHex(text.trim(), 32));
      assert.deepEqual(key.publicKey, publicKeyOf(key.seed));
      assert.equal(key.publicKeyHex, toHex(key.publicKey));
      const again = loadEvidenceKey({ file, env: {} });
      assert.equal(again.created, false, "an existing key is loaded, not replaced");
      assert.equal(again.publicKeyHex, key.publicKeyHex);
      assert.equal(localPublicKeyHex(file), key.publicKeyHex);
    });

    it("never overwrites a key file that appears between the existence check and the write", () => {
      const file = fresh("raced.seed");
      const theirs = loadEvidenceKey({ file, env: {} });
      const existsSync = nodeFs.existsSync;
      nodeFs.existsSync = (p: fs.PathLike) => (p === file ? false : existsSync(p)); // the other writer wins the race
      try {
        assert.throws(() => loadEvidenceKey({ file, env: {} }), { code: "EEXIST" });
      } finally {
        nodeFs.existsSync = existsSync;
      }
      assert.equal(loadEvidenceKey({ file, env: {} }).publicKeyHex, theirs.publicKeyHex);
    });

    it("never creates a key when told not to, nor one the environment names", () => {
      const file = fresh("k.seed");
      assert.throws(() => loadEvidenceKey({ file, env: {}, create: false }), { message: `evidence key file ${file} does not exist` });
      assert.throws(() => loadEvidenceKey({ env: { [EVIDENCE_KEY_ENV]: file } }), { message: `evidence key file ${file} does not exist (from ${EVIDENCE_KEY_ENV})` });
      assert.equal(fs.existsSync(file), false);
      assert.equal(localPublicKeyHex(file), undefined);
    });

    it("the environment's file is used when set and not empty; empty means the local key", () => {
      const file = fresh("env.seed");
      const made = loadEvidenceKey({ file, env: {} });
      assert.equal(loadEvidenceKey({ env: { [EVIDENCE_KEY_ENV]: file } }).publicKeyHex, made.publicKeyHex);
      // create: false keeps this from writing the repository's local key; it either exists or is named as missing
      let local: EvidenceKey | Error;
      try {
        local = loadEvidenceKey({ env: { [EVIDENCE_KEY_ENV]: "" }, create: false });
      } catch (e) {
        local = e as Error;
      }
      if (local instanceof Error) assert.equal(local.message, `evidence key file ${LOCAL_KEY_FILE} does not exist`);
      else assert.equal(local.file, LOCAL_KEY_FILE);
    });

    it("refuses a seed file that is not exactly 64 lower-case hex digits, naming the file", () => {
      const good = "ab".repeat(32);
      for (const text of [`x${good}`, `${good}x`, good.toUpperCase(), good.slice(2), `${good}00`]) {
        const file = fresh("bad.seed");
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        assert.throws(() => loadEvidenceKey({ file }), { message: `${file}: expected 64 lower-case hex digits (an Ed25519 seed)` }, text);
        assert.throws(() => localPublicKeyHex(file), { message: `${file}: expected 64 lower-case hex digits (an Ed25519 seed)` }, text);
      }
      const padded = fresh("padded.seed");
      fs.mkdirSync(path.dirname(padded), { recursive: true });
      fs.writeFileSync(padded, `  ${good}\n\n`);
      assert.equal(loadEvidenceKey({ file: padded }).publicKeyHex, toHex(publicKeyOf(fromHex(good, 32))), "surrounding whitespace is trimmed");
    });
  });

  describe("trust", () => {
    it("keys given win, lower-cased; without them the local key file's key, or none", () => {
      assert.deepEqual(trustedKeysOrLocal(["AB", "cd"], fresh("none.seed")), ["ab", "cd"]);
      const file = fresh("local.seed");
      const key = loadEvidenceKey({ file, env: {} });
      assert.deepEqual(trustedKeysOrLocal([], file), [key.publicKeyHex]);
      assert.deepEqual(trustedKeysOrLocal(undefined, file), [key.publicKeyHex]);
      assert.deepEqual(trustedKeysOrLocal(undefined, fresh("missing.seed")), []);
      assert.deepEqual(trustedKeysOrLocal(undefined), fs.existsSync(LOCAL_KEY_FILE) ? [localPublicKeyHex()] : [], "default: the repository's local key");
    });

    it("a comma-separated list: trimmed, lower-cased, empty entries dropped", () => {
      assert.deepEqual(parseTrustedKeys(" AB , cd,,\tEf "), ["ab", "cd", "ef"]);
      assert.deepEqual(parseTrustedKeys(""), []);
      assert.deepEqual(parseTrustedKeys(undefined), []);
      assert.deepEqual(parseTrustedKeys(" , "), []);
    });
  });

  describe("Ed25519", () => {
    const edge = readVectors<EdgeCase[]>("ed25519-edge-cases.json");

    it("verifies under ZIP-215, as the node does: every edge case of test/vectors gets the node's verdict", () => {
      assert.ok(edge.some((c) => c.valid) && edge.some((c) => !c.valid));
      for (const c of edge) assert.equal(verify(hex(c.pubkey), hex(c.msg), hex(c.sig)), c.valid, `${c.name}: ${c.why}`);
    });

    it("wrong lengths and keys that are no curve point are false, never thrown", () => {
      const c = edge.find((e) => e.valid)!;
      assert.equal(verify(hex(c.pubkey).subarray(1), hex(c.msg), hex(c.sig)), false);
      assert.equal(verify(hex(c.pubkey), hex(c.msg), hex(c.sig).subarray(1)), false);
      assert.equal(verify(new Uint8Array(33), hex(c.msg), hex(c.sig)), false);
      // y = 2: x^2 = (y^2 - 1) / (d y^2 + 1) has no square root mod p, so the key is no point
      const notAPoint = new Uint8Array(32);
      notAPoint[0] = 2;
      assert.equal(verify(notAPoint, hex(c.msg), hex(c.sig)), false);
    });
  });

  describe("signed documents", () => {
    let key: EvidenceKey;
    before(() => {
      key = loadEvidenceKey({ file: fresh("doc.seed"), env: {} });
    });
    /** Signs `doc` as it stands (publicKey field included), bypassing signDocument's own check. */
    const signedAs = (doc: { publicKey: string; [k: string]: unknown }) => ({ ...doc, signature: toHex(sign(key.seed, signedDigest(doc))) });

    it("signs with the key the document names and refuses another", () => {
      const doc = signDocument({ publicKey: key.publicKeyHex, n: 1 }, key);
      assert.equal(documentSignatureValid(doc), true);
      assert.equal(documentSignatureValid({ ...doc, n: 2 } as typeof doc), false);
      assert.throws(() => signDocument({ publicKey: "ab".repeat(32), n: 1 }, key), { message: `document publicKey ${"ab".repeat(32)} is not the signing key's ${key.publicKeyHex}` });
    });

    it("refuses a key or signature field with a leading extra digit, even when its digits decode to the signing bytes", () => {
      // Buffer.from(hex) reads pairs and drops an odd last digit, so "0" + k[0] + ... decodes to k when k[0] < 16.
      const shifted = (bytes: Uint8Array) => `0${toHex(bytes).slice(1)}0`;
      let seedKey: EvidenceKey | undefined;
      for (let i = 0; seedKey === undefined; i++) {
        const k = loadEvidenceKey({ file: fresh(`lead${i}.seed`), env: {} });
        if (k.publicKey[0]! < 16) seedKey = k;
      }
      const field = shifted(seedKey.publicKey);
      assert.deepEqual(new Uint8Array(Buffer.from(field, "hex")), seedKey.publicKey, "the digits decode to the key");
      const doc = { publicKey: field, n: 1 };
      assert.equal(documentSignatureValid({ ...doc, signature: toHex(sign(seedKey.seed, signedDigest(doc))) }), false, "65-digit key field");
      let signed: { publicKey: string; n: number; signature: string } | undefined;
      for (let n = 0; signed === undefined; n++) {
        const d = { publicKey: key.publicKeyHex, n };
        const sig = sign(key.seed, signedDigest(d));
        if (sig[0]! < 16) signed = { ...d, signature: shifted(sig) };
      }
      assert.deepEqual(Buffer.from(signed.signature, "hex").length, 64);
      assert.equal(documentSignatureValid({ ...signed, signature: toHex(Buffer.from(signed.signature, "hex")) }), true, "the decoded bytes are a valid signature");
      assert.equal(documentSignatureValid(signed), false, "129-digit signature field");
    });

    it("refuses a key or signature field that is not exactly lower-case hex, even when the bytes it decodes to verify", () => {
      const good = signedAs({ publicKey: key.publicKeyHex, n: 1 });
      assert.equal(documentSignatureValid(good), true);
      assert.equal(documentSignatureValid({ ...good, signature: good.signature.toUpperCase() }), false, "upper-case signature");
      assert.equal(documentSignatureValid({ ...good, signature: `${good.signature}zz` }), false, "trailing characters after the signature");
      assert.equal(documentSignatureValid(signedAs({ publicKey: key.publicKeyHex.toUpperCase(), n: 1 })), false, "upper-case key, signed as such");
      assert.equal(documentSignatureValid(signedAs({ publicKey: `${key.publicKeyHex}zz`, n: 1 })), false, "trailing characters after the key, signed as such");
    });
  });

  describe("artifact files", () => {
    it("every *.json regular file but the manifest and hidden files, sorted by name", () => {
      const dir = fresh("bundle");
      fs.mkdirSync(dir, { recursive: true });
      for (const f of ["z.json", "a.json", "m.json", "manifest.json", ".hidden.json", "notes.txt"]) fs.writeFileSync(path.join(dir, f), "{}");
      fs.mkdirSync(path.join(dir, "sub.json"));
      fs.symlinkSync(path.join(dir, "m.json"), path.join(dir, "linked.json"));
      assert.deepEqual(artifactFiles(dir), ["a.json", "linked.json", "m.json", "z.json"]);
    });
  });

  describe("artifact schema", () => {
    const base = {
      schema: ARTIFACT_SCHEMA, kind: "verify-success", title: "t", method: "m", createdAt: "2026-01-01T00:00:00.000Z", durationSeconds: 0,
      machine: { cores: 1, cpuModel: "c", node: "v20", platform: "linux", arch: "x64", totalMemoryBytes: 1 },
      git: { commit: "a".repeat(40), dirty: false }, gates: [],
    };
    const results = { attempted: 10, verified: 9, failed: {}, successRate: 0.9, validators: 1, batchSize: 1 };
    const problems = (patch: object, res: object = {}) => {
      const r = parseArtifact({ ...base, ...patch, results: { ...results, ...res } });
      return r.ok ? [] : r.problems;
    };

    it("ratios lie in [0, 1], both ends included", () => {
      for (const v of [0, 1, 0.5]) assert.deepEqual(problems({}, { successRate: v }), [], String(v));
      for (const v of [-0.001, 1.001]) assert.deepEqual(problems({}, { successRate: v }), ["results.successRate: a ratio in [0, 1]"], String(v));
    });

    it("seconds are >= 0, zero included", () => {
      assert.deepEqual(problems({ durationSeconds: 0 }), []);
      assert.deepEqual(problems({ durationSeconds: -0.5 }), ["durationSeconds: seconds >= 0"]);
    });

    it("problems name the dotted field, or (root) for a document that is no object", () => {
      const r = parseArtifact({ ...base, kind: "poi", results: { generate: {}, verify: {}, backend: "x" } });
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.problems.includes("results.generate.samples: a non-negative integer"), JSON.stringify(r));
      assert.deepEqual(parseArtifact({ ...base, git: { commit: "x", dirty: false }, results }), { ok: false, problems: ['git.commit: a full git commit id (or "unknown")'] });
      const top = parseArtifact(42);
      assert.ok(!top.ok && top.problems.length === 1 && top.problems[0]!.startsWith("(root): "), JSON.stringify(top));
    });
  });

  describe("latency statistics", () => {
    it("sorts the samples, then min, mean, nearest-rank percentiles and max in seconds", () => {
      const s = summarizeNanos([3_000_000_000n, 1_000_000_000n, 2_000_000_000n, 6_000_000_000n]);
      assert.deepEqual(s, { samples: 4, minSeconds: 1, meanSeconds: 3, p50Seconds: 2, p95Seconds: 6, p99Seconds: 6, maxSeconds: 6 });
      assert.deepEqual([1, 25, 26, 100].map((p) => percentile([10, 20, 30, 40], p)), [10, 10, 20, 40]);
      assert.throws(() => percentile([], 50), { name: "RangeError", message: "no samples" });
      for (const p of [0, 100.5, Number.NaN]) assert.throws(() => percentile([1], p), { name: "RangeError", message: "p must be in (0, 100]" });
    });

    it("time since a reading is non-negative and less than the monotonic clock itself", () => {
      const start = process.hrtime.bigint();
      const d = since(start);
      assert.ok(d >= 0n && d < start, `${d} since ${start}`);
      assert.ok(since(start - 1_000_000n) >= 1_000_000n);
    });
  });
});
