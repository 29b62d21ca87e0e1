/** The program under mocks, per stack: one describe per component, asserting the fields that matter. */
import { configOf, find, named, nth, single, testStackConfig } from "./support/stack";
import { ofKind, type KubeKind, type KubeObject } from "../scripts/lib/kube-kinds";
import { strict as assert } from "node:assert";
import { AWAIT_TIMEOUT_ANNOTATION, DIGEST_REFERENCE } from "../components/config";
import { HPA_METRIC_NAME } from "../components/autoscaler";
import { componentLabels } from "../components/labels";
import { API_PORT_NAME, METRICS_PORT_NAME, NODE_UID, PATCH_FORCE_ANNOTATION, PRESTOP_DRAIN_SECONDS, RUNTIME_FLAGS_DIGEST_ANNOTATION } from "../components/node";
import { SIGNING_KEY_DIR, signerComponentLabels } from "../components/signer";
import { ENV, ROUTES } from "@bizra/contract";
import { kubernetesObjects, runProgram, type ProgramRun } from "../scripts/lib/mock-runtime";
import { readStackFile, REPO_ROOT, STACKS } from "../scripts/lib/stack-config";
import { componentType, withFormerTypes } from "../components/component";
import * as fs from "node:fs";
import * as path from "node:path";
import { isBuiltIn, validateBuiltIn } from "./support/k8s-schema";

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

for (const stack of STACKS) {
  describe(`program, stack ${stack}`, function () {
    // expected values from the validated stack config (tests/config.test.ts checks the file against it)
    const cfg = configOf(stack);
    let run: ProgramRun;
    let signingKey: string;
    const objects = () => kubernetesObjects(run);
    const one = <K extends KubeKind>(kind: K, name?: string) =>
      single(ofKind(objects(), kind).filter((o) => name === undefined || o.metadata.name === name), `${kind}${name ? ` ${name}` : ""}`);

    before(async function () {
      const config = testStackConfig(stack);
      signingKey = config.values["bizra:signingKey"] ?? assert.fail("the offline stack config sets bizra:signingKey");
      run = await runProgram(stack, config);
    });

    describe("NodeNamespace", () => {
      it("creates the configured namespace with Pod Security Admission at restricted", () => {
        const ns = one("Namespace");
        assert.equal(ns.metadata.name, cfg.namespace);
        assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
      });
      it("puts every namespaced object in it", () => {
        for (const o of objects().filter((o) => o.kind !== "Namespace" && o.metadata.namespace !== undefined)) {
          if (o.kind === "ConfigMap" && o.metadata.labels?.grafana_dashboard) continue; // dashboards go to the Grafana namespace
          assert.equal(o.metadata.namespace, cfg.namespace, `${o.kind}/${o.metadata.name}`);
        }
      });
    });

    describe("NodeImage", () => {
      it("runs the configured image pinned by digest", () => {
        const image = nth(one("Deployment", cfg.appName).spec.template.spec.containers, 0, "node container").image;
        assert.match(image, DIGEST_REFERENCE);
        assert.equal(image, cfg.image.reference);
        assert.equal(run.outputs.imageReference, image);
        assert.equal(run.outputs.imageDigest, image.split("@")[1]);
      });
    });

    describe("BizraNode", () => {
      it("names the Deployment after the app and runs the configured replicas", () => {
        const d = one("Deployment", cfg.appName);
        assert.equal(d.metadata.name, cfg.appName);
        assert.equal(d.spec.replicas, cfg.replicas);
      });
      it("selects its own pods, and the Service selects the same pods", () => {
        const d = one("Deployment", cfg.appName);
        const podLabels = d.spec.template.metadata.labels;
        assert.ok(matches(d.spec.selector.matchLabels, podLabels));
        assert.ok(matches(one("Service", cfg.appName).spec.selector, podLabels));
        assert.ok(matches(one("PodDisruptionBudget", cfg.appName).spec.selector.matchLabels, podLabels));
      });
      it("hardens the pod: non-root, read-only root fs, no escalation, no capabilities, seccomp", () => {
        const pod = one("Deployment", cfg.appName).spec.template.spec;
        const c = nth(pod.containers, 0, "node container");
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.securityContext.runAsUser, NODE_UID);
        assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
        assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
      });
      it("sets requests and limits from config", () => {
        const c = nth(one("Deployment", cfg.appName).spec.template.spec.containers, 0, "node container");
        assert.deepEqual(c.resources, cfg.resources);
      });
      it("probes the node's health routes on the API port", () => {
        const c = nth(one("Deployment", cfg.appName).spec.template.spec.containers, 0, "node container");
        assert.equal(c.startupProbe.httpGet.path, ROUTES.healthz);
        assert.equal(c.livenessProbe.httpGet.path, ROUTES.healthz);
        assert.equal(c.readinessProbe.httpGet.path, ROUTES.readyz);
        for (const p of [c.startupProbe, c.livenessProbe, c.readinessProbe]) assert.equal(p.httpGet.port, API_PORT_NAME);
        assert.deepEqual(
          c.ports.map((p) => [p.name, p.containerPort]),
          [
            [API_PORT_NAME, cfg.apiPort],
            [METRICS_PORT_NAME, 9464],
          ],
        );
      });
      it("exposes the API and metrics ports on the Service", () => {
        const ports = one("Service", cfg.appName).spec.ports.map((p) => [p.name, p.port, p.targetPort]);
        assert.deepEqual(ports, [
          [API_PORT_NAME, cfg.apiPort, API_PORT_NAME],
          [METRICS_PORT_NAME, cfg.metricsPort, METRICS_PORT_NAME],
        ]);
      });
      it("passes runtime flags through a ConfigMap the container reads", () => {
        const flags = one("ConfigMap", `${cfg.appName}-flags`);
        assert.equal(flags.data[ENV.batchVerify], String(cfg.runtimeFlags.POI_BATCH_VERIFY));
        assert.equal(flags.data[ENV.fastFinalityBp], "6700");
        const c = nth(one("Deployment", cfg.appName).spec.template.spec.containers, 0, "node container");
        assert.deepEqual(c.envFrom, [{ configMapRef: { name: flags.metadata.name } }]);
      });
      it("mounts no Secret in the verifier pods", () => {
        const pod = one("Deployment", cfg.appName).spec.template.spec;
        assert.ok(!pod.volumes.some((v) => v.secret), "the verifiers hold no key");
      });
      it("mounts the signing key from a Secret, read-only, in the signer only, and never exports it", () => {
        const secret = one("Secret", `${cfg.appName}-signer-signing-key`);
        assert.equal(Object.values(secret.stringData)[0], signingKey);
        const pod = one("Deployment", `${cfg.appName}-signer`).spec.template.spec;
        const vol = find(pod.volumes, (v) => v.secret?.secretName === secret.metadata.name, `volume of Secret ${secret.metadata.name}`);
        const mount = find(nth(pod.containers, 0, "signer container").volumeMounts, (m) => m.name === vol.name, `mount of volume ${vol.name}`);
        assert.equal(mount.readOnly, true);
        assert.equal(mount.mountPath, SIGNING_KEY_DIR);
        assert.ok(!JSON.stringify(run.outputs).includes(signingKey), "signing key leaked into stack outputs");
        const cm = objects().filter((o) => o.kind === "ConfigMap");
        assert.ok(!JSON.stringify(cm).includes(signingKey), "signing key leaked into a ConfigMap");
      });
      it(`spreads pods across zones and hosts ${cfg.topologySpread ? "(on)" : "(off)"}`, () => {
        const spread = one("Deployment", cfg.appName).spec.template.spec.topologySpreadConstraints;
        if (cfg.topologySpread) {
          assert.deepEqual(spread.map((s) => s.topologyKey), ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]);
        } else {
          assert.equal(spread, undefined);
        }
      });
      it("exports the service DNS name, ports and metrics URL", () => {
        const dns = `${cfg.appName}.${cfg.namespace}.svc.cluster.local`;
        assert.equal(run.outputs.serviceDns, dns);
        assert.equal(run.outputs.metricsUrl, `http://${dns}:9464/metrics`);
        assert.equal(run.outputs.apiEndpoint, `http://${cfg.appName}-mesh.${cfg.namespace}.svc.cluster.local:${cfg.apiPort}`);
      });
    });

    describe("NodeNetworkPolicy", () => {
      const policies = () => ofKind(objects(), "NetworkPolicy");
      const byName = (suffix: string) => named(policies(), `${cfg.appName}-${suffix}`, "NetworkPolicy");
      it("denies all ingress and egress by default", () => {
        const deny = byName("default-deny");
        assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
      });
      it("allows DNS egress to kube-dns only, on port 53", () => {
        const dns = nth(byName("allow-dns-egress").spec.egress, 0, "egress rule");
        assert.deepEqual(dns.ports.map((p) => `${p.protocol}/${p.port}`), ["UDP/53", "TCP/53"]);
        assert.equal(nth(dns.to, 0, "egress peer").podSelector.matchLabels["k8s-app"], "kube-dns");
      });
      it("allows the metrics port from the monitoring namespace only", () => {
        const rule = nth(byName("allow-metrics-scrape").spec.ingress, 0, "ingress rule");
        assert.deepEqual(rule.ports, [{ protocol: "TCP", port: 9464 }]);
        assert.equal(nth(rule.from, 0, "ingress peer").namespaceSelector.matchLabels["kubernetes.io/metadata.name"], "monitoring");
      });
      it("allows the API port from the mesh namespace only", () => {
        const rule = nth(byName("allow-api-from-mesh").spec.ingress, 0, "ingress rule");
        assert.deepEqual(rule.ports, [{ protocol: "TCP", port: cfg.apiPort }]);
        assert.equal(nth(rule.from, 0, "ingress peer").namespaceSelector.matchLabels["kubernetes.io/metadata.name"], "istio-system");
      });
      it("allows peer traffic between node pods in both directions", () => {
        const spec = byName("allow-peer-traffic").spec;
        assert.deepEqual(spec.policyTypes, ["Ingress", "Egress"]);
        assert.deepEqual(nth(nth(spec.ingress, 0, "ingress rule").from, 0, "ingress peer").podSelector.matchLabels, componentLabels());
        assert.deepEqual(nth(nth(spec.egress, 0, "egress rule").to, 0, "egress peer").podSelector.matchLabels, componentLabels());
      });
      it("selects the node pods with labels that Flagger keeps on primary and canary", () => {
        const pod = one("Deployment", cfg.appName).spec.template.metadata.labels;
        // the hold gate's policy selects the gate's pods (components/hold-gate.ts), not the node's
        const signerPod = one("Deployment", `${cfg.appName}-signer`).spec.template.metadata.labels;
        for (const p of policies().filter((p) => Object.keys(p.spec.podSelector).length > 0 && !p.metadata.name.endsWith("-hold-gate-from-flagger"))) {
          // the signer's policies select the signer's pods (components/signer.ts), and never the verifiers
          const isSigner = matches(p.spec.podSelector.matchLabels, signerComponentLabels());
          assert.ok(matches(p.spec.podSelector.matchLabels, isSigner ? signerPod : pod), p.metadata.name);
          if (isSigner) assert.ok(!matches(p.spec.podSelector.matchLabels, pod), `${p.metadata.name} selects the verifiers`);
        }
      });
    });

    describe("NodeAutoscaler", () => {
      it("scales the node Deployment on a Pods custom metric within the configured bounds", () => {
        const hpa = one("HorizontalPodAutoscaler");
        assert.equal(hpa.apiVersion, "autoscaling/v2");
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: one("Deployment", cfg.appName).metadata.name });
        assert.equal(hpa.spec.minReplicas, cfg.hpa.minReplicas);
        assert.equal(hpa.spec.maxReplicas, cfg.hpa.maxReplicas);
        const m = nth(hpa.spec.metrics, 0, "HPA metric");
        assert.equal(m.type, "Pods");
        assert.equal(m.pods.metric.name, HPA_METRIC_NAME);
        assert.equal(m.pods.target.averageValue, String(100_000 * cfg.hpa.targetShareOfThroughputSlo));
      });
    });

    describe("Kubernetes schema (strict)", () => {
      it("every built-in object passes the strict OpenAPI schema", () => {
        const builtIns = objects().filter(isBuiltIn);
        assert.ok(builtIns.length >= 13);
        const errors = builtIns.flatMap(validateBuiltIn);
        assert.deepEqual(errors, []);
      });
      it("the validator rejects a misspelt field, so this check can fail", () => {
        const d = structuredClone(one("Deployment", cfg.appName));
        Object.assign(nth(d.spec.template.spec.containers, 0, "node container"), { imagePullPolicyy: "Always" });
        const errors = validateBuiltIn(d);
        assert.equal(errors.length, 1);
        assert.match(single(errors, "schema error"), /imagePullPolicyy/);
      });
    });
  });
}

describe("rollouts the provider awaits", function () {
  this.timeout(120_000);
  const template = async (overrides: Record<string, unknown>) => {
    const objects = kubernetesObjects(await runProgram("testnet", testStackConfig("testnet", overrides)));
    const name = readStackFile("testnet")["bizra:appName"];
    const d = find(ofKind(objects, "Deployment"), (o) => o.metadata.name === name, "node Deployment");
    return { objects, annotations: (d.spec.template.metadata.annotations ?? {}) as Record<string, string> };
  };

  it("a runtime-flag change (log level) changes the pod template, so the pods roll out; the same config does not", async () => {
    const info = await template({ "bizra:logLevel": "info" });
    const again = await template({ "bizra:logLevel": "info" });
    const debug = await template({ "bizra:logLevel": "debug" });
    const key = RUNTIME_FLAGS_DIGEST_ANNOTATION;
    assert.match(info.annotations[key] ?? "", /^[0-9a-f]{64}$/);
    assert.equal(again.annotations[key], info.annotations[key]);
    assert.notEqual(debug.annotations[key], info.annotations[key]);
  });

  it("bizra:awaitTimeoutSeconds bounds the wait on the Deployments and the Job only; unset, nothing is annotated", async () => {
    const timed = (objects: KubeObject[]) =>
      objects.filter((o) => o.metadata?.annotations?.[AWAIT_TIMEOUT_ANNOTATION] !== undefined).map((o) => `${o.kind}=${o.metadata.annotations?.[AWAIT_TIMEOUT_ANNOTATION]}`).sort();
    assert.deepEqual(timed((await template({})).objects), []);
    const objects = (await template({ "bizra:awaitTimeoutSeconds": 90 })).objects;
    // Every Deployment (node, signer, hold gate), and the validator Job when evidence and a trusted key exist.
    const rollouts = objects.filter((o) => o.kind === "Deployment" || o.kind === "Job").map((o) => `${o.kind}=90`).sort();
    assert.ok(rollouts.filter((r) => r.startsWith("Deployment")).length >= 2, `Deployments: ${rollouts.join(", ")}`);
    assert.deepEqual(timed(objects), rollouts);
  });

  it("the node Deployment, whose replicas Flagger and the HPA also write, forces its apply; its preStop pause is an exec Flagger v1.36.1 can copy", async () => {
    const { objects } = await template({});
    const name = readStackFile("testnet")["bizra:appName"];
    const forced = objects.filter((o) => o.metadata?.annotations?.[PATCH_FORCE_ANNOTATION] === "true").map((o) => `${o.kind}/${o.metadata.name}`);
    assert.deepEqual(forced, [`Deployment/${name}`]);
    const d = find(ofKind(objects, "Deployment"), (o) => o.metadata.name === name, "node Deployment");
    const preStop = nth(d.spec.template.spec.containers, 0, "node container").lifecycle?.preStop;
    assert.deepEqual(preStop, { exec: { command: ["sleep", String(PRESTOP_DRAIN_SECONDS)] } });
  });
});

describe("component type tokens: bizra:<module>:<Type>", function () {
  this.timeout(120_000);
  const kebab = (camel: string) => camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

  it("every component the program registers names its file under components/ and its class", async () => {
    const run = await runProgram("production", testStackConfig("production", { "bizra:alerting": { criticalWebhookUrl: "https://pager.example/hook", warningWebhookUrl: "https://tickets.example/hook" } }));
    const components = run.resources.filter((r) => !r.custom && r.type.startsWith("bizra:"));
    assert.ok(components.length >= 14, `components: ${components.map((c) => c.type).join(", ")}`);
    for (const { type } of components) {
      const m = /^bizra:([a-z][A-Za-z0-9]*):([A-Z][A-Za-z0-9]*)$/.exec(type);
      assert.ok(m, `${type} does not follow bizra:<module>:<Type>`);
      const [, module, cls] = m;
      const file = path.join(REPO_ROOT, "components", `${kebab(module!)}.ts`);
      assert.ok(fs.existsSync(file), `${type}: no ${path.relative(REPO_ROOT, file)}`);
      assert.match(fs.readFileSync(file, "utf8"), new RegExp(`export class ${cls} extends pulumi\\.ComponentResource`), `${type}: no class ${cls} in ${path.relative(REPO_ROOT, file)}`);
    }
  });

  it("componentType refuses a module or type outside the scheme, naming it", () => {
    assert.equal(componentType("holdGate", "HoldGate"), "bizra:holdGate:HoldGate");
    assert.throws(() => componentType("hold-gate", "HoldGate"), /component module "hold-gate": camelCase file name expected/);
    assert.throws(() => componentType("holdGate", "holdGate"), /component type "holdGate": a class name expected/);
  });

  it("a renamed token keeps the former one as an alias, after any alias the caller gave", () => {
    assert.deepEqual(withFormerTypes(undefined, "bizra:node:Namespace").aliases, [{ type: "bizra:node:Namespace" }]);
    const opts = withFormerTypes({ protect: true, aliases: ["urn:pulumi:s::p::t::n"] }, "bizra:a:B");
    assert.deepEqual([opts.protect, opts.aliases], [true, ["urn:pulumi:s::p::t::n", { type: "bizra:a:B" }]]);
  });
});
