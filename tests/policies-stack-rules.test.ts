/**
 * The packs' stack and resource policies over small hand-built stacks (no program run): each rule's pass, each way
 * it refuses with the exact message, and the objects it must ignore.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  canaryThresholds, imagesPinned, metricsMonitored, namespaceDefaultDeny, podSecurity, productionControls, resourcesSet,
} from "../policies/k8s-hardening/hardening";
import { podSpecOf, workloadName } from "../policies/k8s-hardening/workloads";
import { readSloTable, stackName, stackOfUrn } from "../policies/shared/stack";
import { defaultReleasePolicyConfig, kyvernoCosignKey, releaseManifestAdvisory, releaseManifestPolicy, releaseProblems, workloadImages } from "../policies/quality-gates/release";
import { postDeployRequirement } from "../policies/quality-gates/post-deploy";
import { POST_DEPLOY_REPORT_ANNOTATION, SLO_CONFIGMAP_KEY } from "@bizra/contract";
import { TRUSTED_KEYS_ENV } from "@bizra/evidence";
import { resourceArgs, resourceViolations, stackArgs, stackViolations, type PlainResource } from "./support/policy";

const DIGEST = `@sha256:${"a".repeat(64)}`;
const IMAGE = `ghcr.io/bizra/node${DIGEST}`;
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const hardened = { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } };
const fullResources = { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } };
const container = (over: object = {}) => ({ name: "c", image: IMAGE, resources: fullResources, securityContext: hardened, ...over });
const deployment = (pod: object, ns: string | null = "ns", name = "d"): PlainResource => ({
  type: DEPLOYMENT, name: `${name}-res`, props: { metadata: { name, ...(ns === null ? {} : { namespace: ns }) }, spec: { template: { spec: pod } } },
});
const violationsOf = async (policy: Parameters<typeof stackViolations>[0], rs: PlainResource[], config: object = {}, stack = "testnet") => stackViolations(policy, stackArgs(rs, config, stack));
const resourceViolationsOf = async (policy: Parameters<typeof resourceViolations>[0], r: PlainResource) => resourceViolations(policy, resourceArgs(r));

describe("workloads: pod specs of every kind, missing parts read as absent", () => {
  it("finds the pod spec of each workload kind and nothing in a half-built object", () => {
    const pod = { containers: [{ name: "c" }] };
    for (const type of ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:Job"]) {
      assert.equal(podSpecOf(type, { spec: { template: { spec: pod } } }), pod, type);
      for (const props of [undefined, {}, { spec: {} }, { spec: { template: {} } }]) assert.equal(podSpecOf(type, props), undefined, `${type} ${JSON.stringify(props)}`);
    }
    for (const props of [undefined, {}, { spec: {} }, { spec: { jobTemplate: {} } }, { spec: { jobTemplate: { spec: {} } } }, { spec: { jobTemplate: { spec: { template: {} } } } }]) {
      assert.equal(podSpecOf("kubernetes:batch/v1:CronJob", props), undefined, JSON.stringify(props));
    }
    assert.equal(podSpecOf("kubernetes:core/v1:Pod", undefined), undefined);
  });

  it("names: kind, namespace/ when there is one, the object's name else the resource name", () => {
    assert.equal(workloadName("kubernetes:batch/v1:Job", undefined, "fb"), "Job fb");
    assert.equal(workloadName("kubernetes:batch/v1:Job", { metadata: { namespace: "ns" } }, "fb"), "Job ns/fb");
    assert.equal(workloadName("kubernetes:batch/v1:Job", { metadata: { name: "j" } }, "fb"), "Job j");
  });
});

describe("k8s-hardening policies on hand-built stacks", () => {
  describe("images-pinned-from-allowed-registries", () => {
    it("registries: the configured list, else the Kyverno policy's, else ghcr.io/bizra; every container and init container", async () => {
      const other = `r.io/app${DIGEST}`;
      const d = deployment({ initContainers: [container({ name: "i", image: other })], containers: [container({ image: other }), container({ name: undefined, image: "r.io/app:1" })] });
      assert.deepEqual(await violationsOf(imagesPinned, [d], { allowedRegistries: ["r.io"] }), ["Deployment ns/d container ?: image r.io/app:1 is not pinned by digest (@sha256:<64 hex>)"]);
      assert.deepEqual(await violationsOf(imagesPinned, [d], { allowedRegistries: [] }), [
        `Deployment ns/d initContainer i: image ${other} is not from an allowed registry (ghcr.io/bizra)`,
        `Deployment ns/d container c: image ${other} is not from an allowed registry (ghcr.io/bizra)`,
        "Deployment ns/d container ?: image r.io/app:1 is not pinned by digest (@sha256:<64 hex>)",
      ]);
      const cp: PlainResource = { type: "kubernetes:kyverno.io/v1:ClusterPolicy", name: "cp", props: { spec: { rules: [{ verifyImages: [{ imageReferences: ["r.io/*"] }] }] } } };
      assert.equal((await violationsOf(imagesPinned, [d, cp])).length, 1);
      assert.equal((await violationsOf(imagesPinned, [deployment({ containers: [container()] }), cp])).length, 1, "the Kyverno policy replaces the default");
    });

    it("only workloads are checked", async () => {
      assert.deepEqual(await violationsOf(imagesPinned, [{ type: "kubernetes:core/v1:Service", name: "s", props: { spec: { containers: [{ image: "x" }] } } }]), []);
      assert.deepEqual(await violationsOf(imagesPinned, [deployment({ containers: [container()] })]), []);
    });
  });

  describe("container-requests-and-limits", () => {
    it("names each missing request and limit of each container", async () => {
      const d = deployment({ containers: [container({ resources: undefined }), container({ name: "m", resources: { requests: { cpu: "1" }, limits: { cpu: "1", memory: "1Gi" } } })] });
      assert.deepEqual(await resourceViolationsOf(resourcesSet, d), [
        "Deployment ns/d container c: resources requests.cpu, requests.memory, limits.cpu, limits.memory not set",
        "Deployment ns/d container m: resources requests.memory not set",
      ]);
      assert.deepEqual(await resourceViolationsOf(resourcesSet, deployment({ initContainers: [container({ name: undefined, resources: { requests: {} } })] })), [
        "Deployment ns/d initContainer ?: resources requests.cpu, requests.memory, limits.cpu, limits.memory not set",
      ]);
      assert.deepEqual(await resourceViolationsOf(resourcesSet, deployment({ containers: [container()] })), []);
      assert.deepEqual(await resourceViolationsOf(resourcesSet, { type: "kubernetes:core/v1:Service", name: "s", props: { spec: { containers: [{ name: "c" }] } } }), []);
    });
  });

  describe("pod-security-hardening", () => {
    it("one message per container, its problems joined; pod-level settings count", async () => {
      const d = deployment({ containers: [container({ securityContext: { ...hardened, privileged: true, readOnlyRootFilesystem: false } }), container({ name: undefined, securityContext: {} })] });
      assert.deepEqual(await resourceViolationsOf(podSecurity, d), [
        "Deployment ns/d container c: securityContext.readOnlyRootFilesystem must be true; securityContext.privileged must not be true",
        "Deployment ns/d container ?: runAsNonRoot must be true (container or pod securityContext) and runAsUser not 0; securityContext.readOnlyRootFilesystem must be true; " +
          "securityContext.allowPrivilegeEscalation must be false; securityContext.capabilities.drop must include ALL; seccompProfile.type must be RuntimeDefault (container or pod securityContext)",
      ]);
      const { runAsNonRoot: _n, seccompProfile: _s, ...bare } = hardened;
      const podLevel = { securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } }, containers: [container({ securityContext: bare })] };
      assert.deepEqual(await resourceViolationsOf(podSecurity, deployment(podLevel)), []);
      assert.deepEqual(await resourceViolationsOf(podSecurity, { type: "kubernetes:core/v1:Service", name: "s", props: { spec: { containers: [{}] } } }), []);
    });
  });

  describe("namespace-default-deny", () => {
    const deny = (ns: string | undefined, spec: object = { podSelector: {}, policyTypes: ["Ingress", "Egress"] }, type = "kubernetes:networking.k8s.io/v1:NetworkPolicy"): PlainResource => ({
      type, name: `deny-${ns}`, props: { metadata: ns === undefined ? {} : { namespace: ns }, spec },
    });
    const missing = (ns: string) => `namespace ${ns} runs workloads but has no default-deny NetworkPolicy (podSelector {} with policyTypes Ingress and Egress)`;
    const pod = { containers: [container()] };

    it("a default-deny policy in the workload's namespace passes; a workload without namespace is in default", async () => {
      assert.deepEqual(await violationsOf(namespaceDefaultDeny, [deployment(pod, "a"), deny("a")]), []);
      assert.deepEqual(await violationsOf(namespaceDefaultDeny, [deployment(pod, null), deny("default")]), []);
      assert.deepEqual(await violationsOf(namespaceDefaultDeny, [{ type: "kubernetes:core/v1:Service", name: "s", props: { metadata: { namespace: "c" } } }]), [], "no workloads, nothing to deny");
    });

    it("each namespace without one is named, in order; a policy elsewhere or of another type does not count", async () => {
      assert.deepEqual(await violationsOf(namespaceDefaultDeny, [deployment(pod, "b"), deployment(pod, "a", "e"), deny("c")]), [missing("a"), missing("b")]);
      assert.deepEqual(await violationsOf(namespaceDefaultDeny, [deployment(pod, "a"), deny("a", undefined, "kubernetes:core/v1:ConfigMap")]), [missing("a")]);
    });

    it("not a default deny: a selector that selects, no selector, one direction only, any rule", async () => {
      const notDeny = [
        { policyTypes: ["Ingress", "Egress"] },
        { podSelector: { matchLabels: { app: "x" } }, policyTypes: ["Ingress", "Egress"] },
        { podSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] }, policyTypes: ["Ingress", "Egress"] },
        { podSelector: {}, policyTypes: ["Ingress"] },
        { podSelector: {}, policyTypes: ["Egress"] },
        { podSelector: {} },
        { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{}] },
        { podSelector: {}, policyTypes: ["Ingress", "Egress"], egress: [{}] },
      ];
      for (const spec of notDeny) assert.deepEqual(await violationsOf(namespaceDefaultDeny, [deployment(pod, "a"), deny("a", spec)]), [missing("a")], JSON.stringify(spec));
      const explicitEmpty = { podSelector: { matchLabels: {}, matchExpressions: [] }, policyTypes: ["Egress", "Ingress"], ingress: [], egress: [] };
      assert.deepEqual(await violationsOf(namespaceDefaultDeny, [deployment(pod, "a"), deny("a", explicitEmpty)]), []);
      assert.deepEqual(await violationsOf(namespaceDefaultDeny, [deployment(pod, "a"), { type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", name: "np", props: {} }]), [missing("a")]);
    });
  });

  describe("metrics-service-monitored", () => {
    const svc = (ports: object[] = [{ name: "metrics", port: 9464 }], labels: object = { app: "x", tier: "t" }): PlainResource => ({
      type: "kubernetes:core/v1:Service", name: "svc-res", props: { metadata: { name: "svc", namespace: "a", labels }, spec: { ports } },
    });
    const monitor = (spec: object, ns = "a", type = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"): PlainResource => ({
      type, name: "mon", props: { metadata: { name: "mon", namespace: ns }, spec: { selector: { matchLabels: { app: "x" } }, endpoints: [{ port: "metrics" }], ...spec } },
    });
    const unmonitored = "Service a/svc has a port named metrics but no ServiceMonitor selects it on that port";

    it("selected in its namespace, by labels, on the metrics port: passes", async () => {
      assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor({})]), []);
      assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor({ endpoints: [{ port: "http" }, { port: "metrics" }] })]), []);
      assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor({ selector: { matchLabels: { app: "x", tier: "t" } } })]), []);
    });

    it("namespaces: the monitor's own unless matchNames lists others or any is true", async () => {
      assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor({}, "mon")]), [unmonitored]);
      assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor({ namespaceSelector: { matchNames: ["a"] } }, "mon")]), []);
      assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor({ namespaceSelector: { matchNames: ["b"] } })]), [unmonitored]);
      assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor({ namespaceSelector: { any: true } }, "mon")]), []);
      assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor({ namespaceSelector: { any: false } }, "mon")]), [unmonitored]);
    });

    it("refuses a monitor whose labels, endpoint port or type do not match", async () => {
      for (const spec of [{ selector: { matchLabels: {} } }, { selector: {} }, { selector: { matchLabels: { app: "y" } } }, { selector: { matchLabels: { app: "x", tier: "u" } } }, { endpoints: [{ port: "http" }] }, { endpoints: [] }, { endpoints: undefined }]) {
        assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor(spec)]), [unmonitored], JSON.stringify(spec));
      }
      assert.deepEqual(await violationsOf(metricsMonitored, [svc(), monitor({}, "a", "kubernetes:core/v1:ConfigMap")]), [unmonitored]);
      assert.deepEqual(await violationsOf(metricsMonitored, [svc([{ name: "metrics" }], {}), monitor({})]), [unmonitored], "a Service without labels is selected by none");
    });

    it("a Service without a port named metrics needs no monitor", async () => {
      assert.deepEqual(await violationsOf(metricsMonitored, [svc([{ name: "http", port: 80 }])]), []);
      assert.deepEqual(await violationsOf(metricsMonitored, [{ type: "kubernetes:core/v1:Service", name: "s", props: {} }]), []);
      assert.deepEqual(await violationsOf(metricsMonitored, [svc()]), [unmonitored]);
    });
  });

  describe("production-delivery-controls", () => {
    const cp = (action: string, name: string | null = "require-signed-images"): PlainResource => ({
      type: "kubernetes:kyverno.io/v1:ClusterPolicy", name: "cp-res", props: { metadata: name === null ? {} : { name }, spec: { validationFailureAction: action, rules: [{ validate: {} }] } },
    });
    const hpa = (minReplicas: unknown, name: string | null = "h"): PlainResource => ({
      type: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", name: "hpa-res", props: { metadata: name === null ? {} : { name }, spec: minReplicas === undefined ? {} : { minReplicas } },
    });
    const canary: PlainResource = { type: "kubernetes:flagger.app/v1beta1:Canary", name: "c", props: {} };
    const pdb: PlainResource = { type: "kubernetes:policy/v1:PodDisruptionBudget", name: "p", props: {} };
    const complete = [cp("Enforce"), canary, pdb, hpa(2)];

    it("production with all four controls passes; other stacks are not checked", async () => {
      assert.deepEqual(await violationsOf(productionControls, complete, {}, "production"), []);
      assert.deepEqual(await violationsOf(productionControls, [hpa(3)], {}, "testnet"), []);
      assert.deepEqual(await violationsOf(productionControls, [], { stack: "testnet" }, "production"), [], "the configured stack name wins");
    });

    it("names every missing control in one violation", async () => {
      assert.deepEqual(await violationsOf(productionControls, [], { stack: "production" }), ["production stack: no Kyverno ClusterPolicy; no Flagger Canary; no PodDisruptionBudget; no HorizontalPodAutoscaler"]);
      assert.deepEqual(await violationsOf(productionControls, [cp("Audit"), cp("Audit", null), canary, pdb, hpa(1), hpa(undefined, null), hpa("3")], {}, "production"), [
        "production stack: Kyverno ClusterPolicy require-signed-images, cp-res is not in Enforce mode; HPA h has minReplicas 1 (< 2); HPA hpa-res has minReplicas 1 (< 2)",
      ]);
      assert.deepEqual(await violationsOf(productionControls, [cp("Audit"), cp("Enforce"), canary, pdb, hpa(2)], {}, "production"), [], "one enforcing policy is enough");
    });
  });

  describe("canary-thresholds-match-slo", () => {
    const table = {
      lat: { value: 0.5, unit: "seconds", comparison: "lt", severity: "canary" },
      errRate: { value: 0.01, unit: "ratio", comparison: "lte", severity: "canary" },
      tput: { value: 100, unit: "per_second", comparison: "gte", severity: "canary" },
    };
    const sloMap: PlainResource = { type: "kubernetes:core/v1:ConfigMap", name: "slo", props: { metadata: { name: "x-slo" }, data: { [SLO_CONFIGMAP_KEY]: JSON.stringify(table) } } };
    const template = (name: string, slo: string): PlainResource => ({ type: "kubernetes:flagger.app/v1beta1:MetricTemplate", name, props: { metadata: { name, annotations: { "bizra.io/slo": `${slo} (bound)` } } } });
    const canaryWith = (metrics: object[], name: string | null = "cn"): PlainResource => ({
      type: "kubernetes:flagger.app/v1beta1:Canary", name: "canary-res", props: { metadata: name === null ? {} : { name }, spec: { analysis: { metrics } } },
    });
    const check = async (metric: object, extra: PlainResource[] = []) => violationsOf(canaryThresholds, [sloMap, template("t-lat", "lat"), template("t-tput", "tput"), ...extra, canaryWith([metric])]);

    it("no Canary, nothing to check; a Canary without an SLO table cannot be checked", async () => {
      assert.deepEqual(await violationsOf(canaryThresholds, []), []);
      assert.deepEqual(await violationsOf(canaryThresholds, [canaryWith([])]), [`Canary thresholds cannot be checked: no ConfigMap with data key "${SLO_CONFIGMAP_KEY}" (the <appName>-slo SLO table) in the stack`]);
    });

    it("a lower bound (gte): at the SLO or stricter passes; looser or missing is refused", async () => {
      const m = (thresholdRange?: object) => ({ name: "m", templateRef: { name: "t-tput" }, ...(thresholdRange ? { thresholdRange } : {}) });
      assert.deepEqual(await check(m({ min: 100 })), []);
      assert.deepEqual(await check(m({ min: 101 })), []);
      assert.deepEqual(await check(m({ min: 99.9 })), ["Canary cn metric m: thresholdRange.min 99.9 is looser than SLO tput >= 100"]);
      assert.deepEqual(await check(m({ max: 100 })), ["Canary cn metric m: no thresholdRange.min, SLO tput requires >= 100"]);
      assert.deepEqual(await check(m()), ["Canary cn metric m: no thresholdRange.min, SLO tput requires >= 100"]);
      assert.deepEqual(await check(m({ min: "100" })), ["Canary cn metric m: no thresholdRange.min, SLO tput requires >= 100"]);
    });

    it("an upper bound (lt, lte): at the SLO or stricter passes; looser or missing is refused", async () => {
      const m = (thresholdRange: object, name = "m") => ({ name, templateRef: { name: "t-lat" }, thresholdRange });
      assert.deepEqual(await check(m({ max: 0.5 })), []);
      assert.deepEqual(await check(m({ max: 0.4 })), []);
      assert.deepEqual(await check(m({ max: 0.51 })), ["Canary cn metric m: thresholdRange.max 0.51 is looser than SLO lat < 0.5"]);
      assert.deepEqual(await check(m({ min: 0 })), ["Canary cn metric m: no thresholdRange.max, SLO lat requires < 0.5"]);
      assert.deepEqual(await check({ name: "err-rate", thresholdRange: { max: 0.02 } }), ["Canary cn metric err-rate: thresholdRange.max 0.02 is looser than SLO errRate <= 0.01"], "no template: the SLO whose id matches the name");
    });

    it("the template's annotation names the SLO before the metric's name does; checks bound by no SLO are skipped", async () => {
      assert.deepEqual(await check({ name: "tput", templateRef: { name: "t-lat" }, thresholdRange: { max: 0.6 } }), ["Canary cn metric tput: thresholdRange.max 0.6 is looser than SLO lat < 0.5"]);
      assert.deepEqual(await check({ name: "request-success-rate", thresholdRange: { min: 0 } }), []);
      assert.deepEqual(await check({ name: "m", templateRef: { name: "t-none" }, thresholdRange: {} }, [template("t-none", "unknown")]), []);
      const unnamed = await violationsOf(canaryThresholds, [sloMap, canaryWith([{ name: "LAT", thresholdRange: { max: 1 } }], null)]);
      assert.deepEqual(unnamed, ["Canary canary-res metric LAT: thresholdRange.max 1 is looser than SLO lat < 0.5"]);
    });
  });
});

describe("shared stack reading: which ConfigMap, which stack", () => {
  const cm = (props: object, type = "kubernetes:core/v1:ConfigMap", name = "cm-res"): PlainResource => ({ type, name, props });
  const good = JSON.stringify({ a: { value: 1, unit: "seconds", comparison: "lt", severity: "critical" } });

  it("only a ConfigMap whose data has the key is the table; its source is its name, else the resource name", () => {
    const noKey = `no ConfigMap with data key "${SLO_CONFIGMAP_KEY}" (the <appName>-slo SLO table) in the stack`;
    assert.deepEqual(readSloTable([cm({ data: { other: good } })]), { ok: false, reason: noKey });
    assert.deepEqual(readSloTable([cm({ data: { [SLO_CONFIGMAP_KEY]: 3 } })]), { ok: false, reason: noKey });
    assert.deepEqual(readSloTable([cm({ data: { [SLO_CONFIGMAP_KEY]: good } }, "kubernetes:core/v1:Secret")]), { ok: false, reason: noKey });
    const found = readSloTable([cm({}), cm({ metadata: {} }), cm({ data: { [SLO_CONFIGMAP_KEY]: good } })]);
    assert.deepEqual(found.ok && found.source, "ConfigMap cm-res");
  });

  it("an entry that is not an object is refused by name", () => {
    for (const entry of [null, 1, "x"]) {
      assert.deepEqual(readSloTable([cm({ metadata: { name: "t" }, data: { [SLO_CONFIGMAP_KEY]: JSON.stringify({ q: entry }) } })]), {
        ok: false, reason: `ConfigMap t: ${SLO_CONFIGMAP_KEY}.q needs a numeric value, comparison lt|lte|gte and a severity (critical, warning, canary, consensus, advisory)`,
      });
    }
  });

  it("a URN names its stack only at its start", () => {
    assert.equal(stackOfUrn("x-urn:pulumi:production::p::t::n"), undefined);
    assert.equal(stackOfUrn("urn:pulumi:::p::t::n"), undefined);
    assert.equal(stackName([{ urn: "urn:pulumi:testnet::p::t::n" }], ""), "testnet", "an empty explicit name is no name");
  });
});

describe("quality-gates: post-deploy requirement annotation", () => {
  const cm = (annotation: string | undefined, data: object = { [SLO_CONFIGMAP_KEY]: "{}" }, type = "kubernetes:core/v1:ConfigMap"): PlainResource => ({
    type, name: "slo", props: { metadata: annotation === undefined ? {} : { annotations: { [POST_DEPLOY_REPORT_ANNOTATION]: annotation } }, data },
  });
  const malformed = (raw: string) => `annotation ${POST_DEPLOY_REPORT_ANNOTATION} is not {"stack": <name>, "maxAgeHours": <hours>}: ${raw}`;

  it("read from the SLO ConfigMap only; a well-formed one is the requirement", () => {
    assert.deepEqual(postDeployRequirement([cm('{"stack":"testnet","maxAgeHours":12}')]), { stack: "testnet", maxAgeHours: 12 });
    assert.deepEqual(postDeployRequirement([cm('{"stack":"testnet","maxAgeHours":12,"extra":1}')]), { stack: "testnet", maxAgeHours: 12 });
    assert.equal(postDeployRequirement([cm(undefined)]), undefined);
    assert.equal(postDeployRequirement([cm('{"stack":"testnet","maxAgeHours":12}', { other: "{}" })]), undefined);
    assert.equal(postDeployRequirement([{ type: "kubernetes:core/v1:ConfigMap", props: {} }]), undefined);
    assert.equal(postDeployRequirement([cm('{"stack":"testnet","maxAgeHours":12}', { [SLO_CONFIGMAP_KEY]: "{}" }, "kubernetes:core/v1:Secret")]), undefined);
  });

  it("a malformed one is a problem text naming the annotation and its value", () => {
    for (const raw of ['{"stack":"testnet","maxAgeHours":0}', '{"stack":"testnet","maxAgeHours":-1}', '{"stack":"testnet","maxAgeHours":"12"}', '{"maxAgeHours":12}', "yes", "null"]) {
      assert.equal(postDeployRequirement([cm(raw)]), malformed(raw), raw);
    }
  });
});

describe("quality-gates: release manifest policy without a release", () => {
  const key = "ab".repeat(32);
  const pod = (image: unknown) => ({ containers: [{ name: "c", image }] });
  const jobOf = (image: unknown, name: string | null = "job"): PlainResource => ({ type: "kubernetes:batch/v1:Job", name: "job-res", props: { metadata: name === null ? {} : { name }, spec: { template: { spec: pod(image) } } } });
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-release-policy-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("images of Deployments and Jobs, init containers first, each with the objects that run it", () => {
    const d: PlainResource = { type: DEPLOYMENT, name: "d-res", props: { metadata: { name: "d" }, spec: { template: { spec: { initContainers: [{ image: "i" }], containers: [{ image: "a" }, { image: 3 }, {}] } } } } };
    const images = workloadImages([d, jobOf("a"), jobOf("b", null), { type: "kubernetes:apps/v1:StatefulSet", name: "s", props: { spec: { template: { spec: pod("c") } } } }, { type: DEPLOYMENT, name: "empty", props: {} }]);
    assert.deepEqual([...images], [["i", ["Deployment d"]], ["a", ["Deployment d", "Job job"]], ["b", ["Job job-res"]]]);
    assert.deepEqual([...workloadImages([{ type: DEPLOYMENT, name: "x", props: { spec: { template: null } } }])], []);
  });

  it("the cosign key of the stack's Kyverno policy, if any", () => {
    const cp = (publicKeys: string): PlainResource => ({ type: "kubernetes:kyverno.io/v1:ClusterPolicy", name: "cp", props: { spec: { rules: [{ verifyImages: [{ attestors: [{ entries: [{ keys: { publicKeys } }] }] }] }] } } });
    assert.equal(kyvernoCosignKey([jobOf("a"), cp("PEM")]), "PEM");
    assert.equal(kyvernoCosignKey([jobOf("a")]), undefined);
    assert.equal(kyvernoCosignKey([{ type: "kubernetes:kyverno.io/v1:ClusterPolicy", props: { spec: { rules: [{}] } } }]), undefined);
    assert.equal(kyvernoCosignKey([{ type: "kubernetes:kyverno.io/v1:ClusterPolicy", props: {} }]), undefined);
  });

  it("an image without a manifest for its digest is named with its users, the folder and the command", () => {
    const args = stackArgs([jobOf(IMAGE)], {}, "production");
    assert.deepEqual(releaseProblems(args, { releasesDir: dir, trustedPublicKeys: [key] }, "production"), [
      `${IMAGE} (Job job): no release manifest for this digest in ${path.join(dir, "production")}/ (run \`npm run release -- production\`)`,
    ]);
    assert.deepEqual(releaseProblems(stackArgs([]), { releasesDir: dir, trustedPublicKeys: [key] }, "production"), []);
  });

  it("production: mandatory; testnet: advisory; the configured stack name wins over the URNs", async () => {
    const config = { releasesDir: dir, trustedPublicKeys: [key] };
    const expected = [`image without a verified release manifest:\n  - ${IMAGE} (Job job): no release manifest for this digest in ${path.join(dir, "production")}/ (run \`npm run release -- production\`)`];
    assert.deepEqual(await violationsOf(releaseManifestPolicy, [jobOf(IMAGE)], config, "production"), expected);
    assert.deepEqual(await violationsOf(releaseManifestAdvisory, [jobOf(IMAGE)], config, "production"), []);
    assert.deepEqual(await violationsOf(releaseManifestPolicy, [jobOf(IMAGE)], { ...config, stack: "production" }, "testnet"), expected, "the configured stack name wins");
    assert.equal((await violationsOf(releaseManifestAdvisory, [jobOf(IMAGE)], config, "testnet")).length, 1);
    assert.deepEqual(await violationsOf(releaseManifestPolicy, [jobOf(IMAGE)], config, "testnet"), []);
    assert.deepEqual(await violationsOf(releaseManifestPolicy, [], config, "production"), [], "no image, nothing to release");
  });

  it("defaults: the repository's releases/ and the keys the environment trusts; the schema pins 64-hex keys", () => {
    const d = defaultReleasePolicyConfig({ [TRUSTED_KEYS_ENV]: `${key},${"cd".repeat(32)}` });
    assert.deepEqual(d, { releasesDir: path.resolve(__dirname, "..", "releases"), trustedPublicKeys: [key, "cd".repeat(32)] });
    const schema = releaseManifestPolicy.configSchema?.properties;
    assert.equal(schema?.["trustedPublicKeys"]?.items && (schema["trustedPublicKeys"].items as { pattern?: string }).pattern, "^[0-9a-fA-F]{64}$");
    assert.deepEqual([releaseManifestPolicy.name, releaseManifestPolicy.enforcementLevel, releaseManifestAdvisory.name, releaseManifestAdvisory.enforcementLevel], [
      "verified-release-manifest", "mandatory", "verified-release-manifest-advisory", "advisory",
    ]);
  });
});
