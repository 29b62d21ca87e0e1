import { strict as assert } from "node:assert";
import { find, nth, testStackConfig } from "./support/stack";
import { setPath } from "./support/mutate";
import { isKind, type KubeObject } from "../scripts/lib/kube-kinds";
import { kubernetesObjects, runProgram } from "../scripts/lib/mock-runtime";
import { STACKS } from "../scripts/lib/stack-config";
import * as fs from "node:fs";
import { crdValidator, loadCrdSchemas, SHARED_CRD_DIR, toJsonSchema } from "./support/crd-schema";

const validate = crdValidator();
/** The index of the ClusterPolicy rule that verifies images. */
const verifyImagesRule = (o: KubeObject) => {
  assert.ok(isKind(o, "ClusterPolicy"), `${o.kind} is no ClusterPolicy`);
  const i = o.spec.rules.findIndex((r) => r.verifyImages !== undefined);
  assert.ok(i >= 0, "no rule with verifyImages");
  return i;
};
const CUSTOM_KINDS = ["ServiceMonitor", "PrometheusRule", "ClusterPolicy", "Canary", "MetricTemplate", "AlertmanagerConfig"];
/** The AlertmanagerConfig exists only with `bizra:alerting`: render it. */
const ALERTING = { "bizra:alerting": { criticalWebhookUrl: "https://pager.example/hook", warningWebhookUrl: "https://tickets.example/hook" } };

describe("CRD schemas (strict)", () => {
  const objects = new Map<string, KubeObject[]>();
  const of = (stack: string) => objects.get(stack) ?? assert.fail(`no objects rendered for ${stack}`);
  const production = (kind: string) => structuredClone(find(of("production"), (x) => x.kind === kind, `${kind} of production`));
  before(async () => {
    for (const stack of STACKS) {
      const run = await runProgram(stack, testStackConfig(stack, ALERTING));
      objects.set(stack, kubernetesObjects(run).filter((o) => CUSTOM_KINDS.includes(o.kind)));
    }
  });

  for (const stack of STACKS) {
    it(`every custom resource of ${stack} passes its CRD schema`, () => {
      assert.deepEqual([...new Set(of(stack).map((o) => o.kind))].sort(), [...CUSTOM_KINDS].sort());
      for (const o of of(stack)) assert.deepEqual(validate(o), [], `${o.kind}/${o.metadata.name}`);
    });
  }

  it("rejects a misspelt field in each kind, so the check can fail", () => {
    const misspelt = {
      ServiceMonitor: (o: KubeObject) => setPath(o, ["spec", "endpoints", 0, "intervall"], "5s"),
      PrometheusRule: (o: KubeObject) => setPath(o, ["spec", "groups", 0, "rules", 0, "severityy"], "x"),
      ClusterPolicy: (o: KubeObject) => setPath(o, ["spec", "rules", verifyImagesRule(o), "verifyImages", 0, "verifyDigests"], true),
      Canary: (o: KubeObject) => setPath(o, ["spec", "analysis", "stepWeight_s"], [1]),
      MetricTemplate: (o: KubeObject) => setPath(o, ["spec", "provider", "adress"], "http://x"),
      AlertmanagerConfig: (o: KubeObject) => setPath(o, ["spec", "receivers", 0, "webhookConfigs", 0, "sendResolve"], true),
    };
    assert.deepEqual(Object.keys(misspelt).sort(), [...CUSTOM_KINDS].sort());
    for (const [kind, misspell] of Object.entries(misspelt)) {
      const errors = validate(misspell(production(kind)));
      assert.ok(errors.some((e) => e.includes("additional properties")), `${kind}: ${errors.join("; ")}`);
    }
    const meta = structuredClone(nth(of("production"), 0, "custom resource of production"));
    assert.notDeepEqual(validate(setPath(meta, ["metadata", "lables"], {})), []);
  });

  it("rejects wrong types and enum values", () => {
    assert.notDeepEqual(validate(setPath(production("Canary"), ["spec", "analysis", "interval"], "one minute")), []);
    const p = production("ClusterPolicy");
    assert.notDeepEqual(validate(setPath(p, ["spec", "rules", verifyImagesRule(p), "verifyImages", 0, "failureAction"], "Block")), []);
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
