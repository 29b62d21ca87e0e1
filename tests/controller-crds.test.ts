import { strict as assert } from "node:assert";
import { kubernetesObjects, runProgram } from "../scripts/lib/mock-runtime";
import { STACKS } from "../scripts/lib/stack-config";
import { single, testStackConfig } from "./support/stack";
import { ofKind } from "../scripts/lib/kube-kinds";
import { controllerCrdDirs, diffCrds, flaggerCrdDir, flattenSchema } from "./support/crd-diff";
import { crdValidator, loadCrdSchemas } from "./support/crd-schema";


/** The CRDs of the controller releases the cluster runs (scripts/delivery-toolchain/versions.env), from their modules. */
describe("custom resources against the CRDs of the controller releases built here", function () {
  this.timeout(300_000); // a first `go mod download` of the modules; compiling the Kyverno schema
  let dirs: (ReturnType<typeof controllerCrdDirs>[number] & { validate: ReturnType<typeof crdValidator> })[];
  before(() => {
    dirs = controllerCrdDirs().map((d) => ({ ...d, validate: crdValidator(d.dir) }));
  });

  for (const stack of STACKS) {
    it(`every Flagger, Kyverno and Prometheus Operator object of ${stack} passes its release's schema strictly`, async () => {
      const objects = kubernetesObjects(await runProgram(stack, testStackConfig(stack)));
      const seen = new Set<string>();
      for (const d of dirs) {
        for (const o of objects.filter((x) => String(x.apiVersion).startsWith(`${d.group}/`))) {
          assert.deepEqual(d.validate(o), [], `${d.release}: ${o.kind}/${o.metadata.name}`);
          seen.add(o.kind);
        }
      }
      assert.deepEqual([...seen].sort(), ["Canary", "ClusterPolicy", "MetricTemplate", "PrometheusRule", "ServiceMonitor"]);
      const canary = structuredClone(single(ofKind(objects, "Canary"), "Canary"));
      Object.assign(canary.spec.service, { headless: false }); // a field added to Flagger after v1.36.1: refused
      const flagger = dirs.find((d) => d.group === "flagger.app")!;
      assert.ok(flagger.validate(canary).some((e) => e.includes("(headless)")), "a field the release lacks is refused");
    });
  }

  it("the diff names added fields once, and type, enum and required changes", () => {
    const older = [{ group: "g", kind: "K", version: "v1", schema: { type: "object", properties: { spec: { type: "object", required: ["a"], properties: { a: { type: "number" } } } } } }];
    const newer = [{ group: "g", kind: "K", version: "v1", schema: { type: "object", properties: { spec: { type: "object", properties: { a: { type: "integer", enum: [1] }, b: { type: "object", properties: { c: { type: "string" } } } } } } } }];
    assert.deepEqual(diffCrds(older, newer), [{ kind: "K", version: "v1", added: ["spec.b"], removed: [], changed: ["spec required: a -> -", "spec.a enum: - -> 1", "spec.a type: number -> integer"] }]);
    assert.deepEqual([...flattenSchema({ type: "array", items: { type: "object", properties: { x: { type: "string" } } } }).keys()], ["[]", "[].x"]);
  });

  it("the Flagger release has the three Flagger kinds the shared copy has", () => {
    const kinds = loadCrdSchemas(flaggerCrdDir()).filter((c) => c.group === "flagger.app").map((c) => `${c.kind}/${c.version}`).sort();
    assert.deepEqual(kinds, ["AlertProvider/v1beta1", "Canary/v1beta1", "MetricTemplate/v1beta1"]);
  });
});
