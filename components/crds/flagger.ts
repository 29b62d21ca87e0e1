/** The subset of the Flagger CRDs (flagger.app/v1beta1) the program uses. */
import type { CustomResourceObject } from "./common";

export const FLAGGER_API_VERSION = "flagger.app/v1beta1";

export interface CrossVersionRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

export interface CanaryService {
  /** Name of the apex Service Flagger generates (default: targetRef name). */
  readonly name?: string;
  readonly port: number;
  readonly portName?: string;
  readonly targetPort?: number | string;
  readonly portDiscovery?: boolean;
}

export interface CanaryMetric {
  readonly name: string;
  /** Flagger duration, e.g. `1m`. */
  readonly interval?: string;
  /** Inclusive bounds: the check fails when the value is below `min` or above `max`. */
  readonly thresholdRange?: { readonly min?: number; readonly max?: number };
  readonly templateRef?: { readonly name: string; readonly namespace?: string };
}

export type WebhookType =
  | "confirm-rollout"
  | "pre-rollout"
  | "rollout"
  | "confirm-promotion"
  | "post-rollout"
  | "event"
  | "rollback"
  | "confirm-traffic-increase";

export interface CanaryWebhook {
  readonly name: string;
  readonly type?: WebhookType;
  readonly url: string;
  readonly timeout?: string;
  readonly metadata?: Record<string, string>;
}

export interface CanaryAnalysis {
  readonly interval: string;
  /** Failed checks (counted over the whole analysis) before rollback. */
  readonly threshold: number;
  readonly stepWeights?: number[];
  readonly stepWeight?: number;
  readonly maxWeight?: number;
  readonly stepWeightPromotion?: number;
  readonly iterations?: number;
  readonly metrics?: CanaryMetric[];
  readonly webhooks?: CanaryWebhook[];
}

export interface CanarySpec {
  readonly provider?: string;
  readonly targetRef: CrossVersionRef;
  readonly autoscalerRef?: CrossVersionRef;
  readonly progressDeadlineSeconds?: number;
  readonly service: CanaryService;
  readonly analysis: CanaryAnalysis;
}

export type Canary = CustomResourceObject<"Canary", CanarySpec>;

export interface MetricTemplateSpec {
  readonly provider: { readonly type: "prometheus"; readonly address: string };
  /** PromQL with Flagger's template variables: `{{ namespace }}`, `{{ target }}`, `{{ interval }}`. */
  readonly query: string;
}

export type MetricTemplate = CustomResourceObject<"MetricTemplate", MetricTemplateSpec>;
