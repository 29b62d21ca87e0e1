/**
 * Typed views of the Kubernetes objects the program registers, by kind: built-in kinds as the Kubernetes provider's
 * own object types, custom resources as the shapes in components/crds/ (checked against the CRD schemas by
 * tests/crd-schema.test.ts). What the mock runtime records is the program's inputs with Outputs resolved, so a
 * view is as exact as the program; the strict OpenAPI schema test (tests/program.test.ts) checks that it is.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Canary, MetricTemplate } from "../../components/crds/flagger";
import type { ClusterPolicy } from "../../components/crds/kyverno";
import type { AlertmanagerConfig, PrometheusRule, ServiceMonitor } from "../../components/crds/monitoring";

/** Every kind the program registers, with its object type. */
export interface KubeKinds {
  Namespace: k8s.types.output.core.v1.Namespace;
  ConfigMap: k8s.types.output.core.v1.ConfigMap;
  Secret: k8s.types.output.core.v1.Secret;
  Service: k8s.types.output.core.v1.Service;
  ServiceAccount: k8s.types.output.core.v1.ServiceAccount;
  Deployment: k8s.types.output.apps.v1.Deployment;
  Job: k8s.types.output.batch.v1.Job;
  HorizontalPodAutoscaler: k8s.types.output.autoscaling.v2.HorizontalPodAutoscaler;
  PodDisruptionBudget: k8s.types.output.policy.v1.PodDisruptionBudget;
  NetworkPolicy: k8s.types.output.networking.v1.NetworkPolicy;
  Role: k8s.types.output.rbac.v1.Role;
  RoleBinding: k8s.types.output.rbac.v1.RoleBinding;
  Canary: Canary;
  MetricTemplate: MetricTemplate;
  ClusterPolicy: ClusterPolicy;
  PrometheusRule: PrometheusRule;
  ServiceMonitor: ServiceMonitor;
  AlertmanagerConfig: AlertmanagerConfig;
}

export type KubeKind = keyof KubeKinds;

/** Any recorded Kubernetes object, before its kind is known. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [field: string]: unknown;
}

/** `o` as its kind's type when it is of `kind`. */
export function isKind<K extends KubeKind>(o: KubeObject, kind: K): o is KubeObject & KubeKinds[K] {
  return o.kind === kind;
}

/** The objects of one kind among `objects`, typed. */
export function ofKind<K extends KubeKind>(objects: readonly KubeObject[], kind: K): (KubeObject & KubeKinds[K])[] {
  return objects.filter((o): o is KubeObject & KubeKinds[K] => isKind(o, kind));
}
