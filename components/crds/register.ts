import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { CustomResourceObject } from "./common";

/**
 * Registers a custom resource built by a pure function. `namespace` (an Output of the Namespace resource) replaces
 * the plain namespace name in the object so the engine orders the namespace first.
 */
export function registerCustomResource<K extends string, S>(
  name: string,
  obj: CustomResourceObject<K, S>,
  opts: pulumi.CustomResourceOptions,
  namespace?: pulumi.Input<string>,
): k8s.apiextensions.CustomResource {
  return new k8s.apiextensions.CustomResource(
    name,
    {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { ...obj.metadata, ...(namespace !== undefined ? { namespace } : {}) },
      spec: obj.spec as Record<string, unknown>,
    },
    opts,
  );
}
