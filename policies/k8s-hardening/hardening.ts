/**
 * Workload hardening (resource policies) and cluster controls (stack policies) of the k8s-hardening pack. Each
 * policy's description says what it checks, the remediation how to fix it; messages name the object and field.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { comparisonSymbol } from "@bizra/contract";
import { readSloTable, stackName } from "../shared/stack";
import { containersOf, isWorkload, podSpecOf, workloadName, type ContainerView, type PodSpecView, type SecurityContextView } from "./workloads";

/** The fields of a Kyverno ClusterPolicy the policies read (any of them may be missing or misspelt). */
interface ClusterPolicyView {
  readonly spec?: {
    readonly validationFailureAction?: unknown;
    readonly rules?: readonly ({
      readonly validate?: { readonly failureAction?: unknown };
      readonly verifyImages?: readonly ({ readonly imageReferences?: readonly string[]; readonly failureAction?: unknown; readonly validationFailureAction?: unknown } | undefined)[];
    } | undefined)[];
  };
}

/** The fields of a Flagger Canary metric check the threshold policy reads. */
interface CanaryMetricView {
  readonly name?: string;
  readonly templateRef?: { readonly name?: string };
  readonly thresholdRange?: { readonly min?: unknown; readonly max?: unknown };
}

export const DEFAULT_ALLOWED_REGISTRIES = ["ghcr.io/bizra"];
const DIGEST = /@sha256:[0-9a-f]{64}$/;

export const T = {
  namespace: "kubernetes:core/v1:Namespace",
  service: "kubernetes:core/v1:Service",
  networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  serviceMonitor: "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
  clusterPolicy: "kubernetes:kyverno.io/v1:ClusterPolicy",
  canary: "kubernetes:flagger.app/v1beta1:Canary",
  metricTemplate: "kubernetes:flagger.app/v1beta1:MetricTemplate",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
  hpa: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
} as const;

/** Registries from the Kyverno policy's `imageReferences` (`ghcr.io/bizra/*` -> `ghcr.io/bizra`), if the stack has one. */
export function registriesFromStack(resources: readonly PolicyResource[]): string[] | undefined {
  const refs = resources
    .filter((r) => r.type === T.clusterPolicy)
    .flatMap((r) => ((r.props as ClusterPolicyView | undefined)?.spec?.rules ?? []))
    .flatMap((rule) => rule?.verifyImages ?? [])
    .flatMap((v) => v?.imageReferences ?? [])
    .map((ref) => ref.replace(/\/\*$/, "").replace(/\*$/, ""))
    .filter((ref) => ref.length > 0 && !ref.includes("*"));
  return refs.length > 0 ? [...new Set(refs)] : undefined;
}

export function imageProblems(image: unknown, registries: readonly string[]): string | undefined {
  if (typeof image !== "string" || image === "") return "has no image";
  if (!DIGEST.test(image)) return `image ${image} is not pinned by digest (@sha256:<64 hex>)`;
  if (!registries.some((r) => image.startsWith(`${r}/`))) return `image ${image} is not from an allowed registry (${registries.join(", ")})`;
  return undefined;
}

export const imagesPinned: StackValidationPolicy = {
  name: "images-pinned-from-allowed-registries",
  description: "Every container image of every workload is pinned by digest (@sha256) and comes from an allowed registry.",
  remediationSteps:
    "Reference images as registry/repo@sha256:<digest> (bizra:image.reference, or bizra:image.build which pins the pushed digest), from a " +
    "registry in bizra:allowedRegistries / the policy config allowedRegistries.",
  enforcementLevel: "mandatory",
  configSchema: { properties: { allowedRegistries: { type: "array", items: { type: "string" }, description: "Registry prefixes; default: the Kyverno policy's imageReferences, else ghcr.io/bizra" } } },
  validateStack: (args, reportViolation) => {
    const configured = args.getConfig<{ allowedRegistries?: string[] }>().allowedRegistries;
    const registries = configured && configured.length > 0 ? configured : (registriesFromStack(args.resources) ?? DEFAULT_ALLOWED_REGISTRIES);
    for (const r of args.resources) {
      if (!isWorkload(r.type)) continue;
      for (const { kind, c } of containersOf(podSpecOf(r.type, r.props))) {
        const problem = imageProblems(c?.image, registries);
        if (problem) reportViolation(`${workloadName(r.type, r.props, r.name)} ${kind} ${c?.name ?? "?"}: ${problem}`, r.urn);
      }
    }
  },
};

export const resourcesSet: ResourceValidationPolicy = {
  name: "container-requests-and-limits",
  description: "Every container sets CPU and memory requests and limits.",
  remediationSteps: "Set resources.requests and resources.limits (cpu and memory) on each container (bizra:resources for the node).",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (!isWorkload(args.type)) return;
    for (const { kind, c } of containersOf(podSpecOf(args.type, args.props))) {
      const missing = (["requests", "limits"] as const).flatMap((k) => (["cpu", "memory"] as const).filter((q) => c?.resources?.[k]?.[q] === undefined).map((q) => `${k}.${q}`));
      if (missing.length > 0) reportViolation(`${workloadName(args.type, args.props, args.name)} ${kind} ${c?.name ?? "?"}: resources ${missing.join(", ")} not set`);
    }
  },
};

/** Problems of one container in its pod (pod-level runAsNonRoot and seccompProfile count). */
export function securityProblems(pod: PodSpecView | undefined, c: ContainerView | undefined): string[] {
  const sc: SecurityContextView = c?.securityContext ?? {};
  const psc: SecurityContextView = pod?.securityContext ?? {};
  const out: string[] = [];
  const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
  const uid = sc.runAsUser ?? psc.runAsUser;
  if (nonRoot !== true || uid === 0) out.push("runAsNonRoot must be true (container or pod securityContext) and runAsUser not 0");
  if (sc.readOnlyRootFilesystem !== true) out.push("securityContext.readOnlyRootFilesystem must be true");
  if (sc.allowPrivilegeEscalation !== false) out.push("securityContext.allowPrivilegeEscalation must be false");
  if (sc.privileged === true) out.push("securityContext.privileged must not be true");
  const drop: readonly string[] = sc.capabilities?.drop ?? [];
  if (!drop.includes("ALL")) out.push("securityContext.capabilities.drop must include ALL");
  const seccomp = (sc.seccompProfile ?? psc.seccompProfile)?.type;
  if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push("seccompProfile.type must be RuntimeDefault (container or pod securityContext)");
  return out;
}

export const podSecurity: ResourceValidationPolicy = {
  name: "pod-security-hardening",
  description: "Containers run as non-root with a read-only root filesystem, no privilege escalation, all capabilities dropped and seccomp RuntimeDefault.",
  remediationSteps:
    "Set runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities.drop: [ALL] and seccompProfile " +
    "{type: RuntimeDefault} (components/node.ts nodePodSpec does); mount an emptyDir for paths the process writes.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (!isWorkload(args.type)) return;
    const pod = podSpecOf(args.type, args.props);
    for (const { kind, c } of containersOf(pod)) {
      const problems = securityProblems(pod, c);
      if (problems.length > 0) reportViolation(`${workloadName(args.type, args.props, args.name)} ${kind} ${c?.name ?? "?"}: ${problems.join("; ")}`);
    }
  },
};

function isDefaultDeny(np: PolicyResource): boolean {
  const sel = np.props?.spec?.podSelector;
  const empty = sel !== undefined && Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
  const types: string[] = np.props?.spec?.policyTypes ?? [];
  return empty && types.includes("Ingress") && types.includes("Egress") && (np.props?.spec?.ingress ?? []).length === 0 && (np.props?.spec?.egress ?? []).length === 0;
}

export const namespaceDefaultDeny: StackValidationPolicy = {
  name: "namespace-default-deny",
  description: "Every namespace that runs workloads has a default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules).",
  remediationSteps: "Add a NetworkPolicy with spec {podSelector: {}, policyTypes: [Ingress, Egress]} to the namespace, then explicit allows (components/network-policy.ts).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const denied = new Set(args.resources.filter((r) => r.type === T.networkPolicy && isDefaultDeny(r)).map((r) => r.props?.metadata?.namespace));
    const namespaces = new Set(args.resources.filter((r) => isWorkload(r.type)).map((r) => r.props?.metadata?.namespace ?? "default"));
    for (const ns of [...namespaces].sort()) {
      if (!denied.has(ns)) reportViolation(`namespace ${ns} runs workloads but has no default-deny NetworkPolicy (podSelector {} with policyTypes Ingress and Egress)`);
    }
  },
};

function selects(monitor: PolicyResource, service: PolicyResource): boolean {
  const spec = monitor.props?.spec ?? {};
  const svcNs = service.props?.metadata?.namespace;
  const monNs = monitor.props?.metadata?.namespace;
  const nsSel = spec.namespaceSelector ?? {};
  const nsOk = nsSel.any === true || (Array.isArray(nsSel.matchNames) ? nsSel.matchNames.includes(svcNs) : monNs === svcNs);
  const want: Record<string, string> = spec.selector?.matchLabels ?? {};
  const have: Record<string, string> = service.props?.metadata?.labels ?? {};
  const labelsOk = Object.keys(want).length > 0 && Object.entries(want).every(([k, v]) => have[k] === v);
  const portOk = ((spec.endpoints ?? []) as readonly ({ port?: string } | undefined)[]).some((e) => e?.port === "metrics");
  return nsOk && labelsOk && portOk;
}

export const metricsMonitored: StackValidationPolicy = {
  name: "metrics-service-monitored",
  description: "Every Service with a port named `metrics` is selected by a ServiceMonitor that scrapes that port.",
  remediationSteps: "Add a ServiceMonitor whose selector.matchLabels match the Service's labels, in its namespace, with an endpoint on port `metrics` (components/service-monitor.ts).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const monitors = args.resources.filter((r) => r.type === T.serviceMonitor);
    for (const svc of args.resources.filter((r) => r.type === T.service)) {
      const ports = (svc.props?.spec?.ports ?? []) as readonly ({ name?: string } | undefined)[];
      if (!ports.some((p) => p?.name === "metrics")) continue;
      if (!monitors.some((m) => selects(m, svc))) {
        reportViolation(`Service ${workloadName(T.service, svc.props, svc.name).replace(/^Service /, "")} has a port named metrics but no ServiceMonitor selects it on that port`, svc.urn);
      }
    }
  },
};

/** True when every rule of a Kyverno ClusterPolicy enforces (its own failureAction, else the policy-level one). */
export function kyvernoEnforces(cp: PolicyResource): boolean {
  const spec = (cp.props as ClusterPolicyView | undefined)?.spec ?? {};
  const policyLevel = String(spec.validationFailureAction ?? "Audit").toLowerCase();
  const actions = (spec.rules ?? []).flatMap((rule) => [
    ...(rule?.validate ? [rule.validate.failureAction ?? policyLevel] : []),
    ...(rule?.verifyImages ?? []).map((v) => v?.failureAction ?? v?.validationFailureAction ?? policyLevel),
  ]);
  return actions.length > 0 && actions.every((a) => String(a).toLowerCase() === "enforce");
}

export const productionControls: StackValidationPolicy = {
  name: "production-delivery-controls",
  description: "The production stack has a Kyverno ClusterPolicy in Enforce mode, a Flagger Canary, a PodDisruptionBudget and an HPA with minReplicas >= 2.",
  remediationSteps: "In Pulumi.production.yaml set bizra:kyverno.mode Enforce and bizra:hpa.minReplicas >= 2; keep the canary, PDB and HPA components in index.ts.",
  enforcementLevel: "mandatory",
  configSchema: { properties: { stack: { type: "string", description: "Stack name (default: from the resource URNs)" } } },
  validateStack: (args, reportViolation) => {
    const stack = stackName(args.resources, args.getConfig<{ stack?: string }>().stack);
    if (stack !== "production") return;
    const of = (t: string) => args.resources.filter((r) => r.type === t);
    const missing: string[] = [];
    const policies = of(T.clusterPolicy);
    if (policies.length === 0) missing.push("no Kyverno ClusterPolicy");
    else if (!policies.some(kyvernoEnforces)) missing.push(`Kyverno ClusterPolicy ${policies.map((p) => p.props?.metadata?.name ?? p.name).join(", ")} is not in Enforce mode`);
    if (of(T.canary).length === 0) missing.push("no Flagger Canary");
    if (of(T.pdb).length === 0) missing.push("no PodDisruptionBudget");
    const hpas = of(T.hpa);
    if (hpas.length === 0) missing.push("no HorizontalPodAutoscaler");
    else for (const h of hpas) if (!(Number(h.props?.spec?.minReplicas ?? 1) >= 2)) missing.push(`HPA ${h.props?.metadata?.name ?? h.name} has minReplicas ${h.props?.spec?.minReplicas ?? 1} (< 2)`);
    if (missing.length > 0) reportViolation(`production stack: ${missing.join("; ")}`);
  },
};

const normal = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");

export const canaryThresholds: StackValidationPolicy = {
  name: "canary-thresholds-match-slo",
  description: "Every Flagger Canary metric check bound by an SLO is at least as strict as the SLO table (ConfigMap <appName>-slo).",
  remediationSteps: "Derive Canary thresholdRange from the SLO table (components/canary.ts thresholdRange); change the SLO in bizra:slo rather than the canary.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const canaries = args.resources.filter((r) => r.type === T.canary);
    if (canaries.length === 0) return;
    const slos = readSloTable(args.resources);
    if (!slos.ok) {
      reportViolation(`Canary thresholds cannot be checked: ${slos.reason}`);
      return;
    }
    const templates = new Map(args.resources.filter((r) => r.type === T.metricTemplate).map((t) => [t.props?.metadata?.name, t]));
    const ids = Object.keys(slos.table);
    for (const canary of canaries) {
      for (const m of (canary.props?.spec?.analysis?.metrics ?? []) as readonly (CanaryMetricView | undefined)[]) {
        const annotation: string | undefined = templates.get(m?.templateRef?.name)?.props?.metadata?.annotations?.["bizra.io/slo"];
        const id = annotation?.split(" ")[0] ?? ids.find((i) => normal(i) === normal(String(m?.name ?? "")));
        const slo = id === undefined ? undefined : slos.table[id];
        if (slo === undefined) continue; // not an SLO-bound check (e.g. Flagger's builtin request-success-rate)
        const range = m?.thresholdRange ?? {};
        const where = `Canary ${canary.props?.metadata?.name ?? canary.name} metric ${m?.name}`;
        if (slo.comparison === "gte") {
          if (typeof range.min !== "number") reportViolation(`${where}: no thresholdRange.min, SLO ${id} requires >= ${slo.value}`, canary.urn);
          else if (range.min < slo.value) reportViolation(`${where}: thresholdRange.min ${range.min} is looser than SLO ${id} >= ${slo.value}`, canary.urn);
        } else if (typeof range.max !== "number") reportViolation(`${where}: no thresholdRange.max, SLO ${id} requires ${comparisonSymbol(slo.comparison)} ${slo.value}`, canary.urn);
        else if (range.max > slo.value) reportViolation(`${where}: thresholdRange.max ${range.max} is looser than SLO ${id} ${comparisonSymbol(slo.comparison)} ${slo.value}`, canary.urn);
      }
    }
  },
};

export const hardeningPolicies = [imagesPinned, resourcesSet, podSecurity, namespaceDefaultDeny, metricsMonitored, productionControls, canaryThresholds];
