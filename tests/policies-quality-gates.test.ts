import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { advisoryGates, assessQualityGates, evidenceAndCriticalGates, qualityGatePolicies } from "../policies/quality-gates/policies";
import { evaluateGates, REQUIRED_GATES, summarizeGates } from "../policies/quality-gates/gates";
import { loadEvidenceKey } from "@bizra/evidence";
import { resolveSlos } from "../components/slo";
import { sloDocument } from "../components/slo-configmap";
import { assertHasViolation, assertNoViolations, packViolations, programResources, stackArgs, stackViolations, type PlainResource } from "./support/policy";
import { cleanupTempDirs, fixtureArtifacts, PASSING, tempDir, writeFixture } from "./support/policy-evidence";

const sloConfigMap = (overrides = {}): PlainResource => ({
  type: "kubernetes:core/v1:ConfigMap",
  name: "slo",
  props: { metadata: { name: "node0-slo", namespace: "bizra-node0" }, data: { "slo.json": JSON.stringify(sloDocument(resolveSlos(overrides))) } },
});

async function violations(fixtureConfig: object, resources: PlainResource[] = [sloConfigMap()]) {
  const args = stackArgs(resources, fixtureConfig);
  return {
    mandatory: await stackViolations(evidenceAndCriticalGates, args),
    advisory: await stackViolations(advisoryGates, args),
  };
}

describe("quality-gates pack", () => {
  after(cleanupTempDirs);

  it("declares one mandatory and one advisory stack policy, each with description and remediation", () => {
    assert.deepEqual(qualityGatePolicies.map((p) => p.enforcementLevel), ["mandatory", "advisory"]);
    for (const p of qualityGatePolicies) assert.ok(p.description && p.remediationSteps && p.configSchema);
  });

  it("passes a valid bundle whose numbers meet the SLO table, with summary 9/9 grade A", async () => {
    const f = writeFixture();
    const v = await violations(f.config);
    assertNoViolations([...v.mandatory, ...v.advisory]);
    const outcome = assessQualityGates(stackArgs([sloConfigMap()]), f.config);
    assert.deepEqual(outcome.summary, { passed: 9, total: 9, score: 100, grade: "A", mandatoryFailed: 0 });
  });

  it("tampering: a changed number in an artifact is a digest mismatch", async () => {
    const f = writeFixture();
    const file = path.join(f.dir, "perf-bench.json");
    const before = fs.readFileSync(file, "utf8");
    const after = before.replace(/"medianPerSecond": 150000\b/g, '"medianPerSecond": 150001');
    assert.notEqual(after, before, "fixture perf-bench.json holds the throughput figure");
    fs.writeFileSync(file, after);
    const v = await violations(f.config);
    assertHasViolation(v.mandatory, /\[digest-mismatch\] perf-bench\.json: BLAKE3 [0-9a-f]{64} differs from the manifest's/);
    assertNoViolations(v.advisory);
  });

  it("tampering: a manifest signed by an untrusted key", async () => {
    const f = writeFixture({ key: loadEvidenceKey({ file: path.join(tempDir(), "other.seed") }) });
    const trusted = loadEvidenceKey({ file: path.join(tempDir(), "trusted.seed") }).publicKeyHex;
    const v = await violations({ ...f.config, trustedPublicKeys: [trusted] });
    assertHasViolation(v.mandatory, `[untrusted-key] manifest.json: signed by ${f.key.publicKeyHex}, which is not a trusted key (trusted: ${trusted})`);
  });

  it("tampering: an edited manifest no longer verifies", async () => {
    const f = writeFixture();
    const file = path.join(f.dir, "manifest.json");
    const m = JSON.parse(fs.readFileSync(file, "utf8"));
    m.dirty = true;
    fs.writeFileSync(file, JSON.stringify(m, null, 2));
    assertHasViolation((await violations(f.config)).mandatory, "[bad-signature] manifest.json: the Ed25519 signature does not verify");
  });

  it("tampering: a missing artifact", async () => {
    const f = writeFixture();
    fs.rmSync(path.join(f.dir, "http-load.json"));
    assertHasViolation((await violations(f.config)).mandatory, "[missing-artifact] http-load.json: listed in manifest.json but missing");
  });

  it("tampering: an artifact added after signing", async () => {
    const f = writeFixture();
    fs.writeFileSync(path.join(f.dir, "extra-bench.json"), "{}");
    assertHasViolation((await violations(f.config)).mandatory, "[extra-artifact] extra-bench.json: present in");
  });

  it("evidence from another commit", async () => {
    const other = "2".repeat(40);
    const f = writeFixture({ commit: other });
    assertHasViolation((await violations(f.config)).mandatory, `[wrong-commit] manifest.json: evidence is from commit ${other}, required ${"1".repeat(40)}`);
  });

  it("a too-old manifest", async () => {
    const f = writeFixture({ createdAt: new Date(Date.now() - 48 * 3_600_000) });
    assertHasViolation((await violations(f.config)).mandatory, /\[too-old\] manifest\.json: evidence created .* is 48\.0 h old, more than maxAgeHours 24/);
  });

  it("a critical gate failing on the numbers is a mandatory violation naming value, threshold and artifact", async () => {
    const f = writeFixture({ numbers: { ...PASSING, successRate: 0.95 } });
    const v = await violations(f.config);
    assertHasViolation(v.mandatory, "poi-verify-success-rate (poiVerifySuccessRate, critical): measured 0.95, threshold >= 0.99 ratio, artifact verify-success.json#results.successRate");
    assertHasViolation(v.mandatory, /grade F/);
  });

  it("a failed determinism proof is a mandatory violation", async () => {
    const f = writeFixture({ numbers: { ...PASSING, agreed: false } });
    assertHasViolation((await violations(f.config)).mandatory, "wq-determinism (fastFinalityBp, consensus): measured false, threshold true, artifact wq-determinism.json#results.agreed");
  });

  it("a warning gate failing on the numbers is advisory only, with the summary", async () => {
    const f = writeFixture({ numbers: { ...PASSING, poiVerifyP99: 0.002 } });
    const v = await violations(f.config);
    assertNoViolations(v.mandatory);
    assertHasViolation(v.advisory, "poi-verify-p99 (poiVerifyP99, warning): measured 0.002, threshold < 0.0004 seconds, artifact poi.json#results.verify.p99Seconds");
    assertHasViolation(v.advisory, "quality gates: 8/9 passed, score 88.9/100 (weights critical 3, consensus 3, warning 2, canary 1, advisory 1), grade B");
  });

  it("the throughput gate is defined once, by perf-bench.json (best 2-thread full-pipeline median), not by poi.json", async () => {
    const arts = fixtureArtifacts();
    const declaring = Object.entries(arts).filter(([, a]) => a.gates.some((g) => g.gate === "poi-verify-throughput")).map(([file]) => file);
    assert.deepEqual(declaring, ["perf-bench.json"]);
    assert.deepEqual(
      REQUIRED_GATES.find((g) => g.gate === "poi-verify-throughput"),
      { gate: "poi-verify-throughput", slo: "poiVerifyThroughput", file: "perf-bench.json", field: "results.best2Threads.medianPerSecond" },
    );
    const f = writeFixture({ numbers: { ...PASSING, poiVerifyThroughput: 36_000 } });
    const v = await violations(f.config);
    assertHasViolation([...v.mandatory, ...v.advisory], /poi-verify-throughput \(poiVerifyThroughput, \w+\): measured 36000, threshold >= 100000 .*artifact perf-bench\.json#results\.best2Threads\.medianPerSecond/);
  });

  it("thresholds come from the stack's SLO ConfigMap, not from defaults", async () => {
    const f = writeFixture();
    const v = await violations(f.config, [sloConfigMap({ finalityCheckP99: 0.000005 })]);
    assertHasViolation(v.mandatory, "finality-check-p99 (finalityCheckP99, critical): measured 0.00001, threshold < 0.000005 seconds");
  });

  it("without the SLO ConfigMap the gates cannot be evaluated", async () => {
    const f = writeFixture();
    assertHasViolation((await violations(f.config, [])).mandatory, '[no-slo-table] no ConfigMap with data key "slo.json"');
  });

  it("a required gate that no artifact measures fails", () => {
    const artifacts = fixtureArtifacts();
    delete (artifacts as Record<string, unknown>)["finality.json"];
    const table = JSON.parse(sloConfigMap().props.data["slo.json"]);
    const results = evaluateGates({ artifacts }, table);
    const missing = results.find((r) => r.gate === "finality-check-p99");
    assert.equal(missing?.passed, false);
    assert.equal(missing?.note, "no artifact measures required gate finality-check-p99");
    assert.equal(results.length, REQUIRED_GATES.length);
    assert.equal(summarizeGates(results).grade, "F");
  });

  for (const stack of ["testnet", "production"]) {
    it(`passes over the ${stack} stack's resources as the program produces them`, async () => {
      const f = writeFixture();
      const resources = await programResources(stack);
      assertNoViolations(await packViolations(qualityGatePolicies, resources, f.config, stack));
    });
  }
});
