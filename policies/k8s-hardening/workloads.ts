/** Pod specs and containers of the workload kinds the packs check. */
export const WORKLOAD_TYPES: Readonly<Record<string, (props: any) => any>> = {
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

export function podSpecOf(type: string, props: any): any | undefined {
  return WORKLOAD_TYPES[type]?.(props);
}

export interface NamedContainer {
  readonly kind: "container" | "initContainer";
  readonly c: any;
}

export function containersOf(pod: any): NamedContainer[] {
  return [
    ...((pod?.initContainers ?? []) as any[]).map((c) => ({ kind: "initContainer" as const, c })),
    ...((pod?.containers ?? []) as any[]).map((c) => ({ kind: "container" as const, c })),
  ];
}

/** `Deployment bizra-node0/node0` */
export function workloadName(type: string, props: any, fallback: string): string {
  const kind = type.split(":").pop() ?? type;
  const ns = props?.metadata?.namespace;
  const name = props?.metadata?.name ?? fallback;
  return `${kind} ${ns ? `${ns}/` : ""}${name}`;
}
