/**
 * Node configuration from environment variables, validated once at start.
 * The signing key comes from a file (a mounted Secret) or an env var; it is never logged or serialized.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { BP_DENOMINATOR, DEFAULT_API_PORT, DEFAULT_ECONOMIC_FINALITY_BP, DEFAULT_FAST_FINALITY_BP, DEFAULT_METRICS_PORT, ENV } from "@bizra/contract";
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
  readonly maxConcurrentVerifications: number;
}

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
  [ENV.maxConcurrentVerifications]: int(1, 100_000, 64),
});

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
    maxConcurrentVerifications: e[ENV.maxConcurrentVerifications],
  });
}
