/** The subset of Prometheus Operator CRDs (monitoring.coreos.com/v1) the program uses. */
import type { CustomResourceObject, LabelSelector } from "./common";

export const MONITORING_API_VERSION = "monitoring.coreos.com/v1";

export type RelabelAction = "replace" | "keep" | "drop" | "labelmap" | "labeldrop" | "labelkeep";

export interface RelabelConfig {
  readonly sourceLabels?: string[];
  readonly separator?: string;
  readonly regex?: string;
  readonly targetLabel?: string;
  readonly replacement?: string;
  readonly action?: RelabelAction;
}

export interface ServiceMonitorEndpoint {
  readonly port: string;
  readonly path?: string;
  readonly scheme?: "http" | "https";
  /** Prometheus duration, e.g. `5s`. */
  readonly interval?: string;
  readonly scrapeTimeout?: string;
  readonly honorLabels?: boolean;
  readonly metricRelabelings?: RelabelConfig[];
  readonly relabelings?: RelabelConfig[];
}

export interface ServiceMonitorSpec {
  readonly selector: LabelSelector;
  readonly namespaceSelector?: { readonly matchNames?: string[]; readonly any?: boolean };
  readonly endpoints: ServiceMonitorEndpoint[];
  readonly jobLabel?: string;
  readonly targetLabels?: string[];
  readonly podTargetLabels?: string[];
}

export type ServiceMonitor = CustomResourceObject<"ServiceMonitor", ServiceMonitorSpec>;

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  /** Prometheus duration, e.g. `5m`. */
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: AlertingRule[];
}

export interface PrometheusRuleSpec {
  readonly groups: RuleGroup[];
}

export type PrometheusRule = CustomResourceObject<"PrometheusRule", PrometheusRuleSpec>;

/** Prometheus Operator's AlertmanagerConfig (monitoring.coreos.com/v1alpha1), the subset the program uses. */
export const ALERTMANAGER_CONFIG_API_VERSION = "monitoring.coreos.com/v1alpha1";

export interface AlertmanagerMatcher {
  readonly name: string;
  readonly value: string;
  readonly matchType: "=" | "!=" | "=~" | "!~";
}

export interface AlertmanagerRoute {
  readonly receiver: string;
  readonly groupBy?: string[];
  /** Prometheus durations, e.g. `30s`. */
  readonly groupWait?: string;
  readonly groupInterval?: string;
  readonly repeatInterval?: string;
  readonly matchers?: AlertmanagerMatcher[];
  readonly continue?: boolean;
  readonly routes?: AlertmanagerRoute[];
}

export interface AlertmanagerReceiver {
  readonly name: string;
  readonly webhookConfigs?: { readonly url: string; readonly sendResolved?: boolean }[];
}

export interface AlertmanagerConfigSpec {
  readonly route: AlertmanagerRoute;
  readonly receivers: AlertmanagerReceiver[];
}

export type AlertmanagerConfig = CustomResourceObject<"AlertmanagerConfig", AlertmanagerConfigSpec>;
