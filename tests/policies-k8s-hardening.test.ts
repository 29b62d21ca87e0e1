import * as assert from "node:assert/strict";
import { deletePath, setPath } from "./support/mutate";
import {
  canaryThresholds, hardeningPolicies, imagesPinned, metricsMonitored, namespaceDefaultDeny, podSecurity, productionControls, resourcesSet,
} from "../policies/k8s-hardening/hardening";
import {
  assertHasViolation, assertNoViolations, clone, packViolations, programResources, resourceArgs, resourceViolations, stackArgs, stackViolations, type PlainResource,
} from "./support/policy";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
let prod: PlainResource[];
const one = (type: string, rs = prod) => clone(rs.find((r) => r.type === type) as PlainResource);
const without = (type: string, rs = prod) => clone(rs.filter((r) => r.type !== type));
const replace = (r: PlainResource, rs = prod) => [...clone(rs.filter((x) => !(x.type === r.type && x.name === r.name))), r];

describe("k8s-hardening pack", () => {
  before(async () => {
    prod = await programResources("production");
  });

  it("every policy has a description and remediation", () => {
    for (const p of hardeningPolicies) assert.ok(p.description.length > 20 && (p.remediationSteps ?? "").length > 20, p.name);
  });

  for (const stack of ["testnet", "production"]) {
    it(`passes over the ${stack} stack's resources as the program produces them`, async () => {
      assertNoViolations(await packViolations(hardeningPolicies, await programResources(stack), {}, stack));
    });
  }

  describe("images-pinned-from-allowed-registries", () => {
    it("passes digest-pinned images from the registry the Kyverno policy allows", async () => {
      assertNoViolations(await stackViolations(imagesPinned, stackArgs(prod, {}, "production")));
    });
    it("rejects a tag-only image", async () => {
      const d = one(DEPLOYMENT);
      d.props.spec.template.spec.containers[0].image = "ghcr.io/bizra/node0:latest";
      assertHasViolation(await stackViolations(imagesPinned, stackArgs(replace(d))), "Deployment bizra-node0/node0 container node: image ghcr.io/bizra/node0:latest is not pinned by digest");
    });
    it("rejects a registry outside allowedRegistries", async () => {
      const v = await stackViolations(imagesPinned, stackArgs(prod, { allowedRegistries: ["registry.example.com/bizra"] }));
      assertHasViolation(v, "is not from an allowed registry (registry.example.com/bizra)");
    });
  });

  describe("container-requests-and-limits", () => {
    it("passes the node Deployment", async () => assertNoViolations(await resourceViolations(resourcesSet, resourceArgs(one(DEPLOYMENT)))));
    it("rejects a container without a memory limit", async () => {
      const d = one(DEPLOYMENT);
      delete d.props.spec.template.spec.containers[0].resources.limits.memory;
      assertHasViolation(await resourceViolations(resourcesSet, resourceArgs(d)), "Deployment bizra-node0/node0 container node: resources limits.memory not set");
    });
  });

  describe("pod-security-hardening", () => {
    it("passes the node Deployment and the validator Job", async () => {
      for (const r of prod.filter((x) => x.type === DEPLOYMENT || x.type === "kubernetes:batch/v1:Job")) assertNoViolations(await resourceViolations(podSecurity, resourceArgs(r)));
    });
    const cases: Array<[string, (c: unknown, pod: unknown) => void, string]> = [
      ["root", (c, pod) => { deletePath(c, ["securityContext", "runAsNonRoot"]); deletePath(pod, ["securityContext", "runAsNonRoot"]); }, "runAsNonRoot must be true"],
      ["writable root fs", (c) => setPath(c, ["securityContext", "readOnlyRootFilesystem"], false), "securityContext.readOnlyRootFilesystem must be true"],
      ["privilege escalation", (c) => deletePath(c, ["securityContext", "allowPrivilegeEscalation"]), "securityContext.allowPrivilegeEscalation must be false"],
      ["capabilities kept", (c) => setPath(c, ["securityContext", "capabilities", "drop"], ["NET_RAW"]), "securityContext.capabilities.drop must include ALL"],
      ["no seccomp", (c, pod) => { deletePath(c, ["securityContext", "seccompProfile"]); deletePath(pod, ["securityContext", "seccompProfile"]); }, "seccompProfile.type must be RuntimeDefault"],
    ];
    for (const [label, mutate, message] of cases) {
      it(`rejects ${label}`, async () => {
        const d = one(DEPLOYMENT);
        const pod = d.props.spec.template.spec;
        mutate(pod.containers[0], pod);
        const v = await resourceViolations(podSecurity, resourceArgs(d));
        assert.ok(v.length === 1 && v[0]!.startsWith("Deployment bizra-node0/node0 container node: ") && v[0]!.includes(message), v.join("\n"));
      });
    }
  });

  describe("namespace-default-deny", () => {
    it("passes with the default-deny policy", async () => assertNoViolations(await stackViolations(namespaceDefaultDeny, stackArgs(prod))));
    it("rejects a namespace whose only policies select some pods", async () => {
      const rs = prod.filter((r) => !(r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && r.name === "network-default-deny"));
      assertHasViolation(await stackViolations(namespaceDefaultDeny, stackArgs(clone(rs))), "namespace bizra-node0 runs workloads but has no default-deny NetworkPolicy");
    });
  });

  describe("metrics-service-monitored", () => {
    it("passes with the ServiceMonitor", async () => assertNoViolations(await stackViolations(metricsMonitored, stackArgs(prod))));
    it("rejects a metrics Service without a ServiceMonitor", async () => {
      assertHasViolation(await stackViolations(metricsMonitored, stackArgs(without("kubernetes:monitoring.coreos.com/v1:ServiceMonitor"))), "Service bizra-node0/node0 has a port named metrics but no ServiceMonitor selects it");
    });
  });

  describe("production-delivery-controls", () => {
    it("passes production as rendered", async () => assertNoViolations(await stackViolations(productionControls, stackArgs(prod, {}, "production"))));
    it("does not apply to testnet", async () => assertNoViolations(await stackViolations(productionControls, stackArgs(without("kubernetes:flagger.app/v1beta1:Canary"), {}, "testnet"))));
    it("rejects Kyverno in Audit mode, no Canary, no PDB and an HPA with one replica", async () => {
      const cp = one("kubernetes:kyverno.io/v1:ClusterPolicy");
      for (const r of cp.props.spec.rules) for (const v of r.verifyImages ?? []) v.failureAction = "Audit";
      const hpa = one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler");
      hpa.props.spec.minReplicas = 1;
      const rs = replace(hpa, replace(cp)).filter((r) => r.type !== "kubernetes:flagger.app/v1beta1:Canary" && r.type !== "kubernetes:policy/v1:PodDisruptionBudget");
      const v = await stackViolations(productionControls, stackArgs(rs, {}, "production"));
      assertHasViolation(v, "production stack: Kyverno ClusterPolicy require-signed-images is not in Enforce mode; no Flagger Canary; no PodDisruptionBudget; HPA node0 has minReplicas 1 (< 2)");
    });
    it("rejects a Kyverno policy that audits only its registry rule", async () => {
      const cp = one("kubernetes:kyverno.io/v1:ClusterPolicy");
      cp.props.spec.rules.find((r: { validate?: { failureAction?: string } }) => r.validate).validate.failureAction = "Audit";
      assertHasViolation(await stackViolations(productionControls, stackArgs(replace(cp), {}, "production")), "production stack: Kyverno ClusterPolicy require-signed-images is not in Enforce mode");
    });
  });

  describe("canary-thresholds-match-slo", () => {
    it("passes thresholds derived from the SLO table", async () => assertNoViolations(await stackViolations(canaryThresholds, stackArgs(prod))));
    it("rejects a canary check looser than its SLO", async () => {
      const c = one("kubernetes:flagger.app/v1beta1:Canary");
      const m = c.props.spec.analysis.metrics.find((x: { thresholdRange: { min?: number } }) => x.thresholdRange.min === 0.99);
      m.thresholdRange.min = 0.5;
      assertHasViolation(await stackViolations(canaryThresholds, stackArgs(replace(c))), `Canary node0 metric ${m.name}: thresholdRange.min 0.5 is looser than SLO poiVerifySuccessRate >= 0.99`);
    });
    it("rejects a canary check without a bound", async () => {
      const c = one("kubernetes:flagger.app/v1beta1:Canary");
      delete c.props.spec.analysis.metrics[0].thresholdRange.max;
      assertHasViolation(await stackViolations(canaryThresholds, stackArgs(replace(c))), "no thresholdRange.max, SLO apiP99Latency requires <= 0.0015");
    });
  });
});
