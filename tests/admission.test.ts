import { strict as assert } from "node:assert";
import { imageReferences } from "../components/admission";
import { runProgram } from "../scripts/lib/mock-runtime";
import { STACKS } from "../scripts/lib/stack-config";
import { byType, configOf, single, testStackConfig } from "./support/stack";

const MODE: Record<string, string> = { testnet: "Audit", production: "Enforce" };

for (const stack of STACKS) {
  describe(`admission (${stack})`, () => {
    it(`require-signed-images verifies cosign signatures and digests, ${MODE[stack]}`, async () => {
      const cfg = configOf(stack);
      const run = await runProgram(stack, testStackConfig(stack));
      const p = single(byType(run, "ClusterPolicy"), "ClusterPolicy");
      assert.equal(p.apiVersion, "kyverno.io/v1");
      assert.equal(p.metadata.name, "require-signed-images");
      assert.equal(p.spec.validationFailureAction, undefined, "deprecated policy-level field");
      const [registries, rule] = p.spec.rules;
      assert.deepEqual(p.spec.rules.map((r: { name: string }) => r.name), ["allowed-registries", "verify-cosign-signature"]);
      assert.deepEqual(registries.match, rule.match);
      assert.equal(registries.validate.failureAction, cfg.kyverno.mode);
      assert.equal(registries.validate.pattern.spec.containers[0].image, cfg.allowedRegistries.map((r) => `${r}/*`).join(" | "));
      assert.deepEqual(rule.match.any[0].resources, { kinds: ["Pod"], namespaces: [cfg.namespace] });
      const [v] = rule.verifyImages;
      assert.equal(v.failureAction, MODE[stack]);
      assert.equal(v.failureAction, cfg.kyverno.mode);
      assert.deepEqual(v.imageReferences, cfg.allowedRegistries.map((r) => `${r}/*`));
      assert.deepEqual(v.imageReferences, imageReferences(cfg.allowedRegistries));
      assert.equal(v.verifyDigest, true);
      assert.equal(v.attestors[0].entries[0].keys.publicKeys, cfg.kyverno.cosignPublicKey);
      assert.deepEqual([v.attestors[0].entries[0].keys.rekor, v.attestors[0].entries[0].keys.ctlog], [{ ignoreTlog: true }, { ignoreSCT: true }], "releases are signed without a transparency log");
      assert.deepEqual(run.outputs.kyvernoPolicy, { name: "require-signed-images", mode: MODE[stack] });
    });
  });
}
