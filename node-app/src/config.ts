/**
 * Node configuration from environment variables, validated once at start.
 * The signing key comes from a file (a mounted Secret) or an env var; it is never logged or serialized.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { z } from "zod";
import { BP_DENOMINATOR, DEFAULT_API_PORT, DEFAULT_ECONOMIC_FINALITY_BP, DEFAULT_FAST_FINALITY_BP, DEFAULT_METRICS_PORT, DEFAULT_SIGNER_PORT, ENV } from "@bizra/contract";
import { validateThresholds } from "./consensus/quorum";
import { VALIDATOR_ID_PATTERN } from "./poi/attestation";
import { fromHex, toHex } from "./poi/bytes";
import { publicKeyOf } from "./poi/signature";

/** Holds the secret seed without exposing it to JSON.stringify, util.inspect or pino. */
export class SigningKey {
  readonly #seed: Uint8Array;
  readonly publicKey: Uint8Array;
  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new RangeError("signing key must be 32 bytes");
    this.#seed = Uint8Array.from(seed);
    this.publicKey = publicKeyOf(this.#seed);
  }
  /** The seed, for signing only. */
  reveal(): Uint8Array {
    return this.#seed;
  }
  toJSON(): string {
    return `[signing key ${toHex(this.publicKey).slice(0, 16)}…]`;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toJSON();
  }
}

export interface ValidatorEntry {
  readonly id: string;
  readonly weight: number;
  readonly publicKey: Uint8Array;
}

export interface NodeConfig {
  readonly apiPort: number;
  readonly metricsPort: number;
  readonly host: string;
  readonly validatorId: string;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  readonly signingKey: SigningKey | undefined;
  readonly batchVerify: boolean;
  /** Use the native (Rust) verifier when it is built; false forces the TypeScript path. */
  readonly useRust: boolean;
  /** Signature worker threads; 0 verifies on the main thread; undefined = one per CPU. */
  readonly verifyThreads: number | undefined;
  readonly batchMaxItems: number;
  readonly batchMaxWaitMicros: number;
  readonly replayWindowMs: number;
  readonly maxClockSkewMs: number;
  readonly replayCacheEntries: number;
  readonly fastFinalityBp: number;
  readonly economicFinalityBp: number;
  /** Other validators; the node itself is added with weight 1 unless listed. */
  readonly validators: readonly ValidatorEntry[];
  readonly maxBatchSize: number;
  readonly bodyLimitBytes: number;
  readonly verifyCacheEntries: number;
  /** Items (attestations) admitted in flight per listener, from parsing to response. */
  readonly maxInflightItems: number;
  readonly maxConnections: number;
  readonly requestTimeoutMs: number;
  /** Where signing happens: the listener, its token and where the high-water mark lives; undefined without a key. */
  readonly signer: SignerConfig | undefined;
  /** redis:// URL of the replay window and vote log shared by all replicas; undefined: per-process state. */
  readonly stateRedisUrl: string | undefined;
}

export type SignerStateConfig =
  | { readonly kind: "file"; readonly path: string }
  | {
      readonly kind: "lease";
      readonly name: string;
      readonly namespace: string;
      readonly identity: string;
      readonly leaseSeconds: number;
      /** This process's pod, labelled while it is the active signer (routing only); undefined: no label. */
      readonly podName: string | undefined;
      readonly apiUrl: string | undefined;
      readonly caFile: string | undefined;
      readonly tokenFile: string | undefined;
    };

export interface SignerConfig {
  readonly port: number;
  /** The bearer token callers present; never logged. */
  readonly token: SecretText;
  readonly state: SignerStateConfig;
}

/** A secret string that stays out of JSON.stringify, util.inspect and pino. */
export class SecretText {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return "[redacted]";
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "[redacted]";
  }
}

/** Service-account namespace file of a pod (the default namespace of the signer Lease). */
const NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const int = (min: number, max: number, dflt: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number in [${min}, ${max}]`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be >= ${min}`).max(max, `must be <= ${max}`))
    .optional()
    .transform((v) => v ?? dflt);
const bool = (dflt: boolean) =>
  z
    .enum(["true", "false", "1", "0"], { message: 'must be one of "true", "false", "1", "0"' })
    .optional()
    .transform((v) => (v === undefined ? dflt : v === "true" || v === "1"));
const keyHex = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits (a 32-byte Ed25519 seed)");

const EnvSchema = z.object({
  [ENV.apiPort]: int(0, 65535, DEFAULT_API_PORT),
  [ENV.metricsPort]: int(0, 65535, DEFAULT_METRICS_PORT),
  [ENV.host]: z.string().min(1, "must not be empty").optional().transform((v) => v ?? "0.0.0.0"),
  [ENV.validatorId]: z.string().regex(VALIDATOR_ID_PATTERN, "must match [A-Za-z0-9._-]{1,64}").optional().transform((v) => v ?? "node0"),
  [ENV.logLevel]: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional().transform((v) => v ?? "info"),
  [ENV.signingKeyFile]: z.string().min(1, "must be a file path").optional(),
  [ENV.signingKey]: keyHex.optional(),
  [ENV.batchVerify]: bool(true),
  [ENV.useRust]: bool(true),
  [ENV.verifyThreads]: z.string().regex(/^\d+$/, "must be a whole number in [0, 256]").transform(Number).pipe(z.number().int().max(256, "must be <= 256")).optional(),
  [ENV.batchMaxItems]: int(1, 65_536, 256),
  [ENV.batchMaxWaitMicros]: int(0, 1_000_000, 200),
  [ENV.replayWindowMs]: int(1, 3_600_000, 30_000),
  [ENV.maxClockSkewMs]: int(0, 600_000, 2_000),
  [ENV.replayCacheEntries]: int(1, 10_000_000, 100_000),
  [ENV.fastFinalityBp]: int(1, BP_DENOMINATOR, DEFAULT_FAST_FINALITY_BP),
  [ENV.economicFinalityBp]: int(1, BP_DENOMINATOR, DEFAULT_ECONOMIC_FINALITY_BP),
  [ENV.validatorSetFile]: z.string().min(1, "must be a file path").optional(),
  [ENV.maxBatchSize]: int(1, 10_000, 256),
  [ENV.bodyLimitBytes]: int(1_024, 64 * 1024 * 1024, 256 * 1024),
  [ENV.verifyCacheEntries]: int(1, 10_000_000, 10_000),
  [ENV.maxInflightItems]: int(1, 1_000_000, 4_096),
  [ENV.maxConnections]: int(1, 1_000_000, 1_024),
  [ENV.requestTimeoutMs]: int(100, 600_000, 10_000),
  [ENV.signerPort]: int(0, 65535, DEFAULT_SIGNER_PORT),
  [ENV.signerTokenFile]: z.string().min(1, "must be a file path").optional(),
  [ENV.signerStateFile]: z.string().min(1, "must be a file path").optional(),
  [ENV.signerLease]: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "must be a Kubernetes object name (lower-case DNS subdomain)").optional(),
  [ENV.signerLeaseNamespace]: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a Kubernetes namespace name").optional(),
  [ENV.signerLeaseSeconds]: int(2, 300, 6),
  [ENV.signerIdentity]: z.string().regex(/^[A-Za-z0-9._-]{1,253}$/, "must match [A-Za-z0-9._-]{1,253}").optional(),
  [ENV.signerPodName]: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "must be a Kubernetes pod name (lower-case DNS subdomain)").optional(),
  [ENV.kubeApiUrl]: z.string().regex(/^https:\/\/\S+$/, "must be an https:// URL").optional(),
  [ENV.kubeCaFile]: z.string().min(1, "must be a file path").optional(),
  [ENV.kubeTokenFile]: z.string().min(1, "must be a file path").optional(),
  [ENV.stateRedisUrl]: z.string().regex(/^rediss?:\/\/\S+$/, "must be a redis:// or rediss:// URL").optional(),
});

/** Shortest signer token accepted (bytes of printable ASCII): 32 = 256 bits when generated at random. */
export const MIN_SIGNER_TOKEN_LENGTH = 32;

const ValidatorFileSchema = z
  .array(
    z.object({
      id: z.string().regex(VALIDATOR_ID_PATTERN, "must match [A-Za-z0-9._-]{1,64}"),
      weight: z.number().int().min(1, "must be a positive integer").max(Number.MAX_SAFE_INTEGER),
      publicKey: keyHex,
    }).strict(),
  )
  .min(1, "must list at least one validator");

function describe(error: z.ZodError, prefix = ""): string {
  return error.issues.map((i) => `${prefix}${i.path.map(String).join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** Reads and validates the configuration; throws ConfigError naming each bad variable and what it allows. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${describe(parsed.error)}`);
  const e = parsed.data;
  if (e[ENV.signingKeyFile] !== undefined && e[ENV.signingKey] !== undefined) {
    throw new ConfigError(`invalid configuration: set only one of ${ENV.signingKeyFile} and ${ENV.signingKey}`);
  }
  let signingKey: SigningKey | undefined;
  const keyEnv = e[ENV.signingKey];
  if (keyEnv !== undefined) signingKey = new SigningKey(fromHex(keyEnv));
  const keyFile = e[ENV.signingKeyFile];
  if (keyFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(keyFile, "utf8").trim();
    } catch (err) {
      throw new ConfigError(`invalid configuration: ${ENV.signingKeyFile}: cannot read ${keyFile} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    const key = keyHex.safeParse(text);
    if (!key.success) throw new ConfigError(`invalid configuration: ${ENV.signingKeyFile}: file content ${key.error.issues[0]?.message ?? "is invalid"}`);
    signingKey = new SigningKey(fromHex(key.data));
  }
  try {
    validateThresholds({ fastFinalityBp: e[ENV.fastFinalityBp], economicFinalityBp: e[ENV.economicFinalityBp] });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${ENV.economicFinalityBp}: ${(err as Error).message}`);
  }
  let validators: ValidatorEntry[] = [];
  const setFile = e[ENV.validatorSetFile];
  if (setFile !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(setFile, "utf8"));
    } catch (err) {
      throw new ConfigError(`invalid configuration: ${ENV.validatorSetFile}: cannot read JSON from ${setFile} (${(err as Error).message})`);
    }
    const set = ValidatorFileSchema.safeParse(json);
    if (!set.success) throw new ConfigError(`invalid configuration: ${describe(set.error, `${ENV.validatorSetFile}[`).replace(/\[(\d+)\./g, "[$1].")}`);
    const ids = new Set<string>();
    for (const v of set.data) {
      if (ids.has(v.id)) throw new ConfigError(`invalid configuration: ${ENV.validatorSetFile}: duplicate validator id ${v.id}`);
      ids.add(v.id);
    }
    validators = set.data.map((v) => ({ id: v.id, weight: v.weight, publicKey: fromHex(v.publicKey) }));
  }
  if (e[ENV.maxInflightItems] < e[ENV.maxBatchSize]) {
    throw new ConfigError(`invalid configuration: ${ENV.maxInflightItems}: must be >= ${ENV.maxBatchSize} (${e[ENV.maxBatchSize]}), or no full batch is ever admitted`);
  }
  let signer: SignerConfig | undefined;
  if (signingKey !== undefined) signer = signerConfig(e);
  else {
    for (const name of [ENV.signerTokenFile, ENV.signerStateFile, ENV.signerLease, ENV.signerPodName] as const) {
      if (e[name] !== undefined) throw new ConfigError(`invalid configuration: ${name} is set but no signing key is (${ENV.signingKeyFile} or ${ENV.signingKey})`);
    }
  }
  return Object.freeze({
    apiPort: e[ENV.apiPort],
    metricsPort: e[ENV.metricsPort],
    host: e[ENV.host],
    validatorId: e[ENV.validatorId],
    logLevel: e[ENV.logLevel],
    signingKey,
    batchVerify: e[ENV.batchVerify],
    useRust: e[ENV.useRust],
    verifyThreads: e[ENV.verifyThreads],
    batchMaxItems: e[ENV.batchMaxItems],
    batchMaxWaitMicros: e[ENV.batchMaxWaitMicros],
    replayWindowMs: e[ENV.replayWindowMs],
    maxClockSkewMs: e[ENV.maxClockSkewMs],
    replayCacheEntries: e[ENV.replayCacheEntries],
    fastFinalityBp: e[ENV.fastFinalityBp],
    economicFinalityBp: e[ENV.economicFinalityBp],
    validators,
    maxBatchSize: e[ENV.maxBatchSize],
    bodyLimitBytes: e[ENV.bodyLimitBytes],
    verifyCacheEntries: e[ENV.verifyCacheEntries],
    maxInflightItems: e[ENV.maxInflightItems],
    maxConnections: e[ENV.maxConnections],
    requestTimeoutMs: e[ENV.requestTimeoutMs],
    signer,
    stateRedisUrl: e[ENV.stateRedisUrl],
  });
}

type Env = z.infer<typeof EnvSchema>;

/** With a signing key: a token file and exactly one place for the high-water mark are required (no mark, no signing). */
function signerConfig(e: Env): SignerConfig {
  const tokenFile = e[ENV.signerTokenFile];
  if (tokenFile === undefined) {
    throw new ConfigError(`invalid configuration: ${ENV.signerTokenFile}: required with a signing key (callers of the signer authenticate with it)`);
  }
  let token: string;
  try {
    token = readFileSync(tokenFile, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${ENV.signerTokenFile}: cannot read ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  if (!/^[\x21-\x7e]+$/.test(token) || token.length < MIN_SIGNER_TOKEN_LENGTH) {
    throw new ConfigError(`invalid configuration: ${ENV.signerTokenFile}: the token must be at least ${MIN_SIGNER_TOKEN_LENGTH} printable ASCII characters without spaces`);
  }
  const file = e[ENV.signerStateFile];
  const lease = e[ENV.signerLease];
  if ((file === undefined) === (lease === undefined)) {
    throw new ConfigError(`invalid configuration: set exactly one of ${ENV.signerStateFile} (one signer process) and ${ENV.signerLease} (Lease election across replicas): the high-water mark must be persisted before any signature`);
  }
  let state: SignerStateConfig;
  if (file !== undefined) {
    if (e[ENV.signerPodName] !== undefined) {
      throw new ConfigError(`invalid configuration: ${ENV.signerPodName}: only with ${ENV.signerLease} (the pod label routes to the Lease holder; a state file has one signer)`);
    }
    state = { kind: "file", path: file };
  } else {
    let namespace = e[ENV.signerLeaseNamespace];
    if (namespace === undefined) {
      try {
        namespace = readFileSync(NAMESPACE_FILE, "utf8").trim();
      } catch {
        throw new ConfigError(`invalid configuration: ${ENV.signerLeaseNamespace}: required outside a pod (no ${NAMESPACE_FILE})`);
      }
    }
    state = {
      kind: "lease",
      name: lease as string,
      namespace,
      identity: e[ENV.signerIdentity] ?? hostname(),
      leaseSeconds: e[ENV.signerLeaseSeconds],
      podName: e[ENV.signerPodName],
      apiUrl: e[ENV.kubeApiUrl],
      caFile: e[ENV.kubeCaFile],
      tokenFile: e[ENV.kubeTokenFile],
    };
  }
  return { port: e[ENV.signerPort], token: new SecretText(token), state };
}
