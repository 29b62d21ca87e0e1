/**
 * The cluster's monitoring stack as objects (scripts/lib/cluster-monitoring.ts, pure): the operator release's own
 * RBAC and Deployment with the local images, and a Prometheus that selects exactly what the program renders. The
 * end-to-end proof on a cluster is tests/cluster-observability.test.ts.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { goModuleDir } from "../scripts/lib/go-module";
import { monitoringObjects, OPERATOR_CRDS, OPERATOR_MODULE, operatorCrdFiles, operatorVersion, PROMETHEUS_NAME, SELECTED_LABELS, type K8sObject } from "../scripts/lib/cluster-monitoring";
import { objectsOfKind, runProgram } from "../scripts/lib/mock-runtime";
import { STACKS } from "../scripts/lib/stack-config";
import { single, testStackConfig } from "./support/stack";

/** The fields of the applied objects these tests read. */
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
type Applied = K8sObject & {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  subjects?: { name: string; namespace?: string }[];
  rules?: Rule[];
  spec?: {
    image?: string;
    version?: string;
    serviceAccountName?: string;
    selector?: Record<string, string>;
    serviceMonitorSelector?: { matchLabels?: Record<string, string> };
    ruleSelector?: { matchLabels?: Record<string, string> };
    serviceMonitorNamespaceSelector?: object;
    ruleNamespaceSelector?: object;
    template?: { spec: { securityContext?: { runAsNonRoot?: boolean }; containers: { image?: string; args?: string[]; securityContext?: { readOnlyRootFilesystem?: boolean } }[] } };
  };
};

const images = { prometheus: "docker.io/local/prometheus:v3.5.0", prometheusVersion: "v3.5.0", operator: "docker.io/local/prometheus-operator:v0.85.0", reloader: "docker.io/local/prometheus-config-reloader:v0.85.0" };

/** matchLabels semantics: every key equal. */
const selects = (selector: Record<string, string>, labels: Record<string, string> | undefined) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

describe("cluster monitoring stack: the objects applied to the local cluster", function () {
  this.timeout(120_000); // a first `go mod download` of the operator module
  let moduleDir: string;
  let objects: Applied[];
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const one = (kind: string, name?: string) => single(ofKind(kind).filter((o) => name === undefined || o.metadata.name === name), `${kind} ${name ?? ""}`);
  before(() => {
    moduleDir = goModuleDir(OPERATOR_MODULE, operatorVersion());
    objects = monitoringObjects({ namespace: "monitoring", images, moduleDir }) as Applied[];
  });

  it("the operator: the release's ServiceAccount, ClusterRole, binding and Deployment, with the local images and no kubelet Service", () => {
    assert.deepEqual(objects.map((o) => o.kind).slice(0, 4).sort(), ["ClusterRole", "ClusterRoleBinding", "Deployment", "ServiceAccount"]);
    const deployment = one("Deployment");
    assert.equal(deployment.metadata.namespace, "monitoring");
    const pod = deployment.spec?.template?.spec;
    const container = single(pod?.containers ?? [], "operator container");
    const args = container.args ?? [];
    assert.equal(container.image, images.operator);
    assert.ok(args.includes(`--prometheus-config-reloader=${images.reloader}`), args.join(" "));
    assert.ok(!args.some((a) => a.startsWith("--kubelet-service")), "no kubelet Service (kube-system is not used here)");
    // the release's hardening is kept
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    for (const b of ofKind("ClusterRoleBinding")) {
      const subject = single(b.subjects ?? [], `${b.metadata.name} subject`);
      assert.equal(subject.namespace, "monitoring", `${b.metadata.name} binds the ServiceAccount in the monitoring namespace`);
      one("ServiceAccount", subject.name);
    }
    // the operator may manage Prometheus objects and StatefulSets (the release's ClusterRole, unchanged)
    const rules = one("ClusterRole", "prometheus-operator").rules ?? [];
    assert.ok(rules.some((r) => r.apiGroups.includes("monitoring.coreos.com") && r.resources.includes("prometheuses")));
    assert.ok(rules.some((r) => r.apiGroups.includes("apps") && r.resources.includes("statefulsets")));
  });

  it("Prometheus: the built image and its version, a ServiceAccount that may discover endpoints, a Service in front of its pods", () => {
    const prom = one("Prometheus");
    assert.equal(prom.metadata.name, PROMETHEUS_NAME);
    assert.equal(prom.spec?.image, images.prometheus);
    assert.equal(prom.spec?.version, images.prometheusVersion);
    const rules = one("ClusterRole", "prometheus").rules ?? [];
    assert.ok(rules.some((r) => r.apiGroups.includes("") && ["services", "endpoints", "pods"].every((x) => r.resources.includes(x)) && r.verbs.includes("list")));
    const sa = one("ServiceAccount", prom.spec?.serviceAccountName);
    assert.equal(sa.metadata.namespace, "monitoring");
    assert.deepEqual(one("Service").spec?.selector, { "operator.prometheus.io/name": PROMETHEUS_NAME });
  });

  for (const stack of STACKS) {
    it(`${stack}: the Prometheus selects the program's ServiceMonitors and PrometheusRule, in their namespace`, async () => {
      const prom = one("Prometheus");
      const run = await runProgram(stack, testStackConfig(stack));
      const sms = objectsOfKind(run, "ServiceMonitor");
      const rules = objectsOfKind(run, "PrometheusRule");
      assert.equal(sms.length, 2);
      assert.equal(rules.length, 1);
      for (const o of [...sms, ...rules]) assert.ok(selects(SELECTED_LABELS, o.metadata.labels), `${o.kind} ${o.metadata.name} carries ${JSON.stringify(SELECTED_LABELS)}`);
      assert.deepEqual(prom.spec?.serviceMonitorSelector?.matchLabels, SELECTED_LABELS);
      assert.deepEqual(prom.spec?.ruleSelector?.matchLabels, SELECTED_LABELS);
      // {} = every namespace (the node's is the stack's own)
      assert.deepEqual(prom.spec?.serviceMonitorNamespaceSelector, {});
      assert.deepEqual(prom.spec?.ruleNamespaceSelector, {});
    });
  }

  it("the operator's CRDs for the kinds the program does not create exist in the module", () => {
    const files = operatorCrdFiles(moduleDir);
    assert.equal(files.length, OPERATOR_CRDS.length);
    for (const f of files) assert.ok(fs.existsSync(f), f);
  });

  it("a module folder without the release's manifests is refused, naming the folder", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-no-operator-"));
    try {
      fs.mkdirSync(path.join(empty, "example", "rbac", "prometheus-operator"), { recursive: true });
      assert.throws(() => monitoringObjects({ namespace: "monitoring", images, moduleDir: empty }), /no operator Deployment in .*example\/rbac\/prometheus-operator/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
