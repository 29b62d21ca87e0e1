import { strict as assert } from "node:assert";
import { kubernetesObjects, runProgram } from "../scripts/lib/mock-runtime";
import { offlineStackConfig, STACKS } from "../scripts/lib/stack-config";
import { diffCrds, flaggerCrdDir, flaggerVersion, flattenSchema } from "./support/crd-diff";
import { crdValidator, loadCrdSchemas } from "./support/crd-schema";

describe(`Flagger v${flaggerVersion()} CRDs (the controller the cluster runs)`, () => {
  let dir: string;
  before(function () {
    this.timeout(120_000); // a first `go mod download` of the module
    dir = flaggerCrdDir();
  });

  for (const stack of STACKS) {
    it(`the Canary and MetricTemplates of ${stack} pass its schemas strictly`, async () => {
      const validate = crdValidator(dir);
      const objects = kubernetesObjects(await runProgram(stack, offlineStackConfig(stack))).filter((o) => o.apiVersion === "flagger.app/v1beta1");
      assert.deepEqual([...new Set(objects.map((o) => o.kind))].sort(), ["Canary", "MetricTemplate"]);
      for (const o of objects) assert.deepEqual(validate(o), [], `${o.kind}/${o.metadata.name}`);
      const canary = structuredClone(objects.find((o) => o.kind === "Canary")!);
      canary.spec.service.headless = false; // a field added after this release: refused
      assert.ok(validate(canary).some((e) => e.includes("(headless)")), "a field the release lacks is refused");
    });
  }

  it("the diff names added fields once, and type, enum and required changes", () => {
    const older = [{ group: "g", kind: "K", version: "v1", schema: { type: "object", properties: { spec: { type: "object", required: ["a"], properties: { a: { type: "number" } } } } } }];
    const newer = [{ group: "g", kind: "K", version: "v1", schema: { type: "object", properties: { spec: { type: "object", properties: { a: { type: "integer", enum: [1] }, b: { type: "object", properties: { c: { type: "string" } } } } } } } }];
    assert.deepEqual(diffCrds(older, newer), [{ kind: "K", version: "v1", added: ["spec.b"], removed: [], changed: ["spec required: a -> -", "spec.a enum: - -> 1", "spec.a type: number -> integer"] }]);
    assert.deepEqual([...flattenSchema({ type: "array", items: { type: "object", properties: { x: { type: "string" } } } }).keys()], ["[]", "[].x"]);
  });

  it("the release has the three Flagger kinds the shared copy has", () => {
    const kinds = (d: string) => loadCrdSchemas(d).filter((c) => c.group === "flagger.app").map((c) => `${c.kind}/${c.version}`).sort();
    assert.deepEqual(kinds(dir), ["AlertProvider/v1beta1", "Canary/v1beta1", "MetricTemplate/v1beta1"]);
  });
});
