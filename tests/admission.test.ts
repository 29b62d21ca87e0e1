import { strict as assert } from "node:assert";
import { imageReferences } from "../components/admission";
import { runProgram } from "../scripts/lib/mock-runtime";
import { STACKS } from "../scripts/lib/stack-config";
import { byType, configOf, nth, single, testStackConfig } from "./support/stack";

const MODE: Record<string, string> = { testnet: "Audit", production: "Enforce" };

for (const stack of STACKS) {
  describe(`admission (${stack})`, () => {
    it(`require-signed-images verifies cosign signatures and digests, ${MODE[stack]}`, async () => {
      const cfg = configOf(stack);
      const run = await runProgram(stack, testStackConfig(stack));
      const p = single(byType(run, "ClusterPolicy"), "ClusterPolicy");
      assert.equal(p.apiVersion, "kyverno.io/v1");
      assert.equal(p.metadata.name, "require-signed-images");
      assert.ok(!("validationFailureAction" in p.spec), "deprecated policy-level field");
      assert.deepEqual(p.spec.rules.map((r) => r.name), ["allowed-registries", "verify-cosign-signature"]);
      const registries = nth(p.spec.rules, 0, "rule allowed-registries");
      const rule = nth(p.spec.rules, 1, "rule verify-cosign-signature");
      assert.deepEqual(registries.match, rule.match);
      assert.equal(registries.validate?.failureAction, cfg.kyverno.mode);
      const allowed = cfg.allowedRegistries.map((r) => `${r}/*`).join(" | ");
      assert.deepEqual(registries.validate?.pattern.spec, { containers: [{ image: allowed }], "=(initContainers)": [{ image: allowed }], "=(ephemeralContainers)": [{ image: allowed }] });
      assert.deepEqual(nth(rule.match.any, 0, "match").resources, { kinds: ["Pod"], namespaces: [cfg.namespace] });
      const v = single(rule.verifyImages ?? [], "verifyImages entry");
      assert.equal(v.failureAction, MODE[stack]);
      assert.equal(v.failureAction, cfg.kyverno.mode);
      assert.deepEqual(v.imageReferences, cfg.allowedRegistries.map((r) => `${r}/*`));
      assert.deepEqual(v.imageReferences, imageReferences(cfg.allowedRegistries));
      assert.equal(v.verifyDigest, true);
      const keys = nth(nth(v.attestors, 0, "attestor").entries, 0, "attestor entry").keys;
      assert.equal(keys.publicKeys, cfg.kyverno.cosignPublicKey);
      assert.deepEqual([keys.rekor, keys.ctlog], [{ ignoreTlog: true }, { ignoreSCT: true }], "releases are signed without a transparency log");
      assert.deepEqual(run.outputs.kyvernoPolicy, { name: "require-signed-images", mode: MODE[stack] });
    });
  });
}
