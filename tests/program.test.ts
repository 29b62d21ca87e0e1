/** The program under mocks, per stack: one describe per component, asserting the fields that matter. */
import { testStackConfig } from "./support/stack";
import { strict as assert } from "node:assert";
import { AWAIT_TIMEOUT_ANNOTATION, DIGEST_REFERENCE } from "../components/config";
import { HPA_METRIC_NAME } from "../components/autoscaler";
import { componentLabels } from "../components/labels";
import { API_PORT_NAME, METRICS_PORT_NAME, NODE_UID, RUNTIME_FLAGS_DIGEST_ANNOTATION } from "../components/node";
import { SIGNING_KEY_DIR, signerComponentLabels } from "../components/signer";
import { ENV, ROUTES } from "@bizra/contract";
import { kubernetesObjects, runProgram, type ProgramRun } from "../scripts/lib/mock-runtime";
import { readStackFile, STACKS } from "../scripts/lib/stack-config";
import { isBuiltIn, validateBuiltIn } from "./support/k8s-schema";

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

for (const stack of STACKS) {
  describe(`program, stack ${stack}`, function () {
    const file = readStackFile(stack) as Record<string, any>;
    let run: ProgramRun;
    let signingKey: string;
    const objects = () => kubernetesObjects(run);
    const one = (kind: string, name?: string) => {
      const found = objects().filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
      assert.equal(found.length, 1, `expected exactly one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`);
      return found[0];
    };

    before(async function () {
      const config = testStackConfig(stack);
      signingKey = config.values["bizra:signingKey"];
      run = await runProgram(stack, config);
    });

    describe("NodeNamespace", () => {
      it("creates the configured namespace with Pod Security Admission at restricted", () => {
        const ns = one("Namespace");
        assert.equal(ns.metadata.name, file["bizra:namespace"]);
        assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
      });
      it("puts every namespaced object in it", () => {
        for (const o of objects().filter((o) => o.kind !== "Namespace" && o.metadata.namespace !== undefined)) {
          if (o.kind === "ConfigMap" && o.metadata.labels?.grafana_dashboard) continue; // dashboards go to the Grafana namespace
          assert.equal(o.metadata.namespace, file["bizra:namespace"], `${o.kind}/${o.metadata.name}`);
        }
      });
    });

    describe("NodeImage", () => {
      it("runs the configured image pinned by digest", () => {
        const image = one("Deployment", file["bizra:appName"]).spec.template.spec.containers[0].image;
        assert.match(image, DIGEST_REFERENCE);
        assert.equal(image, file["bizra:image"].reference);
        assert.equal(run.outputs.imageReference, image);
        assert.equal(run.outputs.imageDigest, image.split("@")[1]);
      });
    });

    describe("BizraNode", () => {
      it("names the Deployment after the app and runs the configured replicas", () => {
        const d = one("Deployment", file["bizra:appName"]);
        assert.equal(d.metadata.name, file["bizra:appName"]);
        assert.equal(d.spec.replicas, file["bizra:replicas"]);
      });
      it("selects its own pods, and the Service selects the same pods", () => {
        const d = one("Deployment", file["bizra:appName"]);
        const podLabels = d.spec.template.metadata.labels;
        assert.ok(matches(d.spec.selector.matchLabels, podLabels));
        assert.ok(matches(one("Service", file["bizra:appName"]).spec.selector, podLabels));
        assert.ok(matches(one("PodDisruptionBudget", file["bizra:appName"]).spec.selector.matchLabels, podLabels));
      });
      it("hardens the pod: non-root, read-only root fs, no escalation, no capabilities, seccomp", () => {
        const pod = one("Deployment", file["bizra:appName"]).spec.template.spec;
        const c = pod.containers[0];
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.securityContext.runAsUser, NODE_UID);
        assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
        assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
      });
      it("sets requests and limits from config", () => {
        const c = one("Deployment", file["bizra:appName"]).spec.template.spec.containers[0];
        assert.deepEqual(c.resources, file["bizra:resources"]);
      });
      it("probes the node's health routes on the API port", () => {
        const c = one("Deployment", file["bizra:appName"]).spec.template.spec.containers[0];
        assert.equal(c.startupProbe.httpGet.path, ROUTES.healthz);
        assert.equal(c.livenessProbe.httpGet.path, ROUTES.healthz);
        assert.equal(c.readinessProbe.httpGet.path, ROUTES.readyz);
        for (const p of [c.startupProbe, c.livenessProbe, c.readinessProbe]) assert.equal(p.httpGet.port, API_PORT_NAME);
        assert.deepEqual(
          c.ports.map((p: any) => [p.name, p.containerPort]),
          [
            [API_PORT_NAME, file["bizra:apiPort"]],
            [METRICS_PORT_NAME, 9464],
          ],
        );
      });
      it("exposes the API and metrics ports on the Service", () => {
        const ports = one("Service", file["bizra:appName"]).spec.ports.map((p: any) => [p.name, p.port, p.targetPort]);
        assert.deepEqual(ports, [
          [API_PORT_NAME, file["bizra:apiPort"], API_PORT_NAME],
          [METRICS_PORT_NAME, file["bizra:metricsPort"], METRICS_PORT_NAME],
        ]);
      });
      it("passes runtime flags through a ConfigMap the container reads", () => {
        const flags = one("ConfigMap", `${file["bizra:appName"]}-flags`);
        assert.equal(flags.data[ENV.batchVerify], String(file["bizra:runtimeFlags"].POI_BATCH_VERIFY));
        assert.equal(flags.data[ENV.fastFinalityBp], "6700");
        const c = one("Deployment", file["bizra:appName"]).spec.template.spec.containers[0];
        assert.deepEqual(c.envFrom, [{ configMapRef: { name: flags.metadata.name } }]);
      });
      it("mounts no Secret in the verifier pods", () => {
        const pod = one("Deployment", file["bizra:appName"]).spec.template.spec;
        assert.ok(!pod.volumes.some((v: any) => v.secret), "the verifiers hold no key");
      });
      it("mounts the signing key from a Secret, read-only, in the signer only, and never exports it", () => {
        const secret = one("Secret", `${file["bizra:appName"]}-signer-signing-key`);
        assert.equal(Object.values(secret.stringData)[0], signingKey);
        const pod = one("Deployment", `${file["bizra:appName"]}-signer`).spec.template.spec;
        const vol = pod.volumes.find((v: any) => v.secret?.secretName === secret.metadata.name);
        assert.equal(vol.secret.secretName, secret.metadata.name);
        const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === vol.name);
        assert.equal(mount.readOnly, true);
        assert.equal(mount.mountPath, SIGNING_KEY_DIR);
        assert.ok(!JSON.stringify(run.outputs).includes(signingKey), "signing key leaked into stack outputs");
        const cm = objects().filter((o) => o.kind === "ConfigMap");
        assert.ok(!JSON.stringify(cm).includes(signingKey), "signing key leaked into a ConfigMap");
      });
      it(`spreads pods across zones and hosts ${file["bizra:topologySpread"] ? "(on)" : "(off)"}`, () => {
        const spread = one("Deployment", file["bizra:appName"]).spec.template.spec.topologySpreadConstraints;
        if (file["bizra:topologySpread"]) {
          assert.deepEqual(spread.map((s: any) => s.topologyKey), ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]);
        } else {
          assert.equal(spread, undefined);
        }
      });
      it("exports the service DNS name, ports and metrics URL", () => {
        const dns = `${file["bizra:appName"]}.${file["bizra:namespace"]}.svc.cluster.local`;
        assert.equal(run.outputs.serviceDns, dns);
        assert.equal(run.outputs.metricsUrl, `http://${dns}:9464/metrics`);
        assert.equal(run.outputs.apiEndpoint, `http://${file["bizra:appName"]}-mesh.${file["bizra:namespace"]}.svc.cluster.local:${file["bizra:apiPort"]}`);
      });
    });

    describe("NodeNetworkPolicy", () => {
      const policies = () => objects().filter((o) => o.kind === "NetworkPolicy");
      const byName = (suffix: string) => policies().find((p) => p.metadata.name === `${file["bizra:appName"]}-${suffix}`)!;
      it("denies all ingress and egress by default", () => {
        const deny = byName("default-deny");
        assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
      });
      it("allows DNS egress to kube-dns only, on port 53", () => {
        const dns = byName("allow-dns-egress").spec.egress[0];
        assert.deepEqual(dns.ports.map((p: any) => `${p.protocol}/${p.port}`), ["UDP/53", "TCP/53"]);
        assert.equal(dns.to[0].podSelector.matchLabels["k8s-app"], "kube-dns");
      });
      it("allows the metrics port from the monitoring namespace only", () => {
        const rule = byName("allow-metrics-scrape").spec.ingress[0];
        assert.deepEqual(rule.ports, [{ protocol: "TCP", port: 9464 }]);
        assert.equal(rule.from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"], "monitoring");
      });
      it("allows the API port from the mesh namespace only", () => {
        const rule = byName("allow-api-from-mesh").spec.ingress[0];
        assert.deepEqual(rule.ports, [{ protocol: "TCP", port: file["bizra:apiPort"] }]);
        assert.equal(rule.from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"], "istio-system");
      });
      it("allows peer traffic between node pods in both directions", () => {
        const spec = byName("allow-peer-traffic").spec;
        assert.deepEqual(spec.policyTypes, ["Ingress", "Egress"]);
        assert.deepEqual(spec.ingress[0].from[0].podSelector.matchLabels, componentLabels());
        assert.deepEqual(spec.egress[0].to[0].podSelector.matchLabels, componentLabels());
      });
      it("selects the node pods with labels that Flagger keeps on primary and canary", () => {
        const pod = one("Deployment", file["bizra:appName"]).spec.template.metadata.labels;
        // the hold gate's policy selects the gate's pods (components/hold-gate.ts), not the node's
        const signerPod = one("Deployment", `${file["bizra:appName"]}-signer`).spec.template.metadata.labels;
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
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: one("Deployment", file["bizra:appName"]).metadata.name });
        assert.equal(hpa.spec.minReplicas, file["bizra:hpa"].minReplicas);
        assert.equal(hpa.spec.maxReplicas, file["bizra:hpa"].maxReplicas);
        const m = hpa.spec.metrics[0];
        assert.equal(m.type, "Pods");
        assert.equal(m.pods.metric.name, HPA_METRIC_NAME);
        assert.equal(m.pods.target.averageValue, String(100_000 * file["bizra:hpa"].targetShareOfThroughputSlo));
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
        const d = structuredClone(one("Deployment", file["bizra:appName"]));
        d.spec.template.spec.containers[0].imagePullPolicyy = "Always";
        const errors = validateBuiltIn(d);
        assert.equal(errors.length, 1);
        assert.match(errors[0], /imagePullPolicyy/);
      });
    });
  });
}

describe("rollouts the provider awaits", function () {
  this.timeout(120_000);
  const template = async (overrides: Record<string, unknown>) => {
    const objects = kubernetesObjects(await runProgram("testnet", testStackConfig("testnet", overrides)));
    const name = readStackFile("testnet")["bizra:appName"];
    const d = objects.find((o) => o.kind === "Deployment" && o.metadata.name === name);
    assert.ok(d, "no node Deployment");
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
    const timed = (objects: Record<string, any>[]) =>
      objects.filter((o) => o.metadata?.annotations?.[AWAIT_TIMEOUT_ANNOTATION] !== undefined).map((o) => `${o.kind}=${o.metadata.annotations[AWAIT_TIMEOUT_ANNOTATION]}`).sort();
    assert.deepEqual(timed((await template({})).objects), []);
    const objects = (await template({ "bizra:awaitTimeoutSeconds": 90 })).objects;
    // Every Deployment (node, signer, hold gate), and the validator Job when evidence and a trusted key exist.
    const rollouts = objects.filter((o) => o.kind === "Deployment" || o.kind === "Job").map((o) => `${o.kind}=90`).sort();
    assert.ok(rollouts.filter((r) => r.startsWith("Deployment")).length >= 2, `Deployments: ${rollouts.join(", ")}`);
    assert.deepEqual(timed(objects), rollouts);
  });
});
