/** Pod specs and containers of the workload kinds the packs check. */

/**
 * The fields of a container the policies read. Every field is optional: resource props are whatever the program
 * registered, and a missing field is a finding, not a crash.
 */
export interface ContainerView {
  readonly name?: string;
  readonly image?: unknown;
  readonly resources?: { readonly requests?: Readonly<Record<string, unknown>>; readonly limits?: Readonly<Record<string, unknown>> };
  readonly securityContext?: SecurityContextView;
}

/** Container or pod securityContext, as read by the policies. */
export interface SecurityContextView {
  readonly runAsNonRoot?: unknown;
  readonly runAsUser?: unknown;
  readonly readOnlyRootFilesystem?: unknown;
  readonly allowPrivilegeEscalation?: unknown;
  readonly privileged?: unknown;
  readonly capabilities?: { readonly drop?: readonly string[] };
  readonly seccompProfile?: { readonly type?: unknown };
}

export interface PodSpecView {
  readonly containers?: readonly ContainerView[];
  readonly initContainers?: readonly ContainerView[];
  readonly securityContext?: SecurityContextView;
}

interface PodTemplateView {
  readonly template?: { readonly spec?: PodSpecView };
}

/** The props of a workload resource, as far as finding its pod spec and name goes. */
export interface WorkloadProps {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: PodSpecView & PodTemplateView & { readonly jobTemplate?: { readonly spec?: PodTemplateView } };
}

export const WORKLOAD_TYPES: Readonly<Record<string, (props: WorkloadProps | undefined) => PodSpecView | undefined>> = {
  "kubernetes:apps/v1:Deployment": (p) => p?.spec?.template?.spec,
  "kubernetes:apps/v1:StatefulSet": (p) => p?.spec?.template?.spec,
  "kubernetes:apps/v1:DaemonSet": (p) => p?.spec?.template?.spec,
  "kubernetes:batch/v1:Job": (p) => p?.spec?.template?.spec,
  "kubernetes:batch/v1:CronJob": (p) => p?.spec?.jobTemplate?.spec?.template?.spec,
  "kubernetes:core/v1:Pod": (p) => p?.spec,
};

export function isWorkload(type: string): boolean {
  return type in WORKLOAD_TYPES;
}

export function podSpecOf(type: string, props: WorkloadProps | undefined): PodSpecView | undefined {
  return WORKLOAD_TYPES[type]?.(props);
}

export interface NamedContainer {
  readonly kind: "container" | "initContainer";
  readonly c: ContainerView | undefined;
}

export function containersOf(pod: PodSpecView | undefined): NamedContainer[] {
  return [
    ...(pod?.initContainers ?? []).map((c) => ({ kind: "initContainer" as const, c })),
    ...(pod?.containers ?? []).map((c) => ({ kind: "container" as const, c })),
  ];
}

/** `Deployment bizra-node0/node0` */
export function workloadName(type: string, props: WorkloadProps | undefined, fallback: string): string {
  const kind = type.split(":").pop() ?? type;
  const ns = props?.metadata?.namespace;
  const name = props?.metadata?.name ?? fallback;
  return `${kind} ${ns ? `${ns}/` : ""}${name}`;
}
