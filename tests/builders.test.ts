/** The pure builders behind the node workload and its network policies, checked field by field. */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { networkPolicySpecs } from "../components/network-policy";
import { nodePodSpec, PRESTOP_DRAIN_SECONDS, runtimeFlagData, runtimeFlagsDigest } from "../components/node";
import { NODE_UID } from "../components/pod-security";
import { SIGNER_CLIENT_LABEL, signerComponentLabels } from "../components/signer";
import { VALIDATOR_SET_DIR, VALIDATOR_SET_FILE } from "../components/validator-set";
import { componentLabels } from "../components/labels";
import { ENV, ROUTES } from "@bizra/contract";
import { securityProblems } from "../policies/k8s-hardening/hardening";
import { configOf, find, single } from "./support/stack";
import { plain } from "./support/plain";

const REFS = { image: "img@sha256:x", serviceAccountName: "sa", configMapName: "flags", validatorSetConfigMapName: "vset" };
/** The node pod spec built with plain refs, read as plain values. */
const podOf = (cfg: Parameters<typeof nodePodSpec>[0]) => plain(nodePodSpec(cfg, REFS));

describe("pod spec builder", () => {
  for (const [stack, overrides] of [["testnet", {}], ["production", { "bizra:apiPort": 8123, "bizra:metricsPort": 9555 }]] as const) {
    it(`${stack}: the ConfigMap's ports are the container's ports (${JSON.stringify(overrides)})`, () => {
      const cfg = configOf(stack, overrides);
      const c = single(podOf(cfg).containers, "node container");
      const flags = runtimeFlagData(cfg);
      const port = (name: string) => find(c.ports, (p) => p.name === name, `port ${name}`);
      assert.deepEqual(port("http"), { name: "http", containerPort: cfg.apiPort, protocol: "TCP" });
      assert.deepEqual(port("metrics"), { name: "metrics", containerPort: cfg.metricsPort, protocol: "TCP" });
      assert.equal(flags[ENV.apiPort], String(port("http").containerPort));
      assert.equal(flags[ENV.metricsPort], String(port("metrics").containerPort));
      assert.equal(c.ports?.length, 2);
      if (stack === "production") assert.deepEqual([cfg.apiPort, cfg.metricsPort], [8123, 9555], "the overrides took effect");
    });
  }

  it("runtime flags carry the config's switches, log level and finality thresholds as strings", () => {
    const cfg = configOf("production", { "bizra:runtimeFlags": { POI_BATCH_VERIFY: false, BIZRA_USE_RUST: true }, "bizra:logLevel": "warn" });
    assert.deepEqual(runtimeFlagData(cfg), {
      [ENV.batchVerify]: "false",
      [ENV.useRust]: "true",
      [ENV.apiPort]: String(cfg.apiPort),
      [ENV.metricsPort]: String(cfg.metricsPort),
      [ENV.logLevel]: "warn",
      [ENV.fastFinalityBp]: String(cfg.slos.fastFinalityBp.value),
      [ENV.economicFinalityBp]: String(cfg.slos.economicFinalityBp.value),
      [ENV.validatorId]: cfg.validatorId,
      [ENV.validatorSetFile]: `${VALIDATOR_SET_DIR}/${VALIDATOR_SET_FILE}`,
    });
    const flipped = runtimeFlagData(configOf("production", { "bizra:runtimeFlags": { POI_BATCH_VERIFY: true, BIZRA_USE_RUST: false } }));
    assert.deepEqual([flipped[ENV.batchVerify], flipped[ENV.useRust]], ["true", "false"]);
  });

  it("the shared-state URL and fault injection reach the flags only when set; an error rate of 0 is the node's default, left out", () => {
    const plain = runtimeFlagData(configOf("testnet"));
    assert.deepEqual([plain[ENV.stateRedisUrl], plain[ENV.faultErrorRate]], [undefined, undefined]);
    const set = runtimeFlagData(configOf("testnet", { "bizra:stateRedisUrl": "redis://state:6379", "bizra:faultInjection": { errorRate: 0.2 } }));
    assert.deepEqual([set[ENV.stateRedisUrl], set[ENV.faultErrorRate]], ["redis://state:6379", "0.2"]);
    assert.deepEqual(Object.keys(set).length, Object.keys(plain).length + 2);
    assert.equal(runtimeFlagData(configOf("testnet", { "bizra:faultInjection": { errorRate: 0 } }))[ENV.faultErrorRate], undefined);
  });

  it("the flags digest: SHA-256 of the [key, value] pairs sorted by key, as JSON; another flag value, another digest", () => {
    const cfg = configOf("testnet");
    const sorted = Object.entries(runtimeFlagData(cfg)).sort(([a], [b]) => (a < b ? -1 : 1));
    assert.equal(runtimeFlagsDigest(cfg), createHash("sha256").update(JSON.stringify(sorted)).digest("hex"));
    assert.notEqual(runtimeFlagsDigest(configOf("testnet", { "bizra:logLevel": "warn" })), runtimeFlagsDigest(configOf("testnet", { "bizra:logLevel": "debug" })));
  });

  it("a terminating pod keeps serving for the drain pause, well within its grace period", () => {
    const pod = podOf(configOf("testnet"));
    assert.deepEqual(single(pod.containers, "node container").lifecycle, { preStop: { exec: { command: ["sleep", String(PRESTOP_DRAIN_SECONDS)] } } });
    assert.ok(PRESTOP_DRAIN_SECONDS > 0 && PRESTOP_DRAIN_SECONDS < (pod.terminationGracePeriodSeconds ?? 0));
  });

  it("passes the hardening pack's container rules, and runs as the image's non-root uid", () => {
    const pod = podOf(configOf("production"));
    for (const c of pod.containers) assert.deepEqual(securityProblems(pod, c), [], c.name);
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: NODE_UID, runAsGroup: NODE_UID, fsGroup: NODE_UID, seccompProfile: { type: "RuntimeDefault" } });
    assert.equal(NODE_UID, 10001);
    const c = single(pod.containers, "node container");
    assert.equal(c.securityContext?.privileged, false);
    assert.deepEqual([pod.automountServiceAccountToken, pod.enableServiceLinks, pod.serviceAccountName], [false, false, "sa"]);
  });

  it("mounts the validator set read-only where the flags point, and nothing else writable but /tmp in memory; no signing key", () => {
    const pod = podOf(configOf("testnet"));
    const c = single(pod.containers, "node container");
    assert.deepEqual(c.volumeMounts, [{ name: "validator-set", mountPath: VALIDATOR_SET_DIR, readOnly: true }, { name: "tmp", mountPath: "/tmp" }]);
    assert.deepEqual(pod.volumes, [
      { name: "validator-set", configMap: { name: "vset", items: [{ key: VALIDATOR_SET_FILE, path: VALIDATOR_SET_FILE }] } },
      { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
    ]);
    assert.deepEqual(c.env, [{ name: ENV.host, value: "0.0.0.0" }, { name: "NODE_ENV", value: "production" }]);
    assert.deepEqual(c.envFrom, [{ configMapRef: { name: "flags" } }]);
    assert.deepEqual([c.name, c.image], ["node", "img@sha256:x"]);
  });

  it("probes: startup and liveness on healthz, readiness on readyz, all on the API port", () => {
    const c = single(podOf(configOf("testnet")).containers, "node container");
    const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({ httpGet: { path, port: "http" }, timeoutSeconds: 2, periodSeconds, failureThreshold });
    assert.deepEqual(c.startupProbe, probe(ROUTES.healthz, 2, 30));
    assert.deepEqual(c.livenessProbe, probe(ROUTES.healthz, 10, 3));
    assert.deepEqual(c.readinessProbe, probe(ROUTES.readyz, 5, 2));
  });

  it("resources are the config's, copied; topology spread only when configured: zones preferred, hosts required", () => {
    const cfg = configOf("production", { "bizra:topologySpread": true });
    const pod = podOf(cfg);
    const c = single(pod.containers, "node container");
    assert.deepEqual(c.resources, { requests: { ...cfg.resources.requests }, limits: { ...cfg.resources.limits } });
    assert.notEqual(c.resources?.requests, cfg.resources.requests);
    assert.deepEqual(pod.topologySpreadConstraints?.map((t) => [t.topologyKey, t.whenUnsatisfiable, t.maxSkew, t.labelSelector?.matchLabels?.["app.kubernetes.io/name"]]), [
      ["topology.kubernetes.io/zone", "ScheduleAnyway", 1, cfg.appName],
      ["kubernetes.io/hostname", "DoNotSchedule", 1, cfg.appName],
    ]);
    assert.equal(podOf(configOf("production", { "bizra:topologySpread": false })).topologySpreadConstraints, undefined);
    assert.equal(pod.terminationGracePeriodSeconds, 30);
  });
});

describe("network policy builder", () => {
  const args = { appName: "node0", apiPort: 8080, metricsPort: 9464, signerPort: 7070, monitoringNamespace: "mon", meshNamespace: "mesh" };
  const signerPods = { matchLabels: signerComponentLabels() };
  // Built inside each test (not once when the file loads), so every test sees the builder as it is when it runs.
  const specs = () => plain(networkPolicySpecs(args));
  const ns = (name: string) => ({ matchLabels: { "kubernetes.io/metadata.name": name } });
  const nodePods = { matchLabels: componentLabels() };

  it("default deny in both directions, first, with no rules", () => {
    assert.equal(Object.keys(specs())[0], "default-deny");
    assert.deepEqual(specs()["default-deny"], { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it("exactly these allows; shared-state egress only with a state port", () => {
    const base = ["default-deny", "allow-dns-egress", "allow-metrics-scrape", "allow-api-from-mesh", "allow-signer-clients", "allow-signer-metrics-scrape", "allow-signer-apiserver-egress"];
    assert.deepEqual(Object.keys(specs()), [...base, "allow-peer-traffic"]);
    const withState = plain(networkPolicySpecs({ ...args, stateRedisPort: 6379 }));
    assert.deepEqual(Object.keys(withState), [...base, "allow-shared-state-egress", "allow-peer-traffic"]);
    assert.deepEqual(withState["allow-shared-state-egress"], { podSelector: nodePods, policyTypes: ["Egress"], egress: [{ ports: [{ protocol: "TCP", port: 6379 }] }] });
  });

  it("the signer: its port only from labelled clients, metrics from monitoring, egress only to the API server ports", () => {
    assert.deepEqual(specs()["allow-signer-clients"], { podSelector: signerPods, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: { ...SIGNER_CLIENT_LABEL } } }], ports: [{ protocol: "TCP", port: 7070 }] }] });
    assert.deepEqual(specs()["allow-signer-metrics-scrape"], { podSelector: signerPods, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("mon") }], ports: [{ protocol: "TCP", port: 9464 }] }] });
    assert.deepEqual(specs()["allow-signer-apiserver-egress"], { podSelector: signerPods, policyTypes: ["Egress"], egress: [{ ports: [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 6443 }] }] });
  });

  it("DNS egress only to kube-dns in kube-system, UDP and TCP 53", () => {
    assert.deepEqual(specs()["allow-dns-egress"], {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ namespaceSelector: ns("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] }],
    });
  });

  it("metrics port only from the monitoring namespace; API port only from the mesh namespace", () => {
    assert.deepEqual(specs()["allow-metrics-scrape"], { podSelector: nodePods, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("mon") }], ports: [{ protocol: "TCP", port: 9464 }] }] });
    assert.deepEqual(specs()["allow-api-from-mesh"], { podSelector: nodePods, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("mesh") }], ports: [{ protocol: "TCP", port: 8080 }] }] });
  });

  it("peers reach each other on the API port only, both directions", () => {
    assert.deepEqual(specs()["allow-peer-traffic"], {
      podSelector: nodePods,
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [{ podSelector: nodePods }], ports: [{ protocol: "TCP", port: 8080 }] }],
      egress: [{ to: [{ podSelector: nodePods }], ports: [{ protocol: "TCP", port: 8080 }] }],
    });
  });

  it("the load tester's namespace reaches the API port only when the Canary drives traffic with it", () => {
    const withLt = plain(networkPolicySpecs({ ...args, loadTesterNamespace: "lt" }));
    assert.deepEqual(withLt["allow-api-from-load-tester"], { podSelector: nodePods, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("lt") }], ports: [{ protocol: "TCP", port: 8080 }] }] });
    assert.equal(Object.keys(withLt).at(-1), "allow-peer-traffic");
    assert.equal(specs()["allow-api-from-load-tester"], undefined);
    assert.equal(plain(networkPolicySpecs({ ...args, loadTesterNamespace: "" }))["allow-api-from-load-tester"], undefined);
  });

  it("ports follow the arguments", () => {
    const other = plain(networkPolicySpecs({ ...args, apiPort: 9000, metricsPort: 9999 }));
    const firstPort = (name: string) => other[name]?.ingress?.[0]?.ports?.[0]?.port;
    assert.equal(firstPort("allow-metrics-scrape"), 9999);
    assert.equal(firstPort("allow-api-from-mesh"), 9000);
  });
});
