/**
 * The shapes of the evidence bundle (ARCHITECTURE.md, contract 2), validated with zod so that a malformed file is
 * rejected with its name and the failing field.
 *
 * Every artifact carries a common header (schema, kind, method, machine, git, createdAt, gates) and `results`. The
 * `gates` list maps a gate name to the SLO id it is judged by and the artifact field that holds the measured value;
 * the quality-gates pack reads the threshold from the stack's SLO table. Kinds this tool writes have a strict
 * `results` schema; other kinds (e.g. `perf-bench`) only need the header.
 */
import { z } from "zod";

export const ARTIFACT_SCHEMA = "bizra.evidence.artifact/v1";
export const MANIFEST_SCHEMA = "bizra.evidence.manifest/v1";
export const MANIFEST_FILE = "manifest.json";

const HEX32 = /^[0-9a-f]{64}$/;
const isoTime = z.iso.datetime({ offset: true, error: "an ISO 8601 timestamp" });
const finite = z.number({ error: "a finite number" }).refine(Number.isFinite, { error: "a finite number" });
const count = z.number({ error: "a non-negative integer" }).int({ error: "a non-negative integer" }).min(0, { error: "a non-negative integer" });
const seconds = finite.refine((v) => v >= 0, { error: "seconds >= 0" });
const ratio = finite.refine((v) => v >= 0 && v <= 1, { error: "a ratio in [0, 1]" });

export const machineSchema = z.strictObject({
  cores: count,
  cpuModel: z.string(),
  node: z.string(),
  platform: z.string(),
  arch: z.string(),
  totalMemoryBytes: count,
});
export type MachineInfo = z.infer<typeof machineSchema>;

export const gitSchema = z.strictObject({
  commit: z.string().regex(/^([0-9a-f]{40}|[0-9a-f]{64}|unknown)$/, { error: "a full git commit id (or \"unknown\")" }),
  dirty: z.boolean({ error: "true or false" }),
});
export type GitInfo = z.infer<typeof gitSchema>;

export const gateRefSchema = z.strictObject({
  /** Gate name, unique in the bundle, e.g. `poi-verify-p99`. */
  gate: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: "a kebab-case gate name" }),
  /** SLO id in the stack's SLO table whose value and comparison judge the gate. */
  slo: z.string().min(1),
  /** Dotted path of the measured value inside this artifact, e.g. `results.verify.p99Seconds`. */
  field: z.string().min(1),
  /** `threshold`: number compared with the SLO value; `proof`: boolean that must be true. */
  kind: z.enum(["threshold", "proof"]).default("threshold"),
});
export type GateRef = z.infer<typeof gateRefSchema>;

export const latencySchema = z.strictObject({
  samples: count,
  minSeconds: seconds,
  meanSeconds: seconds,
  p50Seconds: seconds,
  p95Seconds: seconds,
  p99Seconds: seconds,
  maxSeconds: seconds,
});

const poiResults = z.strictObject({
  generate: latencySchema.extend({ throughputPerSecond: finite, wallSeconds: seconds }),
  verify: latencySchema.extend({ throughputPerSecond: finite, wallSeconds: seconds, ok: count }),
  backend: z.string(),
});
const finalityResults = latencySchema.extend({ validators: count, votes: count, blocks: count });
const httpResults = z.strictObject({
  route: z.string(),
  requests: count,
  uniqueAttestations: count,
  repeatRatio: ratio,
  concurrency: count,
  wallSeconds: seconds,
  requestsPerSecond: finite,
  latency: latencySchema,
  status: z.record(z.string(), count),
  errors: count,
  errorRate: ratio,
  outcomes: z.record(z.string(), count),
  cacheLookups: count,
  cacheHits: count,
  cacheHitRate: ratio,
});
const successResults = z.strictObject({
  attempted: count,
  verified: count,
  failed: z.record(z.string(), count),
  successRate: ratio,
  validators: count,
  batchSize: count,
});
const determinismResults = z.strictObject({
  agreed: z.boolean(),
  instances: count,
  validators: count,
  votes: count,
  seed: count,
  thresholds: z.strictObject({ fastFinalityBp: count, economicFinalityBp: count }),
  head: z.unknown(),
  headsByInstance: z.array(z.string().nullable()),
  equivocations: count,
  finalizedBlocks: count,
});

/** Strict `results` schemas of the kinds `npm run evidence` writes. */
export const RESULT_SCHEMAS: Record<string, z.ZodType> = {
  poi: poiResults,
  finality: finalityResults,
  "http-load": httpResults,
  "verify-success": successResults,
  "wq-determinism": determinismResults,
};

export const artifactSchema = z.strictObject({
  schema: z.literal(ARTIFACT_SCHEMA, { error: `"${ARTIFACT_SCHEMA}"` }),
  kind: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: "a kebab-case kind" }),
  title: z.string(),
  method: z.string().min(1, { error: "a description of how the figures were measured" }),
  createdAt: isoTime,
  durationSeconds: seconds,
  machine: machineSchema,
  git: gitSchema,
  gates: z.array(gateRefSchema),
  results: z.record(z.string(), z.unknown()),
});
export type Artifact = z.infer<typeof artifactSchema>;

export const manifestEntrySchema = z.strictObject({
  file: z.string().regex(/^[A-Za-z0-9._-]+\.json$/, { error: "a JSON file name in the bundle folder" }),
  blake3: z.string().regex(HEX32, { error: "64 lower-case hex digits (BLAKE3-256)" }),
  bytes: count,
});

export const manifestSchema = z.strictObject({
  schema: z.literal(MANIFEST_SCHEMA, { error: `"${MANIFEST_SCHEMA}"` }),
  createdAt: isoTime,
  commit: gitSchema.shape.commit,
  dirty: z.boolean({ error: "true or false" }),
  artifacts: z.array(manifestEntrySchema).min(1, { error: "at least one artifact" }),
  tools: z.record(z.string(), z.string()),
  machine: machineSchema,
  signing: z.strictObject({
    algorithm: z.literal("Ed25519"),
    digest: z.literal("BLAKE3-256"),
    canonicalization: z.literal("json-sorted-keys-no-whitespace"),
  }),
  publicKey: z.string().regex(HEX32, { error: "64 lower-case hex digits (Ed25519 public key)" }),
  signature: z.string().regex(/^[0-9a-f]{128}$/, { error: "128 lower-case hex digits (Ed25519 signature)" }),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** `results.verify.p99Seconds: a finite number; kind: ...` */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`);
}

/** Parses an artifact, header and (for known kinds) results; returns problems as `field: message`. */
export function parseArtifact(json: unknown): { ok: true; artifact: Artifact } | { ok: false; problems: string[] } {
  const header = artifactSchema.safeParse(json);
  if (!header.success) return { ok: false, problems: describeIssues(header.error) };
  const resultSchema = RESULT_SCHEMAS[header.data.kind];
  if (resultSchema) {
    const r = resultSchema.safeParse(header.data.results);
    if (!r.success) return { ok: false, problems: describeIssues(r.error).map((p) => `results.${p}`) };
  }
  return { ok: true, artifact: header.data };
}

/** The value at a dotted path (`results.verify.p99Seconds`), or undefined. */
export function valueAt(root: unknown, dotted: string): unknown {
  let v: unknown = root;
  for (const key of dotted.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
