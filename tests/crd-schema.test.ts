import { strict as assert } from "node:assert";
import { testStackConfig } from "./support/stack";
import { kubernetesObjects, runProgram } from "../scripts/lib/mock-runtime";
import { STACKS } from "../scripts/lib/stack-config";
import * as fs from "node:fs";
import { crdValidator, loadCrdSchemas, SHARED_CRD_DIR, toJsonSchema } from "./support/crd-schema";

const validate = crdValidator();
const CUSTOM_KINDS = ["ServiceMonitor", "PrometheusRule", "ClusterPolicy", "Canary", "MetricTemplate", "AlertmanagerConfig"];
/** The AlertmanagerConfig exists only with `bizra:alerting`: render it. */
const ALERTING = { "bizra:alerting": { criticalWebhookUrl: "https://pager.example/hook", warningWebhookUrl: "https://tickets.example/hook" } };

describe("CRD schemas (strict)", () => {
  const objects: Record<string, Record<string, any>[]> = {};
  before(async () => {
    for (const stack of STACKS) {
      const run = await runProgram(stack, testStackConfig(stack, ALERTING));
      objects[stack] = kubernetesObjects(run).filter((o) => CUSTOM_KINDS.includes(o.kind));
    }
  });

  for (const stack of STACKS) {
    it(`every custom resource of ${stack} passes its CRD schema`, () => {
      assert.deepEqual([...new Set(objects[stack].map((o) => o.kind))].sort(), [...CUSTOM_KINDS].sort());
      for (const o of objects[stack]) assert.deepEqual(validate(o), [], `${o.kind}/${o.metadata.name}`);
    });
  }

  it("rejects a misspelt field in each kind, so the check can fail", () => {
    const misspell: Record<string, (o: any) => void> = {
      ServiceMonitor: (o) => (o.spec.endpoints[0].intervall = "5s"),
      PrometheusRule: (o) => (o.spec.groups[0].rules[0].severityy = "x"),
      ClusterPolicy: (o) => (o.spec.rules.find((r: any) => r.verifyImages).verifyImages[0].verifyDigests = true),
      Canary: (o) => (o.spec.analysis.stepWeight_s = [1]),
      MetricTemplate: (o) => (o.spec.provider.adress = "http://x"),
      AlertmanagerConfig: (o) => (o.spec.receivers[0].webhookConfigs[0].sendResolve = true),
    };
    for (const kind of CUSTOM_KINDS) {
      const o = structuredClone(objects.production.find((x) => x.kind === kind)!);
      misspell[kind](o);
      const errors = validate(o);
      assert.ok(errors.some((e) => e.includes("additional properties")), `${kind}: ${errors.join("; ")}`);
    }
    const meta = structuredClone(objects.production[0]);
    meta.metadata.lables = {};
    assert.notDeepEqual(validate(meta), []);
  });

  it("rejects wrong types and enum values", () => {
    const c = structuredClone(objects.production.find((x) => x.kind === "Canary")!);
    c.spec.analysis.interval = "one minute";
    assert.notDeepEqual(validate(c), []);
    const p = structuredClone(objects.production.find((x) => x.kind === "ClusterPolicy")!);
    p.spec.rules.find((r: any) => r.verifyImages).verifyImages[0].failureAction = "Block";
    assert.notDeepEqual(validate(p), []);
  });

  it("converts structural-schema extensions", () => {
    assert.deepEqual(toJsonSchema({ "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] }).type, ["integer", "string"]);
    assert.equal(toJsonSchema({ type: "object", properties: { a: { type: "string" } } }).additionalProperties, false);
    assert.equal(toJsonSchema({ type: "object", properties: { a: { type: "string" } }, "x-kubernetes-preserve-unknown-fields": true }).additionalProperties, undefined);
    assert.deepEqual(toJsonSchema({ type: "string", nullable: true }).type, ["string", "null"]);
    assert.equal(toJsonSchema({ type: "string", format: "int" }).format, undefined);
  });

  it("every kind the program renders has its schema in the fetched CRDs", () => {
    const kinds = new Set(loadCrdSchemas().map((c) => c.kind));
    for (const kind of [...CUSTOM_KINDS, "VirtualService", "DestinationRule"]) assert.ok(kinds.has(kind), kind);
  });

  // Optional cross-check: where a copy of the CRDs sits beside the repository (../shared/crds), the schemas of the
  // kinds the program renders must be the same as the pinned ones. Skipped when there is no such folder.
  it("matches the optional copies in ../shared/crds for the rendered kinds", function () {
    if (!fs.existsSync(SHARED_CRD_DIR)) this.skip();
    const key = (c: { group: string; version: string; kind: string }) => `${c.group}/${c.version}/${c.kind}`;
    const pinned = new Map(loadCrdSchemas().map((c) => [key(c), c.schema]));
    const shared = loadCrdSchemas(SHARED_CRD_DIR).filter((c) => CUSTOM_KINDS.includes(c.kind));
    assert.ok(shared.length > 0);
    for (const c of shared) assert.deepEqual(pinned.get(key(c)), c.schema, key(c));
  });
});
