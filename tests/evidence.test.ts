import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { canonicalJson, runVerifyCli, verifyEvidence } from "@bizra/evidence";
import { cleanupTempDirs, FIXTURE_COMMIT, writeFixture } from "./support/policy-evidence";

describe("evidence bundle (verify library and CLI)", () => {
  after(cleanupTempDirs);

  it("canonical JSON sorts keys and drops whitespace", () => {
    assert.equal(canonicalJson({ b: [1, { d: true, c: "x" }], a: null }), '{"a":null,"b":[1,{"c":"x","d":true}]}');
    assert.throws(() => canonicalJson({ a: Number.NaN }), /no representation/);
  });

  it("verifies a signed bundle (dir or manifest path) and exits 0", () => {
    const f = writeFixture();
    const opts = { trustedKeys: [f.key.publicKeyHex], commit: FIXTURE_COMMIT, maxAgeHours: 24 };
    assert.equal(verifyEvidence(f.dir, opts).ok, true);
    assert.equal(verifyEvidence(path.join(f.dir, "manifest.json"), opts).ok, true);
    const r = runVerifyCli([f.dir, "--trusted-key", f.key.publicKeyHex, "--commit", FIXTURE_COMMIT]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /evidence OK: .*\n {2}6 artifacts: finality\.json, http-load\.json, perf-bench\.json, poi\.json, verify-success\.json, wq-determinism\.json/);
  });

  it("names what is wrong and exits 1", () => {
    const f = writeFixture();
    fs.rmSync(path.join(f.dir, "finality.json"));
    const r = runVerifyCli([f.dir, "--trusted-key", "ab".repeat(32), "--commit", "3".repeat(40), "--max-age-hours", "0.5"]);
    assert.equal(r.code, 1);
    for (const code of ["untrusted-key", "missing-artifact", "wrong-commit", "too-old"]) assert.match(r.out, new RegExp(`\\[${code}\\]`));
  });

  it("rejects a malformed artifact naming the file and field, even when re-signed", () => {
    const f = writeFixture();
    const file = path.join(f.dir, "http-load.json");
    const a = JSON.parse(fs.readFileSync(file, "utf8"));
    a.results.errorRate = "zero";
    delete a.machine;
    fs.writeFileSync(file, JSON.stringify(a));
    // re-sign so only the schema is wrong
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("@bizra/evidence").signEvidence(f.dir, { key: f.key, git: { commit: FIXTURE_COMMIT, dirty: false } });
    const report = verifyEvidence(f.dir, { trustedKeys: [f.key.publicKeyHex] });
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((p) => p.code === "malformed-artifact" && p.file === "http-load.json" && p.field === "machine"), JSON.stringify(report.problems));
  });

  it("rejects a malformed manifest naming the field", () => {
    const f = writeFixture();
    const file = path.join(f.dir, "manifest.json");
    const m = JSON.parse(fs.readFileSync(file, "utf8"));
    m.artifacts[0].blake3 = "xyz";
    fs.writeFileSync(file, JSON.stringify(m));
    const report = verifyEvidence(f.dir, { trustedKeys: "any" });
    assert.equal(report.problems[0]?.code, "malformed-manifest");
    assert.match(report.problems[0]?.message ?? "", /manifest\.json: artifacts\.0\.blake3: 64 lower-case hex digits/);
  });

  it("bad usage exits 2", () => {
    assert.equal(runVerifyCli(["--trusted-key", "nothex"]).code, 2);
    assert.equal(runVerifyCli(["--bogus"]).code, 2);
  });
});
