/**
 * The whole stack config: one typed schema with defaults, read once, validated once, frozen.
 *
 * Nothing else in the program calls `new pulumi.Config()`. A bad or missing key fails before any resource is
 * registered, with ONE error that lists every bad key, the value found and what is allowed.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { DEFAULT_API_PORT, DEFAULT_METRICS_PORT, DEFAULT_SIGNER_PORT } from "@bizra/contract";
import { LOCAL_TRUST_STACKS, localKeyTrustAllowed } from "@bizra/evidence";
import { CPU_QUANTITY_ALLOWED, MEMORY_QUANTITY_ALLOWED, parseCpuCores, parseMemoryBytes } from "./quantity";
import { validatorSetProblems } from "./validator-set";
import { ensureLocalCosignKey, operatorKeyRequired } from "../scripts/release/cosign-key";
import { resolveSlos, SLO_IDS, sloValueProblem, type SloId, type SloOverrides, type SloTable } from "./slo";

/** Config keys live in this namespace: `bizra:replicas`, `bizra:image`, ... */
export const CONFIG_NAMESPACE = "bizra";

/** The stack that serves real traffic: fault injection is refused there. */
export const PRODUCTION_STACK = "production";

/** The one secret key. It is never echoed in errors, outputs or logs. */
export const SIGNING_KEY = "signingKey";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** `registry/path@sha256:<64 hex>`; a tag alone is not a pinned image. */
export const DIGEST_REFERENCE = /^([a-z0-9.-]+(:[0-9]+)?\/)?[a-z0-9._/-]+(:[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$/;
const REGISTRY_PREFIX = /^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)*$/;
const ED25519_SEED_HEX = /^[0-9a-f]{64}$/;
const PEM_PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PUBLIC KEY-----\n?$/;

/**
 * `bizra:kyverno.cosignPublicKey` values that are not a PEM key: `local` is the public half of the key pair generated
 * on first use into `.cosign-key/` (local and test stacks); the placeholder stands in the committed production file
 * until the operator sets the release key, and is refused.
 */
export const LOCAL_COSIGN_KEY = "local";
export const COSIGN_KEY_PLACEHOLDER = "SET-THE-RELEASE-PUBLIC-KEY";
const COSIGN_KEY_ALLOWED = `a PEM public key (-----BEGIN PUBLIC KEY----- ...) or "${LOCAL_COSIGN_KEY}" (the generated key in .cosign-key/, not for production)`;


/** Each field says, in its error text, what is allowed; that text is what users read. */
const int = (min: number, max: number) => {
  const allowed = `an integer from ${min} to ${max}`;
  return z.number({ error: allowed }).int({ error: allowed }).min(min, { error: allowed }).max(max, { error: allowed });
};
const pattern = (re: RegExp, allowed: string) => z.string({ error: allowed }).regex(re, { error: allowed });
const dnsLabel = pattern(DNS_LABEL, "a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters");
const bool = z.boolean({ error: "true or false" });
const promDuration = pattern(/^[1-9][0-9]*(s|m|h)$/, "a duration such as 30s, 5m or 4h");
const share = z.number({ error: "a share, > 0 and <= 1" }).gt(0, { error: "a share, > 0 and <= 1" }).max(1, { error: "a share, > 0 and <= 1" });

const quantity = (parse: (text: string) => number | undefined, allowed: string) =>
  z.string({ error: allowed }).refine((q) => parse(q) !== undefined, { error: allowed });
const resourceQuantities = z.strictObject({
  cpu: quantity(parseCpuCores, CPU_QUANTITY_ALLOWED),
  memory: quantity(parseMemoryBytes, MEMORY_QUANTITY_ALLOWED),
});

const imageSchema = z
  .strictObject({
    reference: pattern(DIGEST_REFERENCE, "an image pinned by digest: repository@sha256:<64 hex> (a tag alone is not allowed)").optional(),
    build: z
      .strictObject({
        repository: pattern(/^([a-z0-9.-]+(:[0-9]+)?\/)?[a-z0-9._/-]+$/, "an image repository without tag or digest"),
        context: z.string({ error: "a path to the Docker build context" }).default("node-app"),
        dockerfile: z.string({ error: "a path to the Dockerfile" }).default("node-app/Dockerfile"),
        platform: z.enum(["linux/amd64", "linux/arm64"], { error: "linux/amd64 or linux/arm64" }).default("linux/amd64"),
      })
      .optional(),
  })
  .refine((i) => (i.reference === undefined) !== (i.build === undefined), {
    error: "exactly one of `reference` (digest-pinned) or `build` (build from node-app/)",
  });

const canaryStage = z.strictObject({
  weight: int(1, 100),
  holdMinutes: int(1, 24 * 60),
});

const sloOverrides = z
  .record(z.string(), z.unknown(), { error: `an object of SLO overrides keyed by ${SLO_IDS.join(", ")}` })
  .superRefine((o, ctx) => {
    for (const [id, value] of Object.entries(o)) {
      if (!(SLO_IDS as string[]).includes(id)) {
        ctx.addIssue({ code: "custom", path: [id], message: `one of the SLO ids ${SLO_IDS.join(", ")}` });
        continue;
      }
      const problem = sloValueProblem(id as SloId, value);
      if (problem) ctx.addIssue({ code: "custom", path: [id], message: problem });
    }
  })
  .transform((o) => o as SloOverrides);

/** The schema of every key in the `bizra:` namespace, with defaults. */
export const configSchema = z
  .strictObject({
    namespace: dnsLabel,
    appName: dnsLabel,
    replicas: int(1, 50).default(2),
    resources: z
      .strictObject({ requests: resourceQuantities, limits: resourceQuantities })
      .default({ requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } }),
    image: imageSchema,
    /** Where `npm run release` pushes the node image (a repository under one of the allowed registries). */
    releaseRepository: pattern(/^([a-z0-9.-]+(:[0-9]+)?\/)?[a-z0-9._/-]+$/, "an image repository without tag or digest").optional(),
    apiPort: int(1024, 65535).default(DEFAULT_API_PORT),
    metricsPort: int(1024, 65535).default(DEFAULT_METRICS_PORT),
    runtimeFlags: z
      .strictObject({ POI_BATCH_VERIFY: bool.default(true), BIZRA_USE_RUST: bool.default(true) })
      .default({ POI_BATCH_VERIFY: true, BIZRA_USE_RUST: true }),
    logLevel: z.enum(["trace", "debug", "info", "warn", "error"], { error: "trace, debug, info, warn or error" }).default("info"),
    hpa: z
      .strictObject({
        minReplicas: int(1, 100),
        maxReplicas: int(1, 100),
        /** Scale out when a pod's verify rate passes this share of the throughput SLO. */
        targetShareOfThroughputSlo: share.default(0.6),
      })
      .refine((h) => h.minReplicas <= h.maxReplicas, { error: "minReplicas <= maxReplicas" }),
    canary: z.strictObject({
      provider: z.enum(["istio", "linkerd", "nginx", "contour", "gloo", "kuma", "gatewayapi:v1"], {
        error: "a Flagger mesh provider: istio, linkerd, nginx, contour, gloo, kuma or gatewayapi:v1",
      }).default("istio"),
      stages: z
        .array(canaryStage, { error: "a list of {weight, holdMinutes}" })
        .min(1, { error: "at least one stage" })
        .refine((s) => s.every((st, i) => (s[i - 1]?.weight ?? -Infinity) < st.weight), {
          error: "stage weights strictly increasing",
        }),
      failedChecksBeforeRollback: int(1, 60).default(5),
      /**
       * Seconds between Flagger's analysis checks (`spec.analysis.interval`), default 60 (one-minute checks). A stage
       * is held its holdMinutes whatever the interval (the hold gate counts holdMinutes * 60 / intervalSeconds
       * calls); a shorter interval only checks more often. Test stacks shorten it to run a rollout in minutes.
       */
      intervalSeconds: int(10, 600).default(60),
      /** Prometheus that Flagger's MetricTemplates query. */
      prometheusAddress: pattern(/^https?:\/\/[^\s/]+(:[0-9]+)?(\/\S*)?$/, "an http(s) URL of the Prometheus API").default(
        "http://prometheus-operated.monitoring:9090",
      ),
      /**
       * The hold gate (docs/canary.md) the Canary's `pre-rollout` / `confirm-traffic-increase` / `confirm-promotion`
       * webhooks call; it approves the next step only after the current stage's holdMinutes checks. Unset: the gate
       * the program deploys, `http://<appName>-hold-gate.<namespace>.svc.cluster.local/gate`.
       */
      holdGateUrl: pattern(/^https?:\/\/\S+$/, "an http(s) URL of the canary hold gate").optional(),
      /** Namespace Flagger runs in: the only one allowed to reach the hold gate. */
      flaggerNamespace: dnsLabel.default("flagger-system"),
      /**
       * Flagger's load tester (running in `flaggerNamespace`, from an image with the node's `dist/`): a `rollout`
       * webhook runs the canary traffic (node-app/src/canary/traffic.ts) against the canary and primary Services
       * for each interval. Unset: no generated traffic (a canary without real traffic is rolled back, docs/canary.md).
       * The traffic signs its attestations itself, as the test validator `validatorId` (an entry of
       * bizra:validators other than bizra:validatorId: a test stack's set lists it, production's does not), with
       * the seed in `keyFile` (a path in the load tester's pod); it never calls the signer.
       */
      loadTester: z
        .strictObject({
          url: pattern(/^https?:\/\/\S+\/$/, "an http(s) URL of the Flagger load tester, ending in /"),
          validatorId: pattern(/^[A-Za-z0-9._-]{1,64}$/, "a validator id: 1 to 64 of [A-Za-z0-9._-]"),
          keyFile: pattern(/^\/\S+$/, "an absolute path (no spaces) in the load tester's pod to the test validator's seed"),
          ratePerSecond: z.number({ error: "rounds per second, > 0 and <= 1000" }).gt(0, { error: "rounds per second, > 0 and <= 1000" }).lte(1000, { error: "rounds per second, > 0 and <= 1000" }),
          invalidEvery: int(2, 1_000_000).default(200),
        })
        .optional(),
    }),
    kyverno: z.strictObject({
      mode: z.enum(["Enforce", "Audit"], { error: "Enforce or Audit" }),
      cosignPublicKey: z
        .string({ error: COSIGN_KEY_ALLOWED })
        .refine((v) => v === LOCAL_COSIGN_KEY || v === COSIGN_KEY_PLACEHOLDER || PEM_PUBLIC_KEY.test(v), { error: COSIGN_KEY_ALLOWED }),
    }),
    allowedRegistries: z
      .array(pattern(REGISTRY_PREFIX, "a registry prefix such as ghcr.io/bizra"), { error: "a list of registry prefixes" })
      .min(1, { error: "at least one registry prefix" }),
    monitoringNamespace: dnsLabel.default("monitoring"),
    meshNamespace: dnsLabel.default("istio-system"),
    topologySpread: bool.default(false),
    /** This validator's id: every replica of the node shares it (the signer signs as it; verifiers report it). */
    validatorId: pattern(/^[A-Za-z0-9._-]{1,64}$/, "a validator id: 1 to 64 of [A-Za-z0-9._-]").default("node0"),
    /**
     * The validator set, rendered into a ConfigMap every node pod mounts. Unset: this validator alone, with the
     * public key of bizra:signingKey. Set: bizra:validatorId must be listed, with that public key.
     */
    validators: z
      .array(
        z.strictObject({
          id: pattern(/^[A-Za-z0-9._-]{1,64}$/, "a validator id: 1 to 64 of [A-Za-z0-9._-]"),
          weight: int(1, 1_000_000_000),
          publicKey: pattern(/^[0-9a-f]{64}$/, "an Ed25519 public key as 64 lower-case hex digits"),
        }),
        { error: "a list of {id, weight, publicKey}" },
      )
      .min(1, { error: "at least one validator" })
      .optional(),
    /** Byzantine validators the set must tolerate: the set needs n >= 3f + 1 validators. */
    faultTolerance: int(0, 1_000).default(0),
    /** The signer workload (docs/signing.md): replicas electing one active signer through a Lease. */
    signer: z
      .strictObject({
        replicas: int(1, 5).default(2),
        leaseSeconds: int(2, 300).default(6),
        port: int(1024, 65535).default(DEFAULT_SIGNER_PORT),
      })
      .default({ replicas: 2, leaseSeconds: 6, port: DEFAULT_SIGNER_PORT }),
    /**
     * redis:// URL of the replay window and vote log shared by every verifier replica (docs/signing.md). Unset: each
     * replica keeps its own, so a replay to another replica is not caught; set it whenever hpa.maxReplicas > 1.
     */
    stateRedisUrl: pattern(/^rediss?:\/\/[^\s/:]+(:[0-9]+)?(\/\S*)?$/, "a redis:// or rediss:// URL").optional(),
    /**
     * How long `pulumi up` waits for a rollout (a Deployment available, the validator Job complete) before it fails
     * with the provider's await message: `pulumi.com/timeoutSeconds` on those objects. Unset: the provider's
     * default (10 minutes).
     */
    awaitTimeoutSeconds: int(30, 3600).optional(),
    /**
     * Ed25519 public keys (hex) the validator Job trusts for evidence. Required outside testnet; on testnet, unset
     * means the local `.evidence-key` (`trustedKeysOrLocal` in @bizra/evidence).
     */
    evidenceTrustedKeys: z
      .array(pattern(/^[0-9a-f]{64}$/, "an Ed25519 public key as 64 lower-case hex digits"), { error: "a list of hex public keys" })
      .optional(),
    /**
     * Folder of the signed evidence bundle (`manifest.json` plus artifacts) the validator Job verifies, relative to
     * the project root or absolute. `npm run evidence` writes `evidence/`; a bundle fetched from a release can live
     * anywhere.
     */
    evidenceDir: z.string({ error: "a folder path" }).min(1, { error: "a folder path" }).default("evidence"),
    slo: sloOverrides.default({}),
    /** Alert routing (components/alertmanager.ts): where critical (paging) and warning (ticket) alerts go. */
    alerting: z
      .strictObject({
        criticalWebhookUrl: pattern(/^https?:\/\/\S+$/, "an http(s) URL of the paging webhook"),
        warningWebhookUrl: pattern(/^https?:\/\/\S+$/, "an http(s) URL of the ticket webhook"),
        groupWait: promDuration.default("30s"),
        groupInterval: promDuration.default("5m"),
        repeatInterval: promDuration.default("4h"),
      })
      .optional(),
    /**
     * Fault injection for drills (`BIZRA_FAULT_ERROR_RATE` in the flags ConfigMap): share of API requests answered
     * 500. Refused for the production stack.
     */
    faultInjection: z.strictObject({ errorRate: z.number({ error: "a share from 0 to 1" }).min(0, { error: "a share from 0 to 1" }).max(1, { error: "a share from 0 to 1" }) }).optional(),
    /**
     * The quality-gates pack requires a fresh GO report of `npm run validate` (evidence/post-deploy/<stack>/) from
     * `stack`, signed for the commit being deployed, no older than `maxAgeHours`.
     */
    postDeployReport: z
      .strictObject({ stack: dnsLabel, maxAgeHours: z.number({ error: "hours, > 0" }).gt(0, { error: "hours, > 0" }).default(24) })
      .optional(),
    /** Alert thresholds that are not SLOs (resource limits, scrape health), and where runbooks live. */
    alerts: z
      .strictObject({
        memoryShareOfLimit: share.default(0.9),
        cpuShareOfLimit: share.default(0.9),
        scrapeDurationSeconds: z
          .number({ error: "seconds, > 0 and <= 5 (the scrape interval)" })
          .gt(0, { error: "seconds, > 0 and <= 5 (the scrape interval)" })
          .max(5, { error: "seconds, > 0 and <= 5 (the scrape interval)" })
          .default(1),
        runbookBaseUrl: pattern(/^https?:\/\/\S+[^/]$/, "an http(s) URL without trailing '/'").default(
          "https://github.com/bizra/bizra-node0-infra/blob/main/docs/runbooks.md",
        ),
        /**
         * For drills and cluster tests only: one duration that replaces the `for` of every alert that has one, so a
         * drill sees its alert fire within a test's minutes. Unset: each alert keeps its own. Refused on production.
         */
        forOverride: promDuration.optional(),
      })
      .default({
        memoryShareOfLimit: 0.9,
        cpuShareOfLimit: 0.9,
        scrapeDurationSeconds: 1,
        runbookBaseUrl: "https://github.com/bizra/bizra-node0-infra/blob/main/docs/runbooks.md",
      }),
  });

/**
 * Checks that span several keys. They run on every key that parses on its own, even when other keys are bad, so
 * one run reports every problem.
 */
function crossKeyProblems(stack: string, input: Record<string, unknown>): Array<{ path: string[]; found: unknown; allowed: string }> {
  const shape = configSchema.shape;
  const field = <K extends keyof typeof shape>(key: K): z.output<(typeof shape)[K]> | undefined => {
    const r = shape[key].safeParse(input[key]);
    return r.success ? (r.data as z.output<(typeof shape)[K]>) : undefined;
  };
  const problems: Array<{ path: string[]; found: unknown; allowed: string }> = [];
  const replicas = field("replicas");
  const hpa = field("hpa");
  if (replicas !== undefined && hpa && (replicas < hpa.minReplicas || replicas > hpa.maxReplicas)) {
    problems.push({ path: ["replicas"], found: replicas, allowed: `within the HPA bounds ${hpa.minReplicas}..${hpa.maxReplicas}` });
  }
  const apiPort = field("apiPort");
  const metricsPort = field("metricsPort");
  if (apiPort !== undefined && apiPort === metricsPort) {
    problems.push({ path: ["metricsPort"], found: metricsPort, allowed: "a port different from apiPort" });
  }
  const image = field("image");
  const registries = field("allowedRegistries");
  if (image && registries) {
    const [key, ref] = image.reference !== undefined ? ["reference", image.reference] : ["build", image.build?.repository ?? ""];
    if (!registries.some((r) => ref.startsWith(`${r}/`))) {
      problems.push({ path: ["image", key], found: ref, allowed: `an image under one of the allowed registries: ${registries.join(", ")}` });
    }
  }
  const validators = field("validators");
  const faultTolerance = field("faultTolerance");
  const validatorId = field("validatorId");
  if (validators !== undefined && faultTolerance !== undefined && validatorId !== undefined) {
    problems.push(...validatorSetProblems(validators, faultTolerance, validatorId));
  } else if (validators === undefined && faultTolerance !== undefined && faultTolerance > 0 && input["validators"] === undefined) {
    problems.push({ path: ["faultTolerance"], found: faultTolerance, allowed: "0 without bizra:validators (a set of one validator tolerates no fault)" });
  }
  const loadTester = field("canary")?.loadTester;
  if (loadTester !== undefined && validatorId !== undefined) {
    const path = ["canary", "loadTester", "validatorId"];
    if (loadTester.validatorId === validatorId) {
      problems.push({ path, found: loadTester.validatorId, allowed: `a test validator's id, not this validator's own (${validatorId}): the load tester never signs as the node` });
    } else if (!(validators ?? []).some((v) => v.id === loadTester.validatorId)) {
      problems.push({ path, found: loadTester.validatorId, allowed: `the id of a test validator listed in bizra:validators (${(validators ?? []).map((v) => v.id).join(", ") || "unset: this validator alone"})` });
    }
  }
  const signer = field("signer");
  if (signer && (signer.port === apiPort || signer.port === metricsPort)) {
    problems.push({ path: ["signer", "port"], found: signer.port, allowed: "a port different from apiPort and metricsPort" });
  }
  const releaseRepository = field("releaseRepository");
  if (releaseRepository && registries && !registries.some((r) => releaseRepository.startsWith(`${r}/`))) {
    problems.push({ path: ["releaseRepository"], found: releaseRepository, allowed: `a repository under one of the allowed registries: ${registries.join(", ")}` });
  }
  const kyverno = field("kyverno");
  if (kyverno?.cosignPublicKey === COSIGN_KEY_PLACEHOLDER) {
    problems.push({
      path: ["kyverno", "cosignPublicKey"],
      found: kyverno.cosignPublicKey,
      allowed:
        "the PEM public key of the release signing key the operator holds; the committed value is a placeholder, so nothing deploys " +
        "until it is set: `npm run release:trust-key -- <stack> <cosign.pub>` (docs/release.md)",
    });
  } else if (kyverno?.cosignPublicKey === LOCAL_COSIGN_KEY && operatorKeyRequired(stack)) {
    problems.push({
      path: ["kyverno", "cosignPublicKey"],
      found: kyverno.cosignPublicKey,
      allowed: `the PEM public key of the operator's release key: the ${stack} stack never trusts the key generated in .cosign-key/`,
    });
  }
  const fault = field("faultInjection");
  if (fault && fault.errorRate > 0 && stack === PRODUCTION_STACK) {
    problems.push({ path: ["faultInjection", "errorRate"], found: fault.errorRate, allowed: `0 on the ${PRODUCTION_STACK} stack (fault injection is for drills on other stacks)` });
  }
  const alerts = field("alerts");
  if (alerts?.forOverride !== undefined && stack === PRODUCTION_STACK) {
    problems.push({ path: ["alerts", "forOverride"], found: alerts.forOverride, allowed: `unset on the ${PRODUCTION_STACK} stack (each alert keeps its own \`for\`; the override is for drills on other stacks)` });
  }
  const slo = field("slo");
  if (slo) {
    const defaults = resolveSlos();
    const fast = slo.fastFinalityBp ?? defaults.fastFinalityBp.value;
    const economic = slo.economicFinalityBp ?? defaults.economicFinalityBp.value;
    if (economic < fast) {
      problems.push({ path: ["slo", "economicFinalityBp"], found: slo.economicFinalityBp, allowed: `>= fastFinalityBp (${fast})` });
    }
  }
  return problems;
}

type ParsedConfig = z.output<typeof configSchema>;

/** The validated stack config. `slos` is the resolved SLO table; the signing key is a secret Output. */
export type StackConfig = Readonly<Omit<ParsedConfig, "slo">> & {
  readonly stack: string;
  readonly slos: SloTable;
  readonly signingKey: pulumi.Output<string>;
};

/** One error that lists every problem. */
export class ConfigError extends Error {
  constructor(
    readonly stack: string,
    readonly problems: readonly string[],
  ) {
    super(
      `Invalid stack config for stack "${stack}" (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function keyName(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path.map(String);
  return `${CONFIG_NAMESPACE}:${head}` + rest.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("");
}

function describeFound(v: unknown): string {
  return v === undefined ? "missing" : `found ${JSON.stringify(v)}`;
}

/** Pulumi hands config values as strings; structured values are JSON. */
function decodeValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Validate the raw config of one stack (keys as Pulumi gives them, `bizra:replicas` -> `"3"`).
 * Pure: tests call it directly. Throws `ConfigError` listing every problem.
 */
export function parseStackConfig(
  stack: string,
  raw: Readonly<Record<string, string>>,
  secretKeys: readonly string[],
): Omit<StackConfig, "signingKey"> & { readonly signingKeyValue: string } {
  const problems: string[] = [];
  const input: Record<string, unknown> = {};
  const prefix = `${CONFIG_NAMESPACE}:`;
  const signingKeyName = prefix + SIGNING_KEY;
  for (const [k, v] of Object.entries(raw)) {
    if (!k.startsWith(prefix) || k === signingKeyName) continue;
    input[k.slice(prefix.length)] = decodeValue(v);
  }

  const signingKeyValue = raw[signingKeyName];
  if (signingKeyValue === undefined) {
    problems.push(`${signingKeyName}: missing; allowed: a 32-byte Ed25519 seed as 64 lower-case hex digits, set with \`pulumi config set --secret ${signingKeyName}\``);
  } else if (!secretKeys.includes(signingKeyName)) {
    problems.push(`${signingKeyName}: found a plain-text value (not shown); allowed: a secret, set with \`pulumi config set --secret ${signingKeyName}\``);
  } else if (!ED25519_SEED_HEX.test(signingKeyValue)) {
    problems.push(`${signingKeyName}: found a secret that is not 64 lower-case hex digits (not shown); allowed: a 32-byte Ed25519 seed in hex`);
  }

  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === "unrecognized_keys") {
        const allowedKeys = issue.path.length === 0 ? [...Object.keys(configSchema.shape), SIGNING_KEY] : undefined;
        for (const key of issue.keys) {
          const path = [...issue.path, key];
          problems.push(
            `${keyName(path)}: unknown key (${describeFound(valueAt(input, path))}); allowed keys: ${
              allowedKeys ? allowedKeys.map((k) => prefix + k).join(", ") : "see README config reference"
            }`,
          );
        }
        continue;
      }
      const found = valueAt(input, issue.path);
      const message = issue.code === "invalid_type" && found === undefined ? issue.message.replace(/^Invalid input: /, "") : issue.message;
      problems.push(`${keyName(issue.path)}: ${describeFound(found)}; allowed: ${message}`);
    }
  }

  // The node's runtime flags and validator set are ConfigMaps read at pod start; a change must update them in place and
  // roll the pods through the pod template's digest annotation. The provider's default (immutable ConfigMaps) replaces
  // a changed ConfigMap delete-before-replace, which deletes the Deployment that depends on it: every pod at once.
  const mutable = raw[CONFIGMAP_MUTABLE_KEY];
  if (mutable !== "true") {
    problems.push(
      `${CONFIGMAP_MUTABLE_KEY}: ${mutable === undefined ? "missing" : `found ${JSON.stringify(mutable)}`}; allowed: "true" ` +
        "(ConfigMaps updated in place; the pod template's digest annotations roll the pods, never a replacement of the Deployment)",
    );
  }
  for (const p of crossKeyProblems(stack, input)) problems.push(`${keyName(p.path)}: ${describeFound(p.found)}; allowed: ${p.allowed}`);
  if (input["evidenceTrustedKeys"] === undefined && !localKeyTrustAllowed(stack)) {
    problems.push(
      `${keyName(["evidenceTrustedKeys"])}: missing; allowed: a list of the release's Ed25519 public keys (64 hex digits each), ` +
        `required on stack "${stack}": only ${LOCAL_TRUST_STACKS.join(", ")} may trust the deployer's local evidence key`,
    );
  }

  if (problems.length > 0 || !parsed.success) throw new ConfigError(stack, problems);
  const { slo, ...rest } = parsed.data;
  // `local`: the public half of the generated pair, so Kyverno trusts what `npm run release` signs on this machine.
  const kyverno = rest.kyverno.cosignPublicKey === LOCAL_COSIGN_KEY ? { ...rest.kyverno, cosignPublicKey: localCosignPublicKey() } : rest.kyverno;
  return Object.freeze({ ...rest, kyverno, stack, slos: resolveSlos(slo), signingKeyValue: signingKeyValue as string });
}

/** PEM of the local cosign public key (`.cosign-key/cosign.pub`, generated on first use). */
function localCosignPublicKey(): string {
  return ensureLocalCosignKey().publicKeyPem;
}

/** Provider setting every stack must carry (see parseStackConfig): ConfigMaps are updated in place, not replaced. */
export const CONFIGMAP_MUTABLE_KEY = "kubernetes:enableConfigMapMutable";

/** The annotation that bounds how long the Kubernetes provider awaits an object's readiness. */
export const AWAIT_TIMEOUT_ANNOTATION = "pulumi.com/timeoutSeconds";

/**
 * Metadata fields to spread into the metadata of a Deployment or Job: `{ annotations: { "pulumi.com/timeoutSeconds":
 * "<n>" } }` when `bizra:awaitTimeoutSeconds` is set, else nothing (the provider's default wait).
 */
export function awaitTimeoutMetadata(seconds: number | undefined): { annotations?: Record<string, string> } {
  return seconds === undefined ? {} : { annotations: { [AWAIT_TIMEOUT_ANNOTATION]: String(seconds) } };
}

/** Read and validate the current stack's config. Called once, by `index.ts`. */
export function loadStackConfig(): StackConfig {
  const stack = pulumi.getStack();
  const raw = pulumi.runtime.allConfig();
  const { signingKeyValue: _plain, ...config } = parseStackConfig(stack, raw, secretConfigKeys(raw));
  const signingKey = new pulumi.Config(CONFIG_NAMESPACE).requireSecret(SIGNING_KEY);
  return Object.freeze({ ...config, signingKey });
}

/**
 * Names of the config keys the engine marks secret. The SDK's `isConfigSecret` reads them from the same store that
 * both the engine and `setAllConfig(..., secretKeys)` (tests) fill; it is internal, so it is not in the typings.
 */
function secretConfigKeys(raw: Readonly<Record<string, string>>): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret: (key: string) => boolean };
  return Object.keys(raw).filter((k) => isConfigSecret(k));
}
