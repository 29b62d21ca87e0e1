import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Artifact, ARTIFACT_SCHEMA, canonicalJson, loadEvidenceKey, manifestDigest, parseArtifact, percentile, signatureValid, signEvidence, summarizeNanos, verifyEvidence, writeArtifact } from "@bizra/evidence";

const artifact = (kind: string, results: Record<string, unknown>): Artifact => ({
  schema: ARTIFACT_SCHEMA, kind, title: kind, method: "test", createdAt: new Date().toISOString(), durationSeconds: 0,
  machine: { cores: 1, cpuModel: "t", node: "v20", platform: "linux", arch: "x64", totalMemoryBytes: 1 },
  git: { commit: "a".repeat(40), dirty: false }, gates: [], results,
});

describe("evidence", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "node-evidence-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("nearest-rank percentiles over raw samples", () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(s, 50), 50);
    assert.equal(percentile(s, 99), 99);
    assert.equal(percentile([7], 99), 7);
    const sum = summarizeNanos([3000n, 1000n, 2000n]);
    assert.deepEqual([sum.samples, sum.p50Seconds, sum.maxSeconds], [3, 2e-6, 3e-6]);
  });

  it("canonical JSON is key-order independent", () => {
    assert.equal(canonicalJson({ b: 1, a: { d: 2, c: [3] } }), canonicalJson({ a: { c: [3], d: 2 }, b: 1 }));
  });

  it("creates the key with mode 0600 and reuses it", () => {
    const file = path.join(dir, "key", "ed25519.seed");
    const k1 = loadEvidenceKey({ file });
    assert.equal(k1.created, true);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(loadEvidenceKey({ file }).publicKeyHex, k1.publicKeyHex);
    assert.throws(() => loadEvidenceKey({ env: { BIZRA_EVIDENCE_KEY_FILE: path.join(dir, "absent") } }), /does not exist \(from BIZRA_EVIDENCE_KEY_FILE\)/);
  });

  it("signs every *.json artifact present (including foreign kinds) and verifies", () => {
    const bundle = path.join(dir, "bundle");
    const key = loadEvidenceKey({ file: path.join(dir, "key", "ed25519.seed") });
    writeArtifact(bundle, "finality.json", artifact("finality", { samples: 1, minSeconds: 0, meanSeconds: 0, p50Seconds: 0, p95Seconds: 0, p99Seconds: 0, maxSeconds: 0, validators: 1, votes: 1, blocks: 1 }));
    writeArtifact(bundle, "perf-bench.json", artifact("perf-bench", { anything: 1 }));
    const m = signEvidence(bundle, { key, git: { commit: "a".repeat(40), dirty: false } });
    assert.deepEqual(m.artifacts.map((a) => a.file), ["finality.json", "perf-bench.json"]);
    assert.equal(signatureValid(m), true);
    assert.equal(manifestDigest(m).length, 32);
    const r = verifyEvidence(bundle, { trustedKeys: [key.publicKeyHex], commit: "a".repeat(40), maxAgeHours: 1 });
    assert.deepEqual(r.problems, []);
  });

  it("rejects a known kind with malformed results, naming the field", () => {
    const r = parseArtifact(artifact("verify-success", { attempted: 1 }));
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.problems.some((p) => p.startsWith("results.verified:")), JSON.stringify(r));
  });
});
