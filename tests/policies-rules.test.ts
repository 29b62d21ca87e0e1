/** The packs' rules as pure functions, one boundary or refusal at a time (no program run needed). */
import * as assert from "node:assert/strict";
import { imageProblems, kyvernoEnforces, registriesFromStack, securityProblems } from "../policies/k8s-hardening/hardening";
import { containersOf, isWorkload, podSpecOf, workloadName } from "../policies/k8s-hardening/workloads";
import { describeGate, evaluateGates, isMandatory, summarizeGates, summaryLine, type GateResult } from "../policies/quality-gates/gates";
import { readSloTable, stackName, stackOfUrn, type StackSloTable } from "../policies/shared/stack";
import { policyResource } from "./support/policy";
import type { Artifact } from "@bizra/evidence";

const DIGEST = `@sha256:${"0".repeat(64)}`;
const hardened = () => ({
  runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false,
  capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
});

describe("k8s-hardening rules", () => {
  it("a hardened container has no problems; each weakening is named", () => {
    assert.deepEqual(securityProblems({}, { securityContext: hardened() }), []);
    const cases: [Record<string, unknown>, string][] = [
      [{ runAsNonRoot: false }, "runAsNonRoot must be true (container or pod securityContext) and runAsUser not 0"],
      [{ runAsUser: 0 }, "runAsNonRoot must be true (container or pod securityContext) and runAsUser not 0"],
      [{ readOnlyRootFilesystem: false }, "securityContext.readOnlyRootFilesystem must be true"],
      [{ allowPrivilegeEscalation: true }, "securityContext.allowPrivilegeEscalation must be false"],
      [{ allowPrivilegeEscalation: undefined }, "securityContext.allowPrivilegeEscalation must be false"],
      [{ privileged: true }, "securityContext.privileged must not be true"],
      [{ capabilities: { drop: ["NET_RAW"] } }, "securityContext.capabilities.drop must include ALL"],
      [{ capabilities: undefined }, "securityContext.capabilities.drop must include ALL"],
      [{ seccompProfile: { type: "Unconfined" } }, "seccompProfile.type must be RuntimeDefault (container or pod securityContext)"],
    ];
    for (const [patch, problem] of cases) assert.deepEqual(securityProblems({}, { securityContext: { ...hardened(), ...patch } }), [problem], JSON.stringify(patch));
    assert.deepEqual(securityProblems({}, { securityContext: { ...hardened(), runAsUser: 10001 } }), []);
    assert.deepEqual(securityProblems({}, { securityContext: { ...hardened(), seccompProfile: { type: "Localhost" } } }), []);
  });

  it("pod-level runAsNonRoot, runAsUser and seccompProfile count; the container's own setting wins", () => {
    const { runAsNonRoot: _n, seccompProfile: _s, ...bare } = hardened();
    assert.deepEqual(securityProblems({ securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } } }, { securityContext: bare }), []);
    assert.equal(securityProblems({ securityContext: { runAsNonRoot: true, runAsUser: 0 } }, { securityContext: hardened() }).length, 1);
    assert.deepEqual(securityProblems({ securityContext: { runAsUser: 0 } }, { securityContext: { ...hardened(), runAsUser: 1000 } }), []);
    assert.equal(securityProblems({ securityContext: { runAsNonRoot: true } }, { securityContext: { ...hardened(), runAsNonRoot: false } }).length, 1);
    assert.deepEqual(securityProblems({ securityContext: { seccompProfile: { type: "Unconfined" } } }, { securityContext: hardened() }), []);
    assert.equal(securityProblems(undefined, {}).length, 5, "nothing set: all five rules but privileged fail");
  });

  it("images: digest-pinned and from an allowed registry prefix (a path boundary, not a string prefix)", () => {
    assert.equal(imageProblems(`ghcr.io/bizra/node${DIGEST}`, ["ghcr.io/bizra"]), undefined);
    assert.equal(imageProblems(`ghcr.io/bizra-evil/node${DIGEST}`, ["ghcr.io/bizra"]), `image ghcr.io/bizra-evil/node${DIGEST} is not from an allowed registry (ghcr.io/bizra)`);
    assert.equal(imageProblems(`other.io/x${DIGEST}`, ["a.io", "b.io"]), `image other.io/x${DIGEST} is not from an allowed registry (a.io, b.io)`);
    assert.equal(imageProblems("ghcr.io/bizra/node:1.0", ["ghcr.io/bizra"]), "image ghcr.io/bizra/node:1.0 is not pinned by digest (@sha256:<64 hex>)");
    assert.equal(imageProblems(`ghcr.io/bizra/node@sha256:${"0".repeat(63)}`, ["ghcr.io/bizra"]), `image ghcr.io/bizra/node@sha256:${"0".repeat(63)} is not pinned by digest (@sha256:<64 hex>)`);
    assert.equal(imageProblems(`ghcr.io/bizra/node${DIGEST}x`, ["ghcr.io/bizra"]), `image ghcr.io/bizra/node${DIGEST}x is not pinned by digest (@sha256:<64 hex>)`);
    assert.equal(imageProblems("", ["ghcr.io/bizra"]), "has no image");
    assert.equal(imageProblems(undefined, ["ghcr.io/bizra"]), "has no image");
  });

  it("registries come from the Kyverno imageReferences, wildcards trimmed, duplicates once", () => {
    const cp = (refs: string[]) => policyResource({ type: "kubernetes:kyverno.io/v1:ClusterPolicy", name: "cp", props: { spec: { rules: [{ verifyImages: [{ imageReferences: refs }] }] } } }, "testnet");
    assert.deepEqual(registriesFromStack([cp(["ghcr.io/bizra/*", "ghcr.io/bizra*", "x.io/a"]), cp(["ghcr.io/bizra/*"])]), ["ghcr.io/bizra", "x.io/a"]);
    assert.equal(registriesFromStack([cp(["*"])]), undefined);
    assert.equal(registriesFromStack([cp(["a/*/b"])]), undefined);
    assert.equal(registriesFromStack([]), undefined);
  });

  it("Kyverno enforces when every rule enforces: policy action (either case) as the default, rule action or verifyImages action; Audit anywhere, or no rule, does not", () => {
    const cp = (spec: object) => policyResource({ type: "kubernetes:kyverno.io/v1:ClusterPolicy", name: "cp", props: { spec } }, "testnet");
    const rule = { validate: {} };
    assert.equal(kyvernoEnforces(cp({ validationFailureAction: "Enforce", rules: [rule] })), true);
    assert.equal(kyvernoEnforces(cp({ validationFailureAction: "enforce", rules: [rule] })), true);
    assert.equal(kyvernoEnforces(cp({ validationFailureAction: "Enforce" })), false, "no rule: nothing enforced");
    assert.equal(kyvernoEnforces(cp({ validationFailureAction: "Audit", rules: [rule] })), false);
    assert.equal(kyvernoEnforces(cp({ rules: [{ validate: { failureAction: "Enforce" } }] })), true);
    assert.equal(kyvernoEnforces(cp({ rules: [{ verifyImages: [{ failureAction: "Enforce" }, { failureAction: "Enforce" }] }] })), true);
    assert.equal(kyvernoEnforces(cp({ rules: [{ verifyImages: [{ failureAction: "Audit" }, { failureAction: "Enforce" }] }] })), false, "one rule in Audit");
    assert.equal(kyvernoEnforces(cp({ rules: [{ verifyImages: [{ validationFailureAction: "Enforce" }] }] })), true);
    assert.equal(kyvernoEnforces(cp({ rules: [{ verifyImages: [{ failureAction: "Audit" }] }] })), false);
    assert.equal(kyvernoEnforces(cp({ validationFailureAction: "Enforce", rules: [{ validate: { failureAction: "Audit" } }, { verifyImages: [{}] }] })), false);
    assert.equal(kyvernoEnforces(cp({})), false);
  });

  it("workloads: pod specs per kind, init containers first, names with namespace", () => {
    const pod = { containers: [{ name: "c" }], initContainers: [{ name: "i" }] };
    assert.equal(podSpecOf("kubernetes:apps/v1:Deployment", { spec: { template: { spec: pod } } }), pod);
    assert.equal(podSpecOf("kubernetes:batch/v1:CronJob", { spec: { jobTemplate: { spec: { template: { spec: pod } } } } }), pod);
    assert.equal(podSpecOf("kubernetes:core/v1:Pod", { spec: pod }), pod);
    assert.equal(podSpecOf("kubernetes:core/v1:Service", { spec: pod }), undefined);
    assert.deepEqual([isWorkload("kubernetes:apps/v1:StatefulSet"), isWorkload("kubernetes:apps/v1:DaemonSet"), isWorkload("kubernetes:core/v1:ConfigMap")], [true, true, false]);
    assert.deepEqual(containersOf(pod).map((x) => `${x.kind} ${x.c?.name}`), ["initContainer i", "container c"]);
    assert.deepEqual(containersOf(undefined), []);
    assert.equal(workloadName("kubernetes:apps/v1:Deployment", { metadata: { namespace: "ns", name: "d" } }, "fb"), "Deployment ns/d");
    assert.equal(workloadName("kubernetes:batch/v1:Job", {}, "fb"), "Job fb");
  });
});

describe("quality-gates rules", () => {
  const table: StackSloTable = {
    lat: { value: 0.5, unit: "seconds", comparison: "lt", severity: "critical" },
    err: { value: 0.01, unit: "ratio", comparison: "lte", severity: "canary" },
    tput: { value: 100, unit: "per_second", comparison: "gte", severity: "warning" },
    fastFinalityBp: { value: 6700, unit: "basis_points", comparison: "gte", severity: "consensus" },
    economicFinalityBp: { value: 8000, unit: "basis_points", comparison: "gte", severity: "consensus" },
  };
  const art = (gates: Artifact["gates"], results: Artifact["results"]) => ({ gates, results });
  const judge = (slo: string, measured: unknown) =>
    evaluateGates({ artifacts: { "m.json": art([{ gate: "g", slo, field: "results.v", kind: "threshold" }], { v: measured }) } }, table).find((r) => r.gate === "g")!;

  it("a value exactly at the bound: < fails, <= passes, >= passes; one step across flips each", () => {
    assert.equal(judge("lat", 0.5).passed, false);
    assert.equal(judge("lat", 0.4999).passed, true);
    assert.equal(judge("err", 0.01).passed, true);
    assert.equal(judge("err", 0.0101).passed, false);
    assert.equal(judge("tput", 100).passed, true);
    assert.equal(judge("tput", 99.99).passed, false);
  });

  it("the result names severity, mandatory, threshold, file and field", () => {
    const r = judge("lat", 0.25);
    assert.deepEqual(r, { gate: "g", slo: "lat", severity: "critical", mandatory: true, file: "m.json", field: "results.v", measured: 0.25, threshold: "< 0.5 seconds", passed: true });
    assert.equal(judge("err", 0).threshold, "<= 0.01 ratio");
    assert.equal(judge("tput", 1).threshold, ">= 100 per_second");
    assert.equal(judge("tput", 1).mandatory, false);
  });

  it("no number where the gate points, an unknown SLO id, and a gate measured twice all fail with a note", () => {
    for (const v of [undefined, "0.1", Number.NaN, Infinity]) {
      const r = judge("lat", v);
      assert.deepEqual([r.passed, r.measured, r.note, r.threshold], [false, undefined, "m.json has no number at results.v", "< 0.5 seconds"], String(v));
    }
    const unknown = judge("nope", 1);
    assert.deepEqual([unknown.passed, unknown.measured, unknown.threshold, unknown.severity, unknown.mandatory, unknown.note], [false, 1, "?", "critical", true, "SLO id nope is not in the stack's SLO table"]);
    assert.equal(judge("nope", true).measured, true);
    assert.equal(judge("nope", "1").measured, undefined);
    const twice = evaluateGates({ artifacts: {
      "b.json": art([{ gate: "g", slo: "lat", field: "results.v", kind: "threshold" }], { v: 0.1 }),
      "a.json": art([{ gate: "g", slo: "lat", field: "results.v", kind: "threshold" }], { v: 0.1 }),
    } }, table).filter((r) => r.gate === "g");
    assert.deepEqual(twice.map((r) => [r.file, r.passed, r.note ?? null, r.threshold]), [
      ["a.json", true, null, "< 0.5 seconds"],
      ["b.json", false, "gate g is measured by more than one artifact", "measured once"],
    ]);
  });

  it("a proof gate passes only on true, at the stack's finality thresholds", () => {
    const proof = (results: Artifact["results"]) =>
      evaluateGates({ artifacts: { "p.json": art([{ gate: "p", slo: "fastFinalityBp", field: "results.agreed", kind: "proof" }], results) } }, table).find((r) => r.gate === "p")!;
    assert.equal(proof({ agreed: true }).passed, true);
    assert.equal(proof({ agreed: true, thresholds: { fastFinalityBp: 6700, economicFinalityBp: 8000 } }).passed, true);
    assert.equal(proof({ agreed: 1 }).passed, false);
    assert.equal(proof({ agreed: false }).passed, false);
    const wrong = proof({ agreed: true, thresholds: { fastFinalityBp: 6700, economicFinalityBp: 7000 } });
    assert.deepEqual([wrong.passed, wrong.note, wrong.threshold], [false, "proof ran at 6700/7000 bp, the stack uses 6700/8000 bp", "true"]);
    assert.equal(proof({ agreed: true, thresholds: { fastFinalityBp: 6600, economicFinalityBp: 8000 } }).passed, false);
    const noFinality = { p: { value: 1, unit: "", comparison: "gte", severity: "consensus" } } as const;
    const unbound = evaluateGates({ artifacts: { "p.json": art([{ gate: "p", slo: "p", field: "results.agreed", kind: "proof" }], { agreed: true, thresholds: { fastFinalityBp: 1, economicFinalityBp: 2 } }) } }, noFinality);
    assert.deepEqual(unbound.find((r) => r.gate === "p")?.passed, true, "a table without finality thresholds has nothing to compare the proof's with");
  });

  it("every required gate nobody measured is a failing entry, with the table's severity or critical", () => {
    const results = evaluateGates({ artifacts: {} }, table);
    assert.ok(results.length > 0 && results.every((r) => !r.passed && r.note === `no artifact measures required gate ${r.gate}` && r.threshold === "a measurement"));
    const wq = results.find((r) => r.gate === "wq-determinism")!;
    assert.deepEqual([wq.severity, wq.mandatory], ["consensus", true]);
    assert.equal(results.find((r) => r.slo === "finalityCheckP99")!.severity, "critical");
  });

  it("mandatory: critical, consensus and unknown severities; warning and canary are advisory", () => {
    assert.deepEqual(["critical", "consensus", "odd", "warning", "canary", "advisory", ""].map(isMandatory), [true, true, true, false, false, false, true]);
  });

  it("summary: weights 3/3/2/1 (unknown 3), score to one decimal, grade boundaries, F on any mandatory failure", () => {
    const r = (severity: string, passed: boolean, mandatory = isMandatory(severity)) => ({ severity, passed, mandatory }) as GateResult;
    const grade = (passedWeight: number, failedWeight: number) => {
      const rs: GateResult[] = [];
      for (let i = 0; i < passedWeight; i++) rs.push(r("canary", true));
      for (let i = 0; i < failedWeight; i++) rs.push(r("canary", false));
      return summarizeGates(rs);
    };
    assert.deepEqual(grade(9, 1), { passed: 9, total: 10, score: 90, grade: "A", mandatoryFailed: 0 });
    assert.equal(grade(89, 11).grade, "B");
    assert.equal(grade(8, 2).grade, "B");
    assert.equal(grade(79, 21).grade, "C");
    assert.equal(grade(7, 3).grade, "C");
    assert.equal(grade(69, 31).grade, "D");
    assert.equal(grade(6, 4).grade, "D");
    assert.equal(grade(59, 41).grade, "F");
    assert.deepEqual(summarizeGates([]), { passed: 0, total: 0, score: 0, grade: "F", mandatoryFailed: 0 });
    const weighted = summarizeGates([r("critical", true), r("warning", false), r("odd", true, false), r("consensus", true)]);
    assert.deepEqual(weighted, { passed: 3, total: 4, score: 81.8, grade: "B", mandatoryFailed: 0 }); // 9 of 11
    assert.equal(summarizeGates([r("canary", true), r("critical", false)]).grade, "F");
    assert.equal(summarizeGates([r("canary", true), r("critical", false)]).mandatoryFailed, 1);
    assert.equal(summarizeGates([r("critical", true), r("canary", false), r("canary", false), r("canary", false)]).score, 50);
  });

  it("one-line texts", () => {
    assert.equal(summaryLine({ passed: 1, total: 2, score: 50, grade: "F", mandatoryFailed: 1 }), "quality gates: 1/2 passed, score 50/100 (weights critical 3, consensus 3, warning 2, canary 1, advisory 1), grade F");
    const g = { gate: "g", slo: "s", severity: "warning", mandatory: false, file: "f.json", field: "x.y", threshold: "< 1 seconds", passed: false } as const;
    assert.equal(describeGate({ ...g, measured: 2 }), "g (s, warning): measured 2, threshold < 1 seconds, artifact f.json#x.y");
    assert.equal(describeGate({ ...g, measured: undefined, note: "why" }), "g (s, warning): measured no value, threshold < 1 seconds, artifact f.json#x.y — why");
  });
});

describe("shared stack reading", () => {
  const cm = (data: Record<string, string>, name = "x-slo") => ({ type: "kubernetes:core/v1:ConfigMap", name, props: { metadata: { name }, data } });

  it("reads exactly one SLO table, refusing none, two, non-JSON, non-objects and bad entries by name", () => {
    const good = JSON.stringify({ a: { value: 1, unit: "seconds", comparison: "lt", severity: "critical" }, b: { value: 2, comparison: "gte", severity: "consensus" } });
    const ok = readSloTable([cm({ "slo.json": good })]);
    assert.deepEqual(ok, { ok: true, source: "ConfigMap x-slo", table: { a: { value: 1, unit: "seconds", comparison: "lt", severity: "critical" }, b: { value: 2, unit: "", comparison: "gte", severity: "consensus" } } });
    assert.deepEqual(readSloTable([]), { ok: false, reason: 'no ConfigMap with data key "slo.json" (the <appName>-slo SLO table) in the stack' });
    assert.deepEqual(readSloTable([cm({ other: good })]).ok, false);
    assert.deepEqual(readSloTable([cm({ "slo.json": good }), cm({ "slo.json": good }, "y-slo")]), { ok: false, reason: '2 ConfigMaps carry "slo.json"; expected exactly one SLO table' });
    assert.match((readSloTable([cm({ "slo.json": "{" })]) as { reason: string }).reason, /^ConfigMap x-slo: slo\.json is not JSON \(/);
    assert.deepEqual(readSloTable([cm({ "slo.json": "3" })]), { ok: false, reason: "ConfigMap x-slo: slo.json is not an object" });
    assert.deepEqual(readSloTable([cm({ "slo.json": "null" })]), { ok: false, reason: "ConfigMap x-slo: slo.json is not an object" });
    for (const bad of [{ value: "1", comparison: "lt", severity: "critical" }, { value: 1, comparison: "gt", severity: "critical" }, { value: 1, comparison: "lt", severity: "info" }]) {
      assert.deepEqual(readSloTable([cm({ "slo.json": JSON.stringify({ q: bad }) })]), { ok: false, reason: "ConfigMap x-slo: slo.json.q needs a numeric value, comparison lt|lte|gte and a severity (critical, warning, canary, consensus, advisory)" });
    }
  });

  it("stack name: explicit, else from a URN", () => {
    assert.equal(stackOfUrn("urn:pulumi:production::proj::type::name"), "production");
    assert.equal(stackOfUrn("urn:other"), undefined);
    assert.equal(stackOfUrn(undefined), undefined);
    assert.equal(stackName([{ urn: "urn:pulumi:testnet::p::t::n" }], "production"), "production");
    assert.equal(stackName([{ urn: "bad" }, { urn: "urn:pulumi:testnet::p::t::n" }]), "testnet");
  });
});
