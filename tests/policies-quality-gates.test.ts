import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { advisoryGates, assessQualityGates, evidenceAndCriticalGates, postDeployReportGate, qualityGatePolicies } from "../policies/quality-gates/policies";
import { postDeployProblems } from "../policies/quality-gates/post-deploy";
import { summaryLine } from "../policies/quality-gates/gates";
import { POST_DEPLOY_REPORT_ANNOTATION } from "@bizra/contract";
import { ARTIFACT_SCHEMA, blake3Hex, signEvidence, writeArtifact } from "@bizra/evidence";
import { FIXTURE_COMMIT } from "./support/policy-evidence";
import { testStackConfig } from "./support/stack";
import { kubernetesObjects, runProgram } from "../scripts/lib/mock-runtime";
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
    assert.deepEqual(qualityGatePolicies.map((p) => p.enforcementLevel), ["mandatory", "advisory", "mandatory"]);
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

  it("the violation text: one failing gate in the singular, several in the plural, a line each, then the summary", async () => {
    const f = writeFixture({ numbers: { ...PASSING, successRate: 0.95 } });
    const summary = summaryLine(assessQualityGates(stackArgs([sloConfigMap()]), f.config).summary!);
    assert.deepEqual((await violations(f.config)).mandatory, [
      "1 mandatory (critical/consensus) gate failed:\n  - poi-verify-success-rate (poiVerifySuccessRate, critical): measured 0.95, threshold >= 0.99 ratio, " +
        `artifact verify-success.json#results.successRate\n${summary}`,
    ]);
    const g = writeFixture({ numbers: { ...PASSING, successRate: 0.95, agreed: false } });
    const two = (await violations(g.config)).mandatory;
    assert.equal(two.length, 1);
    const lines = two[0]!.split("\n");
    assert.deepEqual([lines.length, lines[0], lines[1]?.startsWith("  - poi-verify-success-rate "), lines[2]?.startsWith("  - wq-determinism ")], [4, "2 mandatory (critical/consensus) gates failed:", true, true]);
    const h = writeFixture({ numbers: { ...PASSING, poiVerifyP99: 0.002, cacheHitRate: 0.1 } });
    assert.match((await violations(h.config)).advisory[0]!, /^2 advisory \(warning\/canary\) gates failed:\n {2}- /);
  });

  it("rejected evidence is one violation listing each problem on its own line; an unknown commit is named", async () => {
    const f = writeFixture({ key: loadEvidenceKey({ file: path.join(tempDir(), "other.seed") }) });
    const v = await violations({ ...f.config, trustedPublicKeys: ["ab".repeat(32)] });
    assert.equal(v.mandatory.length, 1);
    assert.match(v.mandatory[0]!, /^evidence rejected:\n {2}- \[untrusted-key\] /);
    const g = writeFixture();
    assert.deepEqual(assessQualityGates(stackArgs([sloConfigMap()]), { ...g.config, requireCommit: "" }, g.now).integrity, [
      "[wrong-commit] requireCommit is not configured and git HEAD is unknown: cannot tell which commit the evidence must be from",
    ]);
    assert.deepEqual(assessQualityGates(stackArgs([sloConfigMap()]), g.config, g.now).integrity, []);
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

describe("quality-gates pack: the post-deploy report (bizra:postDeployReport)", () => {
  after(cleanupTempDirs);
  const requiring = (req: object | string): PlainResource => {
    const cm = sloConfigMap();
    return { ...cm, props: { ...cm.props, metadata: { ...cm.props.metadata, annotations: { [POST_DEPLOY_REPORT_ANNOTATION]: typeof req === "string" ? req : JSON.stringify(req) } } } };
  };
  /** A report bundle as `npm run validate` writes it, signed by the fixture's key. */
  function writeReport(postDeployDir: string, key: ReturnType<typeof writeFixture>["key"], opts: { verdict?: string; stack?: string; createdAt?: Date; file?: string } = {}) {
    const dir = path.join(postDeployDir, "testnet");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "report.html"), "<!doctype html><title>report</title>");
    const html = { file: "report.html", blake3: blake3Hex(new Uint8Array(fs.readFileSync(path.join(dir, "report.html")))) };
    const createdAt = (opts.createdAt ?? new Date()).toISOString();
    writeArtifact(dir, opts.file ?? "post-deploy.json", {
      schema: ARTIFACT_SCHEMA,
      kind: "post-deploy",
      title: "Post-deploy SLA validation of testnet",
      method: "fixture",
      createdAt,
      durationSeconds: 1,
      machine: { cores: 2, cpuModel: "x", node: "v20", platform: "linux", arch: "x64", totalMemoryBytes: 1 },
      git: { commit: FIXTURE_COMMIT, dirty: false },
      gates: [],
      results: { stack: opts.stack ?? "testnet", verdict: opts.verdict ?? "go", reasons: opts.verdict === "no-go" ? ["apiErrorRate: measured 20%, the SLO requires <= 1%"] : [], html },
    });
    signEvidence(dir, { key, git: { commit: FIXTURE_COMMIT, dirty: false }, ...(opts.createdAt ? { createdAt: opts.createdAt } : {}) });
    return dir;
  }

  it("no requirement without the annotation", async () => {
    const f = writeFixture();
    assertNoViolations(await stackViolations(postDeployReportGate, stackArgs([sloConfigMap()], f.config)));
  });

  it("a fresh, signed GO report for the commit passes", async () => {
    const f = writeFixture();
    writeReport(f.config.postDeployDir, f.key);
    assertNoViolations(await stackViolations(postDeployReportGate, stackArgs([requiring({ stack: "testnet", maxAgeHours: 24 })], f.config)));
  });

  it("no report: names where it looked and the command to run", async () => {
    const f = writeFixture();
    assertHasViolation(await stackViolations(postDeployReportGate, stackArgs([requiring({ stack: "testnet", maxAgeHours: 24 })], f.config)), /\[no-post-deploy-report\] no report in .*testnet: run `npm run validate -- testnet`/);
  });

  it("a NO-GO report is refused with its reasons", async () => {
    const f = writeFixture();
    writeReport(f.config.postDeployDir, f.key, { verdict: "no-go" });
    assertHasViolation(await stackViolations(postDeployReportGate, stackArgs([requiring({ stack: "testnet", maxAgeHours: 24 })], f.config)), /\[not-go\] the post-deploy report of testnet says no-go: apiErrorRate: measured 20%/);
  });

  it("a stale report, an edited page, a foreign key and a malformed annotation are refused", async () => {
    const f = writeFixture();
    writeReport(f.config.postDeployDir, f.key, { createdAt: new Date(Date.now() - 30 * 3600 * 1000) });
    assertHasViolation(await stackViolations(postDeployReportGate, stackArgs([requiring({ stack: "testnet", maxAgeHours: 24 })], f.config)), /\[too-old\]/);
    const g = writeFixture();
    const dir = writeReport(g.config.postDeployDir, g.key);
    fs.appendFileSync(path.join(dir, "report.html"), "<p>all green</p>");
    assertHasViolation(await stackViolations(postDeployReportGate, stackArgs([requiring({ stack: "testnet", maxAgeHours: 24 })], g.config)), /\[digest-mismatch\] report\.html/);
    const h = writeFixture();
    writeReport(h.config.postDeployDir, writeFixture().key);
    assertHasViolation(await stackViolations(postDeployReportGate, stackArgs([requiring({ stack: "testnet", maxAgeHours: 24 })], h.config)), /\[untrusted-key\]/);
    assertHasViolation(await stackViolations(postDeployReportGate, stackArgs([requiring("yes please")], h.config)), /is not \{"stack"/);
  });

  it("postDeployProblems: each refusal by its code, for the required stack, at the given time", () => {
    const req = { stack: "testnet", maxAgeHours: 24 };
    const f = writeFixture();
    const dir = f.config.postDeployDir;
    const opts = { dir, trustedKeys: [f.key.publicKeyHex], commit: FIXTURE_COMMIT };
    fs.mkdirSync(path.join(dir, "testnet"), { recursive: true });
    assert.deepEqual(postDeployProblems(req, opts), [`[no-post-deploy-report] no report in ${path.join(dir, "testnet")}: run \`npm run validate -- testnet\` against the deployed testnet stack on this commit`]);
    const reportDir = writeReport(dir, f.key);
    assert.deepEqual(postDeployProblems(req, opts), []);
    assert.deepEqual(postDeployProblems(req, { ...opts, commit: "" }), ["[wrong-commit] the commit being deployed is unknown: cannot tell whether the report is for it"]);
    assert.match(postDeployProblems(req, { ...opts, commit: "2".repeat(40) }).join("\n"), /^\[wrong-commit\] post-deploy manifest\.json: evidence is from commit 1{40}, required 2{40}\n/);
    assert.match(postDeployProblems(req, { ...opts, now: new Date(Date.now() + 30 * 3600 * 1000) }).join("\n"), /^\[too-old\] post-deploy /);
    fs.rmSync(path.join(reportDir, "report.html"));
    assert.match(postDeployProblems(req, opts).join("\n"), /^\[digest-mismatch\] report\.html: BLAKE3 missing differs from the signed report's [0-9a-f]{64}$/);
  });

  it("postDeployProblems: a report of another stack, a verdict other than go, a bundle without the report artifact", () => {
    const req = { stack: "testnet", maxAgeHours: 24 };
    const f = writeFixture();
    writeReport(f.config.postDeployDir, f.key, { stack: "production", verdict: "maybe" });
    const opts = { dir: f.config.postDeployDir, trustedKeys: [f.key.publicKeyHex], commit: FIXTURE_COMMIT };
    assert.deepEqual(postDeployProblems(req, opts), ["[wrong-stack] the report judges stack production, required testnet", "[not-go] the post-deploy report of testnet says maybe: "]);
    const g = writeFixture();
    const dir = writeReport(g.config.postDeployDir, g.key, { file: "other.json" });
    assert.deepEqual(postDeployProblems(req, { ...opts, dir: g.config.postDeployDir, trustedKeys: [g.key.publicKeyHex] }), [`[missing-artifact] post-deploy.json is not in the report bundle ${dir}`]);
  });

  it("the gate's violation lists each problem on its own line under the stack", async () => {
    const f = writeFixture();
    writeReport(f.config.postDeployDir, f.key, { verdict: "no-go" });
    assert.deepEqual(await stackViolations(postDeployReportGate, stackArgs([requiring({ stack: "testnet", maxAgeHours: 24 })], f.config)), [
      "post-deploy report of testnet rejected:\n  - [not-go] the post-deploy report of testnet says no-go: apiErrorRate: measured 20%, the SLO requires <= 1%",
    ]);
    assert.deepEqual(await stackViolations(postDeployReportGate, stackArgs([requiring("{}")], f.config)), [`annotation ${POST_DEPLOY_REPORT_ANNOTATION} is not {"stack": <name>, "maxAgeHours": <hours>}: {}`]);
  });

  it("the program carries bizra:postDeployReport to the pack as the SLO ConfigMap annotation", async () => {
    const run = await runProgram("production", testStackConfig("production", { "bizra:postDeployReport": { stack: "testnet", maxAgeHours: 12 } }));
    const cm = kubernetesObjects(run).find((o) => o.kind === "ConfigMap" && o.metadata.name === "node0-slo");
    assert.equal(cm?.metadata.annotations?.[POST_DEPLOY_REPORT_ANNOTATION], JSON.stringify({ stack: "testnet", maxAgeHours: 12 }));
  });
});
