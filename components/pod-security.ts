/**
 * Pod hardening and probes shared by every workload the program runs from the node image (node Deployment, canary
 * hold gate, evidence validator Job): non-root numeric identity, seccomp RuntimeDefault, no privilege escalation,
 * read-only root filesystem with an in-memory `/tmp`, no service-account token, and HTTP probes. Pure.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

type PodSpec = k8s.types.input.core.v1.PodSpec;
type Container = k8s.types.input.core.v1.Container;
type Probe = k8s.types.input.core.v1.Probe;

/** Non-root numeric identity; matches the `USER` of node-app/Dockerfile. */
export const NODE_UID = 10001;
/** Images are digest-pinned, so a present image is the right one. */
export const IMAGE_PULL_POLICY = "IfNotPresent";
const TMP_VOLUME = "tmp";

/** Pod-level fields of a hardened pod running as `serviceAccountName`. */
export function hardenedPod(serviceAccountName: pulumi.Input<string>): Pick<
  PodSpec,
  "serviceAccountName" | "automountServiceAccountToken" | "enableServiceLinks" | "securityContext"
> {
  return {
    serviceAccountName,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: NODE_UID,
      runAsGroup: NODE_UID,
      fsGroup: NODE_UID,
      seccompProfile: { type: "RuntimeDefault" },
    },
  };
}

/** The container's security context: nothing beyond what the process needs. */
export function hardenedContainerSecurity(): NonNullable<Container["securityContext"]> {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** The writable `/tmp` of a read-only root filesystem: its volume and its mount. */
export function tmpVolume(sizeLimit: string): k8s.types.input.core.v1.Volume {
  return { name: TMP_VOLUME, emptyDir: { medium: "Memory", sizeLimit } };
}
export const TMP_MOUNT = { name: TMP_VOLUME, mountPath: "/tmp" } as const;

/** Startup, liveness and readiness probes over HTTP on the named port. */
export function httpProbes(port: string, paths: { live: string; ready: string }): Pick<Container, "startupProbe" | "livenessProbe" | "readinessProbe"> {
  const probe = (path: string, extra: Partial<Probe>) => ({ httpGet: { path, port }, timeoutSeconds: 2, ...extra });
  return {
    startupProbe: probe(paths.live, { periodSeconds: 2, failureThreshold: 30 }),
    livenessProbe: probe(paths.live, { periodSeconds: 10, failureThreshold: 3 }),
    readinessProbe: probe(paths.ready, { periodSeconds: 5, failureThreshold: 2 }),
  };
}
