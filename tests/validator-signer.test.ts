/**
 * The validator set, the signer workload and who may reach it: config validation (n >= 3f + 1), the pure helpers,
 * and what the program renders per stack (the key Secret mounted only in the signer, the set in every node pod).
 */
import { strict as assert } from "node:assert";
import { ENV, ROUTES, SIGNER_ROLE_ACTIVE, SIGNER_ROLE_LABEL } from "@bizra/contract";
import { ConfigError, parseStackConfig } from "../components/config";
import { componentLabels } from "../components/labels";
import { SIGNER_CLIENT_LABEL, SIGNING_KEY_DIR, signerTokenOf } from "../components/signer";
import { effectiveValidatorSet, publicKeyOfSeed, VALIDATOR_SET_DIR, VALIDATOR_SET_FILE, validatorSetProblems } from "../components/validator-set";
import { kubernetesObjects, runProgram, type ProgramRun } from "../scripts/lib/mock-runtime";
import { STACKS } from "../scripts/lib/stack-config";
import { ofKind, type KubeKind } from "../scripts/lib/kube-kinds";
import { configOf, find, named, nth, testStackConfig } from "./support/stack";

const SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUB = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"; // RFC 8032 TEST 1
const v = (id: string, publicKey = "ab".repeat(32)) => ({ id, weight: 1, publicKey });

describe("validator set", () => {
  it("derives the Ed25519 public key of a seed (RFC 8032 TEST 1)", () => {
    assert.equal(publicKeyOfSeed(SEED), PUB);
  });

  it("needs n >= 3f + 1 validators, at the boundary as written", () => {
    const four = [v("a"), v("b"), v("c"), v("d")];
    assert.deepEqual(validatorSetProblems(four, 1, "a"), []);
    const three = four.slice(0, 3);
    const [p] = validatorSetProblems(three, 1, "a");
    assert.deepEqual(p?.path, ["faultTolerance"]);
    assert.match(String(p?.allowed), /at most 0 for 3 validators \(n >= 3f \+ 1\), or list at least 4 validators/);
    assert.deepEqual(validatorSetProblems([...four, v("e"), v("f"), v("g")], 2, "a"), []);
  });

  it("names duplicate ids and a validatorId missing from the set", () => {
    const problems = validatorSetProblems([v("a"), v("a")], 0, "z").map((p) => p.path.join("."));
    assert.deepEqual(problems, ["validators.1.id", "validatorId"]);
  });

  it("completes a missing set with the key's own entry, and refuses a set whose entry has another key", () => {
    assert.deepEqual(effectiveValidatorSet(undefined, "node0", PUB), [{ id: "node0", weight: 1, publicKey: PUB }]);
    assert.throws(() => effectiveValidatorSet([v("node0")], "node0", PUB), /bizra:validators: the entry of node0 has public key abab/);
    assert.deepEqual(effectiveValidatorSet([v("node0", PUB), v("x")], "node0", PUB).length, 2);
  });

  for (const stack of STACKS) {
    it(`config refuses a set violating n >= 3f + 1 on ${stack}, naming the key`, () => {
      const cfg = testStackConfig(stack, { "bizra:validators": [v("node0"), v("b"), v("c")], "bizra:faultTolerance": 1, "bizra:validatorId": "node0" });
      assert.throws(
        () => parseStackConfig(stack, cfg.values, cfg.secretKeys),
        (e: unknown) => e instanceof ConfigError && /bizra:faultTolerance: found 1; allowed: at most 0 for 3 validators/.test(e.message),
      );
      const ok = testStackConfig(stack, { "bizra:validators": [v("node0"), v("b"), v("c"), v("d")], "bizra:faultTolerance": 1, "bizra:validatorId": "node0" });
      assert.equal(parseStackConfig(stack, ok.values, ok.secretKeys).faultTolerance, 1);
      const same = testStackConfig(stack, { "bizra:signer": { port: 8080 }, "bizra:apiPort": 8080 });
      assert.throws(() => parseStackConfig(stack, same.values, same.secretKeys), /bizra:signer\.port: found 8080; allowed: a port different from apiPort and metricsPort/);
    });
  }
});

for (const stack of STACKS) {
  describe(`signer and verifiers, stack ${stack}`, function () {
    const app = configOf(stack).appName;
    let run: ProgramRun;
    let signingKey: string;
    const objects = () => kubernetesObjects(run);
    const one = <K extends KubeKind>(kind: K, name: string) => named(ofKind(objects(), kind), name, kind);

    before(async () => {
      const config = testStackConfig(stack);
      signingKey = config.values["bizra:signingKey"] ?? assert.fail("the offline stack config sets bizra:signingKey");
      run = await runProgram(stack, config);
    });

    it("mounts the signing key only in the signer; no other pod template references a Secret with it", () => {
      const signer = one("Deployment", `${app}-signer`).spec.template.spec;
      const keyVolume = find(signer.volumes, (vol) => vol.name === "signing-key", "volume signing-key");
      assert.equal(keyVolume.secret.secretName, `${app}-signer-signing-key`);
      assert.ok(nth(signer.containers, 0, "signer container").volumeMounts.some((m) => m.mountPath === SIGNING_KEY_DIR));
      for (const o of objects().filter((o) => ["Deployment", "Job", "Canary"].includes(o.kind) && o.metadata.name !== `${app}-signer`)) {
        const text = JSON.stringify(o);
        assert.ok(!text.includes("signing-key"), `${o.kind}/${o.metadata.name} references the signing key`);
      }
      const secret = one("Secret", `${app}-signer-signing-key`);
      assert.equal(secret.stringData["signing-key"], signingKey);
    });

    it("runs the signer with a Lease, a token file and the shared validator id; the Role covers that Lease and pod patches only", () => {
      const c = nth(one("Deployment", `${app}-signer`).spec.template.spec.containers, 0, "signer container");
      const env = Object.fromEntries(c.env.map((e) => [e.name, e.value ?? e.valueFrom]));
      assert.equal(env[ENV.signerLease], `${app}-signer`);
      assert.equal(env[ENV.validatorId], "node0");
      assert.deepEqual(env[ENV.signerIdentity], { fieldRef: { fieldPath: "metadata.name" } });
      assert.deepEqual(env[ENV.signerPodName], { fieldRef: { fieldPath: "metadata.name" } }, "the pod labels itself by its own name");
      assert.equal(one("Secret", `${app}-signer-token`).stringData.token, signerTokenOf(signingKey));
      const rules = one("Role", `${app}-signer`).rules;
      assert.deepEqual(find(rules, (r) => r.verbs.includes("update"), "rule with verb update").resourceNames, [`${app}-signer`]);
      assert.deepEqual(
        rules.map((r) => [r.apiGroups, r.resources, r.verbs]),
        [
          [["coordination.k8s.io"], ["leases"], ["create"]],
          [["coordination.k8s.io"], ["leases"], ["get", "update"]],
          [[""], ["pods"], ["patch"]],
        ],
        "create leases, get/update its Lease, patch pods (the role label): nothing else, no pod get/list/delete",
      );
      assert.equal(one("Deployment", `${app}-signer`).spec.template.spec.automountServiceAccountToken, true);
    });

    it("gives every node pod the same validator id and the set from one ConfigMap; the apex Service has no signer port", () => {
      const flags = one("ConfigMap", `${app}-flags`).data;
      assert.equal(flags[ENV.validatorId], "node0");
      assert.equal(flags[ENV.validatorSetFile], `${VALIDATOR_SET_DIR}/${VALIDATOR_SET_FILE}`);
      const set: unknown = JSON.parse(one("ConfigMap", `${app}-validator-set`).data[VALIDATOR_SET_FILE] ?? assert.fail(`no ${VALIDATOR_SET_FILE} in the validator set ConfigMap`));
      assert.deepEqual(set, [{ id: "node0", weight: 1, publicKey: publicKeyOfSeed(signingKey) }]);
      const node = one("Deployment", app).spec.template.spec;
      assert.ok(node.volumes.some((vol) => vol.configMap?.name === `${app}-validator-set`));
      assert.ok(!JSON.stringify(nth(node.containers, 0, "node container").env).includes(ENV.validatorId), "never the pod name");
      const apex = one("Service", app);
      assert.ok(!apex.spec.ports.some((p) => p.port === 8081 || p.name === "signer"));
      const signerSvc = one("Service", `${app}-signer`);
      // the signer port of the active signer only; the metrics port of every signer pod is on <app>-signer-metrics
      assert.deepEqual(signerSvc.spec.ports.map((p) => p.name), ["signer"]);
      assert.deepEqual(signerSvc.spec.selector, { "app.kubernetes.io/name": `${app}-signer`, [SIGNER_ROLE_LABEL]: SIGNER_ROLE_ACTIVE });
      const metricsSvc = one("Service", `${app}-signer-metrics`);
      assert.deepEqual(metricsSvc.spec.ports.map((p) => p.name), ["metrics"]);
      assert.deepEqual(metricsSvc.spec.selector, { "app.kubernetes.io/name": `${app}-signer` });
      assert.ok(!Object.entries(componentLabels()).every(([k, val]) => one("Deployment", `${app}-signer`).spec.template.metadata.labels[k] === val), "verifier selectors do not match the signer");
    });

    it("routes sign requests only to the pod the Lease holder labels, while the Deployment waits for every signer pod to be Ready", () => {
      const deployment = one("Deployment", `${app}-signer`);
      const template = deployment.spec.template.metadata.labels;
      const selector = one("Service", `${app}-signer`).spec.selector;
      // the label is not in the pod template: no pod starts in the Service; the active signer adds it at run time
      assert.ok(!(SIGNER_ROLE_LABEL in template), "the role label is written by the signer, not rendered");
      assert.deepEqual(
        Object.entries(selector).filter(([k, val]) => template[k] !== val),
        [[SIGNER_ROLE_LABEL, SIGNER_ROLE_ACTIVE]],
        "the sign Service differs from the pod template in the role label only",
      );
      // rollout math: the standby stays Ready, so availability (replicas - maxUnavailable Ready pods) is reachable
      assert.deepEqual(deployment.spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
      const c = nth(deployment.spec.template.spec.containers, 0, "signer container");
      assert.equal(c.readinessProbe.httpGet.path, ROUTES.readyz, "readiness does not depend on holding the Lease");
    });

    it("lets only labelled clients reach the signer port, and the signer reach the API server", () => {
      const clients = one("NetworkPolicy", `${app}-allow-signer-clients`).spec;
      assert.deepEqual(clients.ingress, [{ from: [{ podSelector: { matchLabels: { ...SIGNER_CLIENT_LABEL } } }], ports: [{ protocol: "TCP", port: 8081 }] }]);
      const egress = one("NetworkPolicy", `${app}-allow-signer-apiserver-egress`).spec;
      assert.deepEqual(nth(egress.egress, 0, "egress rule").ports.map((p) => p.port), [443, 6443]);
      const mesh = one("NetworkPolicy", `${app}-allow-api-from-mesh`).spec;
      assert.ok(!JSON.stringify(mesh).includes("8081"), "the mesh never reaches the signer port");
    });
  });
}
