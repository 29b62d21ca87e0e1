/** Labels shared by every object of one node deployment. */

/** Selects the node's pods. Flagger rewrites the `app.kubernetes.io/name` selector to `<name>-primary` on the
 * primary Deployment, so policies that must keep matching both primary and canary pods use `componentLabels`. */
export function selectorLabels(appName: string): Record<string, string> {
  return { "app.kubernetes.io/name": appName };
}

/** Labels Flagger copies unchanged to primary and canary pods. */
export function componentLabels(): Record<string, string> {
  return { "app.kubernetes.io/part-of": "bizra", "app.kubernetes.io/component": "node" };
}

/** Labels of every object of one node deployment; computed once (index.ts) and passed to the components. */
export type NodeLabels = Readonly<Record<string, string>> & { readonly "app.kubernetes.io/instance": string };

export function nodeLabels(appName: string, stack: string): NodeLabels {
  return {
    ...selectorLabels(appName),
    ...componentLabels(),
    "app.kubernetes.io/instance": `${appName}-${stack}`,
    "app.kubernetes.io/managed-by": "pulumi",
  };
}
