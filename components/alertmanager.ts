/**
 * Alert routing by severity: an AlertmanagerConfig (Prometheus Operator) in the node's namespace that sends
 * `severity="critical"` to the paging webhook and `severity="warning"` to the ticket webhook. The operator merges it
 * into its Alertmanager's configuration, scoped to alerts carrying this namespace's `namespace` label. The URLs come
 * from `bizra:alerting`; without that key nothing is routed from here. Pure builder, thin component.
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import { ALERTMANAGER_CONFIG_API_VERSION, type AlertmanagerConfig } from "./crds/monitoring";
import { registerCustomResource } from "./crds/register";
import type { NodeNamespace } from "./namespace";
import { componentType, withFormerTypes } from "./component";

export type AlertingConfig = NonNullable<StackConfig["alerting"]>;

/** Receiver names, and the severity each one takes. */
export const SEVERITY_RECEIVERS = { critical: "page", warning: "ticket" } as const;

/** Alerts of one incident travel together: same alert on the same pod. */
export const ALERT_GROUP_BY = ["alertname", "pod"];

/** The AlertmanagerConfig. Pure. */
export function alertmanagerConfig(alerting: AlertingConfig, meta: { name: string; namespace: string; labels: Record<string, string> }): AlertmanagerConfig {
  const urls = { critical: alerting.criticalWebhookUrl, warning: alerting.warningWebhookUrl };
  const severities = Object.keys(SEVERITY_RECEIVERS) as (keyof typeof SEVERITY_RECEIVERS)[];
  return {
    apiVersion: ALERTMANAGER_CONFIG_API_VERSION,
    kind: "AlertmanagerConfig",
    metadata: { name: meta.name, namespace: meta.namespace, labels: meta.labels },
    spec: {
      route: {
        // the top route's receiver takes what no severity route matched: the ticket queue, never silence
        receiver: SEVERITY_RECEIVERS.warning,
        groupBy: ALERT_GROUP_BY,
        groupWait: alerting.groupWait,
        groupInterval: alerting.groupInterval,
        repeatInterval: alerting.repeatInterval,
        routes: severities.map((severity) => ({
          receiver: SEVERITY_RECEIVERS[severity],
          matchers: [{ name: "severity", value: severity, matchType: "=" as const }],
        })),
      },
      receivers: severities.map((severity) => ({ name: SEVERITY_RECEIVERS[severity], webhookConfigs: [{ url: urls[severity], sendResolved: true }] })),
    },
  };
}

export interface AlertRoutingArgs {
  /** `bizra:alerting`: webhook URLs and timings. */
  readonly alerting: AlertingConfig;
  /** The node's name (`bizra:appName`); names the AlertmanagerConfig. */
  readonly appName: string;
  /** The node's namespace: the object goes there (the operator scopes its routes to alerts of this namespace) and is created after it. */
  readonly namespace: Pick<NodeNamespace, "name" | "configuredName">;
  /** Labels of the node deployment (`nodeLabels`). */
  readonly labels: Record<string, string>;
}

/** The node's AlertmanagerConfig. */
export class AlertRouting extends pulumi.ComponentResource {
  public readonly name: string;

  constructor(name: string, args: AlertRoutingArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("alertmanager", "AlertRouting"), name, {}, withFormerTypes(opts, "bizra:observability:AlertRouting"));
    const amc = alertmanagerConfig(args.alerting, { name: args.appName, namespace: args.namespace.configuredName, labels: args.labels });
    registerCustomResource(name, amc, { parent: this }, args.namespace.name);
    this.name = amc.metadata.name;
    this.registerOutputs({ name: this.name, receivers: SEVERITY_RECEIVERS });
  }
}
