/**
 * The PoI attestation validator Job: runs the node image's evidence-verification CLI (@bizra/contract
 * `EVIDENCE_VERIFY_COMMAND`) against the signed evidence bundle, mounted from a ConfigMap `<appName>-evidence`.
 * A bad signature or digest makes the CLI exit non-zero; with `backoffLimit: 0` the Job fails, and the Kubernetes
 * provider's Job await turns that into a failed `pulumi up`.
 *
 * The bundle is written by `npm run evidence` (`evidence/manifest.json` plus artifacts at the repo root) and read from
 * `bizra:evidenceDir` (default `evidence`). When it is absent, neither the ConfigMap nor the Job is created and the
 * `validatorJob` stack output says so.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { awaitTimeoutMetadata } from "./config";
import * as fs from "node:fs";
import * as path from "node:path";
import { EVIDENCE_VERIFY_COMMAND } from "@bizra/contract";
import { TRUSTED_KEYS_ENV } from "@bizra/evidence";
import type { NodeWorkloadConfig } from "./node";
import { hardenedContainerSecurity, hardenedPod, IMAGE_PULL_POLICY, TMP_MOUNT, tmpVolume } from "./pod-security";
import { componentType, withFormerTypes } from "./component";

export const EVIDENCE_MANIFEST = "manifest.json";
export const EVIDENCE_MOUNT = "/var/run/bizra/evidence";
/** A ConfigMap holds at most 1 MiB (etcd object limit); leave room for metadata. */
export const CONFIGMAP_LIMIT_BYTES = 1_000_000;

export interface EvidenceFile {
  /** Path relative to the bundle root, with `/`. */
  readonly path: string;
  /** ConfigMap key: the path with `/` replaced (keys allow only `[-._a-zA-Z0-9]`). */
  readonly key: string;
  readonly content: Buffer;
}

export interface EvidenceBundle {
  readonly files: EvidenceFile[];
  /** First 10 hex digits of SHA-256 over manifest.json: names the Job. */
  readonly manifestHash: string;
}

export function configMapKey(relPath: string): string {
  return relPath.replace(/\//g, "__");
}

function listFiles(dir: string, prefix = ""): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : e.isFile() ? [`${prefix}${e.name}`] : []));
}

/** Reads the bundle under `dir`, or `undefined` when there is no manifest. Throws when it cannot fit a ConfigMap. */
export function readEvidenceBundle(dir: string): EvidenceBundle | undefined {
  const manifest = path.join(dir, EVIDENCE_MANIFEST);
  if (!fs.existsSync(manifest)) return undefined;
  const files = listFiles(dir).map((p) => ({ path: p, key: configMapKey(p), content: fs.readFileSync(path.join(dir, p)) }));
  const keys = new Set(files.map((f) => f.key));
  if (keys.size !== files.length) throw new Error(`evidence file names collide as ConfigMap keys under ${dir}`);
  const size = files.reduce((n, f) => n + f.content.length, 0);
  if (size > CONFIGMAP_LIMIT_BYTES) throw new Error(`evidence bundle under ${dir} is ${size} bytes; a ConfigMap holds at most ${CONFIGMAP_LIMIT_BYTES}`);
  const manifestHash = createHash("sha256").update(fs.readFileSync(manifest)).digest("hex").slice(0, 10);
  return { files, manifestHash };
}

/** ConfigMap `data` (UTF-8 text) and `binaryData` (base64) for the bundle. */
export function evidenceConfigMapData(bundle: EvidenceBundle): { data: Record<string, string>; binaryData: Record<string, string> } {
  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  for (const f of bundle.files) {
    const text = f.content.toString("utf8");
    if (Buffer.from(text, "utf8").equals(f.content) && !text.includes("\u0000")) data[f.key] = text;
    else binaryData[f.key] = f.content.toString("base64");
  }
  return { data, binaryData };
}

/**
 * `<appName>-evidence-verify-<hash of manifest.json>`. The name is derived from the evidence, deliberately:
 * the same evidence is the same Job across `pulumi up` runs (no diff, no re-run, the finished Job stays as the
 * record), and new evidence is a new name, which Pulumi applies as a replacement: the new Job runs, the old is
 * deleted. A fixed name would need `replaceOnChanges` and would also re-run on unrelated template changes.
 */
export function validatorJobName(appName: string, bundle: Pick<EvidenceBundle, "manifestHash">): string {
  return `${appName}-evidence-verify-${bundle.manifestHash}`;
}

/** The Job spec. Pure. */
export function validatorJobSpec(
  cfg: NodeWorkloadConfig,
  bundle: EvidenceBundle,
  refs: { image: pulumi.Input<string>; serviceAccountName: pulumi.Input<string>; configMapName: pulumi.Input<string> },
  trustedKeys: readonly string[],
): k8s.types.input.batch.v1.JobSpec {
  // Same hardening as the Deployment (pod-security.ts), none of its env or mounts: the verifier needs neither the
  // runtime flags nor the signing key.
  return {
    backoffLimit: 0,
    // ttlSecondsAfterFinished stays unset: a Job that vanished would show up as drift on the next `pulumi up`.
    template: {
      metadata: { labels: { "app.kubernetes.io/part-of": "bizra", "app.kubernetes.io/component": "evidence-verify" } },
      spec: {
        ...hardenedPod(refs.serviceAccountName),
        restartPolicy: "Never",
        containers: [
          {
            name: "evidence-verify",
            image: refs.image,
            imagePullPolicy: IMAGE_PULL_POLICY,
            command: [...EVIDENCE_VERIFY_COMMAND],
            args: [`${EVIDENCE_MOUNT}/${EVIDENCE_MANIFEST}`],
            env: [
              { name: "NODE_ENV", value: "production" },
              { name: TRUSTED_KEYS_ENV, value: trustedKeys.join(",") },
            ],
            // The verifier reads a few small files: the node's resources are more than enough.
            resources: { requests: { ...cfg.resources.requests }, limits: { ...cfg.resources.limits } },
            securityContext: hardenedContainerSecurity(),
            volumeMounts: [{ name: "evidence", mountPath: EVIDENCE_MOUNT, readOnly: true }, TMP_MOUNT],
          },
        ],
        volumes: [
          {
            name: "evidence",
            configMap: { name: refs.configMapName, items: bundle.files.map((f) => ({ key: f.key, path: f.path })) },
          },
          tmpVolume("64Mi"),
        ],
      },
    },
  };
}

export interface EvidenceValidatorArgs {
  /** Validated stack config (the parts this component uses). */
  readonly config: NodeWorkloadConfig;
  /** The bundle read from the evidence folder (`bizra:evidenceDir`), or undefined when there is none. */
  readonly bundle: EvidenceBundle | undefined;
  /** Public keys (hex) the verifier trusts; with none, no Job is created (self-signed evidence proves nothing). */
  readonly trustedKeys: readonly string[];
  /** The Namespace resource's name (orders the namespace first). */
  readonly namespace: pulumi.Input<string>;
  /** Digest-pinned image reference of the node. */
  readonly image: pulumi.Input<string>;
  /** The node's ServiceAccount (no token is mounted). */
  readonly serviceAccountName: pulumi.Input<string>;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
}

export class EvidenceValidator extends pulumi.ComponentResource {
  /** The Job name, or a sentence saying why there is none. */
  public readonly status: string;

  constructor(name: string, args: EvidenceValidatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("validatorJob", "EvidenceValidator"), name, {}, withFormerTypes(opts, "bizra:evidence:EvidenceValidator"));
    const bundle = args.bundle;
    if (!bundle) {
      this.status = `not created: no ${EVIDENCE_MANIFEST} in the evidence folder (bizra:evidenceDir, default evidence/)`;
      this.registerOutputs({ status: this.status });
      return;
    }
    if (args.trustedKeys.length === 0) {
      this.status = "not created: no trusted evidence key (set bizra:evidenceTrustedKeys or run `npm run evidence` to create the local key)";
      this.registerOutputs({ status: this.status });
      return;
    }
    const cfg = args.config;
    const { data, binaryData } = evidenceConfigMapData(bundle);
    const cm = new k8s.core.v1.ConfigMap(
      `${name}-evidence`,
      // no empty binaryData: the API server and the provider drop it, so an empty one would differ from what is stored
      { metadata: { name: `${cfg.appName}-evidence`, namespace: args.namespace, labels: args.labels }, data, ...(Object.keys(binaryData).length > 0 ? { binaryData } : {}) },
      { parent: this },
    );
    const jobName = validatorJobName(cfg.appName, bundle);
    new k8s.batch.v1.Job(
      name,
      {
        metadata: { name: jobName, namespace: args.namespace, labels: args.labels, ...awaitTimeoutMetadata(cfg.awaitTimeoutSeconds) },
        spec: validatorJobSpec(cfg, bundle, {
          image: args.image,
          serviceAccountName: args.serviceAccountName,
          configMapName: cm.metadata.name,
        }, args.trustedKeys),
      },
      { parent: this },
    );
    this.status = jobName;
    this.registerOutputs({ status: this.status });
  }
}
