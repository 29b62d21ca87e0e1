/** The evidence verifier's rules, one refusal at a time: code, file, field and message, on a bundle this test owns. */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { blake3Hex, canonicalJson, formatProblems, loadEvidenceKey, percentile, resolveBundleDir, signEvidence, valueAt, verifyEvidence, writeArtifact, ARTIFACT_SCHEMA, type Artifact, type EvidenceKey, type EvidenceReport } from "@bizra/evidence";

const COMMIT = "a".repeat(40);
const OTHER = "b".repeat(40);
const CREATED = new Date("2026-01-01T00:00:00.000Z");
const HOUR = 3_600_000;

const artifact = (kind: string, commit = COMMIT): Artifact => ({
  schema: ARTIFACT_SCHEMA, kind, title: kind, method: "test", createdAt: CREATED.toISOString(), durationSeconds: 0,
  machine: { cores: 1, cpuModel: "t", node: "v20", platform: "linux", arch: "x64", totalMemoryBytes: 1 },
  git: { commit, dirty: false }, gates: [], results: { n: 1 },
});

describe("evidence verifier rules", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-verify-rules-"));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  let key: EvidenceKey;
  let other: EvidenceKey;
  let n = 0;
  before(() => {
    key = loadEvidenceKey({ file: path.join(root, "key.seed") });
    other = loadEvidenceKey({ file: path.join(root, "other.seed") });
  });

  /** A signed bundle of three artifacts (a.json, b.json, c.json); `edit` runs before signing. */
  function bundle(edit: (dir: string) => void = () => undefined, signer = () => key): string {
    const dir = path.join(root, `b${n++}`);
    for (const f of ["a", "b", "c"]) writeArtifact(dir, `${f}.json`, artifact(f));
    edit(dir);
    signEvidence(dir, { key: signer(), git: { commit: COMMIT, dirty: false }, createdAt: CREATED });
    return dir;
  }
  const verify = (dir: string, opts: Partial<Parameters<typeof verifyEvidence>[1]> = {}): EvidenceReport =>
    verifyEvidence(dir, { trustedKeys: [key.publicKeyHex], commit: COMMIT, maxAgeHours: 1, now: CREATED, ...opts });
  const only = (r: EvidenceReport) => {
    assert.equal(r.ok, false);
    assert.equal(r.problems.length, 1, formatProblems(r));
    return r.problems[0]!;
  };

  it("a good bundle: ok, every artifact returned, from the folder or its manifest path", () => {
    const dir = bundle();
    for (const target of [dir, path.join(dir, "manifest.json")]) {
      const r = verify(target);
      assert.deepEqual(r.problems, []);
      assert.equal(r.ok, true);
      assert.equal(r.dir, dir);
      assert.deepEqual(Object.keys(r.artifacts), ["a.json", "b.json", "c.json"]);
      assert.equal(r.manifest?.commit, COMMIT);
    }
    assert.equal(resolveBundleDir(dir), dir);
  });

  it("a folder named manifest.json is the bundle itself", () => {
    const dir = path.join(root, "x", "manifest.json");
    fs.mkdirSync(dir, { recursive: true });
    assert.equal(resolveBundleDir(dir), dir);
  });

  it("a target that does not exist: its own folder, unless it is named manifest.json", () => {
    const missing = path.join(root, "no-such-bundle");
    assert.equal(resolveBundleDir(missing), missing);
    assert.equal(resolveBundleDir(path.join(missing, "manifest.json")), missing);
    assert.equal(only(verify(missing)).message, `${path.join(missing, "manifest.json")} does not exist (run \`npm run evidence\`)`);
  });

  it("unreadable: no manifest, or a manifest that is not JSON", () => {
    const empty = path.join(root, `e${n++}`);
    fs.mkdirSync(empty);
    const p = only(verify(empty));
    assert.deepEqual([p.code, p.file, p.message], ["unreadable", "manifest.json", `${path.join(empty, "manifest.json")} does not exist (run \`npm run evidence\`)`]);
    fs.writeFileSync(path.join(empty, "manifest.json"), "{");
    const q = only(verify(empty));
    assert.equal(q.code, "unreadable");
    assert.match(q.message, /^manifest\.json is not valid JSON: /);
  });

  it("malformed-manifest names the field", () => {
    const dir = bundle();
    const m = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    m.publicKey = "XYZ";
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(m));
    const p = only(verify(dir));
    assert.deepEqual([p.code, p.file, p.field, p.message], ["malformed-manifest", "manifest.json", "publicKey", "manifest.json: publicKey: 64 lower-case hex digits (Ed25519 public key)"]);
    m.publicKey = key.publicKeyHex;
    m.signing.algorithm = "RSA";
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(m));
    const q = only(verify(dir));
    assert.deepEqual([q.code, q.field, q.message], ["malformed-manifest", "signing.algorithm", 'manifest.json: signing.algorithm: Invalid input: expected "Ed25519"'], "a message with \": \" in it stays whole");
  });

  it("bad-signature: a manifest edited after signing", () => {
    const dir = bundle();
    const m = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    m.dirty = true;
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(m));
    const p = only(verify(dir));
    assert.deepEqual([p.code, p.field], ["bad-signature", "signature"]);
    assert.match(p.message, /^manifest\.json: the Ed25519 signature does not verify/);
  });

  it("untrusted-key: another signer, no trusted keys; trusted keys compare case-insensitively; \"any\" skips the check", () => {
    const dir = bundle(undefined, () => other);
    const p = only(verify(dir));
    assert.deepEqual([p.code, p.field], ["untrusted-key", "publicKey"]);
    assert.equal(p.message, `manifest.json: signed by ${other.publicKeyHex}, which is not a trusted key (trusted: ${key.publicKeyHex})`);
    assert.equal(only(verify(dir, { trustedKeys: [] })).message, `manifest.json: signed by ${other.publicKeyHex}, and no trusted keys are configured`);
    assert.equal(only(verify(dir, { trustedKeys: ["AB", "cd"] })).message, `manifest.json: signed by ${other.publicKeyHex}, which is not a trusted key (trusted: ab, cd)`);
    assert.deepEqual(verify(dir, { trustedKeys: [other.publicKeyHex.toUpperCase()] }).problems, []);
    assert.deepEqual(verify(dir, { trustedKeys: "any" }).problems, []);
  });

  it("wrong-commit: the manifest's and each artifact's own commit, unless no commit is required", () => {
    const dir = bundle();
    const p = verify(dir, { commit: OTHER }).problems[0]!;
    assert.deepEqual([p.code, p.file, p.field, p.message], ["wrong-commit", "manifest.json", "commit", `manifest.json: evidence is from commit ${COMMIT}, required ${OTHER}`]);
    assert.deepEqual(verify(dir, { commit: OTHER }).problems.map((x) => `${x.code} ${x.file} ${x.field}`), [
      "wrong-commit manifest.json commit", "wrong-commit a.json git.commit", "wrong-commit b.json git.commit", "wrong-commit c.json git.commit",
    ]);
    const mixed = bundle((d) => writeArtifact(d, "c.json", artifact("c", OTHER)));
    const q = only(verify(mixed));
    assert.deepEqual([q.code, q.file, q.field, q.message], ["wrong-commit", "c.json", "git.commit", `c.json: measured at commit ${OTHER}, required ${COMMIT}`]);
    assert.deepEqual(verify(mixed, { commit: undefined }).problems, []);
  });

  it("too-old: exactly maxAgeHours passes, one millisecond more fails with the age; no maxAgeHours, no limit", () => {
    const dir = bundle();
    assert.deepEqual(verify(dir, { now: new Date(CREATED.getTime() + 2 * HOUR), maxAgeHours: 2 }).problems, []);
    const p = only(verify(dir, { now: new Date(CREATED.getTime() + 2 * HOUR + 1), maxAgeHours: 2 }));
    assert.deepEqual([p.code, p.field, p.message], ["too-old", "createdAt", `manifest.json: evidence created ${CREATED.toISOString()} is 2.0 h old, more than maxAgeHours 2`]);
    assert.deepEqual(verify(dir, { now: new Date(CREATED.getTime() + 1000 * HOUR), maxAgeHours: undefined }).problems, []);
  });

  it("from-the-future: up to 5 minutes ahead of the clock passes, more fails", () => {
    const dir = bundle();
    assert.deepEqual(verify(dir, { now: new Date(CREATED.getTime() - 5 * 60_000) }).problems, []);
    const p = only(verify(dir, { now: new Date(CREATED.getTime() - 5 * 60_000 - 1) }));
    assert.deepEqual([p.code, p.field, p.message], ["from-the-future", "createdAt", `manifest.json: createdAt ${CREATED.toISOString()} is in the future`]);
  });

  for (const victim of ["a.json", "b.json", "c.json"]) {
    it(`digest-mismatch and missing-artifact are checked for every listed artifact (${victim})`, () => {
      const dir = bundle();
      const file = path.join(dir, victim);
      const changed = fs.readFileSync(file, "utf8").replace('"n": 1', '"n": 2');
      fs.writeFileSync(file, changed);
      const r = verify(dir);
      const p = only(r);
      assert.deepEqual([p.code, p.file, p.field], ["digest-mismatch", victim, "blake3"]);
      assert.match(p.message, new RegExp(`^${victim.replace(".", "\\.")}: BLAKE3 ${blake3Hex(Buffer.from(changed))} differs from the manifest's [0-9a-f]{64} \\(file changed after signing\\)$`));
      assert.ok(!(victim in r.artifacts), "a tampered artifact is not returned");
      fs.rmSync(file);
      const q = only(verify(dir));
      assert.deepEqual([q.code, q.file, q.message], ["missing-artifact", victim, `${victim}: listed in manifest.json but missing from ${dir}`]);
    });
  }

  it("malformed-artifact: signed bytes that are not JSON, or not the artifact schema (field named)", () => {
    const notJson = bundle((d) => fs.writeFileSync(path.join(d, "b.json"), "{nope"));
    const p = only(verify(notJson));
    assert.deepEqual([p.code, p.file], ["malformed-artifact", "b.json"]);
    assert.match(p.message, /^b\.json: not valid JSON \(/);
    const badKind = bundle((d) => fs.writeFileSync(path.join(d, "b.json"), JSON.stringify({ ...artifact("b"), kind: "Not Kebab" })));
    const q = only(verify(badKind));
    assert.deepEqual([q.code, q.file, q.field, q.message], ["malformed-artifact", "b.json", "kind", "b.json: kind: a kebab-case kind"]);
    assert.deepEqual(Object.keys(verify(badKind).artifacts), ["a.json", "c.json"]);
  });

  it("extra-artifact: a *.json present but not listed; dotfiles and other extensions are not artifacts", () => {
    const dir = bundle();
    fs.writeFileSync(path.join(dir, ".hidden.json"), "{}");
    fs.writeFileSync(path.join(dir, "notes.txt"), "x");
    assert.deepEqual(verify(dir).problems, []);
    fs.writeFileSync(path.join(dir, "late.json"), "{}");
    const p = only(verify(dir));
    assert.deepEqual([p.code, p.file, p.message], ["extra-artifact", "late.json", `late.json: present in ${dir} but not listed in manifest.json (re-run signing)`]);
  });

  it("a folder whose artifacts cannot be listed fails closed (a dangling *.json link), with the listed artifacts still checked", () => {
    const dir = bundle();
    fs.symlinkSync(path.join(dir, "gone.json"), path.join(dir, "dangling.json"));
    fs.writeFileSync(path.join(dir, "late.json"), "{}");
    const r = verify(dir);
    const p = only(r);
    assert.deepEqual([p.code, p.file], ["unreadable", "."]);
    assert.ok(p.message.startsWith(`cannot list the artifacts in ${dir}: ENOENT`), p.message);
    assert.deepEqual(Object.keys(r.artifacts), ["a.json", "b.json", "c.json"]);
  });

  it("formatProblems: one [code] message per line", () => {
    const dir = bundle();
    fs.writeFileSync(path.join(dir, "late.json"), "{}");
    fs.rmSync(path.join(dir, "a.json"));
    assert.equal(formatProblems(verify(dir)), `[missing-artifact] a.json: listed in manifest.json but missing from ${dir}\n[extra-artifact] late.json: present in ${dir} but not listed in manifest.json (re-run signing)`);
  });

  it("signing refuses an empty folder, naming it", () => {
    const empty = path.join(root, `e${n++}`);
    fs.mkdirSync(empty);
    assert.throws(() => signEvidence(empty, { key }), new RegExp(`^Error: no \\*\\.json artifacts in ${empty.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} to sign$`));
  });
});

describe("evidence helpers", () => {
  it("canonicalJson: sorted keys, no whitespace, undefined members dropped, non-finite numbers and functions refused", () => {
    assert.equal(canonicalJson({ b: [1, undefined, "x"], a: { d: null, c: true }, u: undefined }), '{"a":{"c":true,"d":null},"b":[1,null,"x"]}');
    assert.throws(() => canonicalJson(Infinity), /^TypeError: canonical JSON has no representation for Infinity$/);
    assert.throws(() => canonicalJson(() => 1), /^TypeError: canonical JSON has no representation for a function$/);
  });

  it("percentile: nearest rank, p in (0, 100]", () => {
    assert.equal(percentile([1, 2, 3, 4], 25), 1);
    assert.equal(percentile([1, 2, 3, 4], 26), 2);
    assert.equal(percentile([1, 2, 3, 4], 100), 4);
    assert.equal(percentile([1, 2, 3, 4], 0.001), 1);
    assert.throws(() => percentile([], 50), /^RangeError: no samples$/);
    assert.throws(() => percentile([1], 0), /^RangeError: p must be in \(0, 100\]$/);
    assert.throws(() => percentile([1], 100.5), /^RangeError: p must be in \(0, 100\]$/);
  });

  it("valueAt follows a dotted path and stops at non-objects", () => {
    const doc = { results: { verify: { p99Seconds: 0.5 } }, n: 3 };
    assert.equal(valueAt(doc, "results.verify.p99Seconds"), 0.5);
    assert.equal(valueAt(doc, "n.x"), undefined);
    assert.equal(valueAt(doc, "results.missing.x"), undefined);
    assert.equal(valueAt(null, "a"), undefined);
  });
});
