/**
 * Entry point: `node dist/main.js`. Starts the API listener and the metrics listener (separate port), logs JSON
 * with pino, and on SIGTERM/SIGINT stops accepting, drains in-flight requests and exits 0.
 */
import Fastify, { type FastifyInstance } from "fastify";
import pino, { type Logger } from "pino";
import { ConfigError, loadConfig, type NodeConfig } from "./config";
import { METRICS_PATH } from "@bizra/contract";
import { ValidatorSet } from "./consensus/validator-set";
import { VoteTally } from "./consensus/vote-tally";
import { NodeMetrics } from "./metrics";
import { fromHex } from "./poi/bytes";
import { ReplayWindow } from "./poi/replay";
import { nobleVerifier, publicKeyOf, signMessage, type SignatureVerifier } from "./poi/signature";
import { AttestationVerifier, jsDigests, type DigestBatch, type SignatureCache } from "./poi/verify";
import { createSignatureBackend, loadNativeVerifier, nativeDigests, type FastBackend, type NativeAddon } from "./poi/fast";
import { faultErrorRateFromEnv, installFaultInjection } from "./fault-injection";
import { Admission, buildApi, buildSignerApi, type Readiness } from "./server/app";
import { CircuitBreaker } from "./server/circuit-breaker";
import { LruCache } from "./server/lru-cache";
import { registerStateMetrics } from "./state-metrics";
import { Redis } from "ioredis";
import { bytesEqual, toHex } from "./poi/bytes";
import { FileStateStore } from "./signer/file-store";
import type { SignerStateStore } from "./signer/high-water-mark";
import { kubeAccess } from "./signer/kube";
import { LeaseStateStore } from "./signer/lease-store";
import { Signer } from "./signer/signer";
import { RedisReplayGuard } from "./state/replay-redis";
import { LocalTally, SharedTally, type Tally } from "./state/tally";

/** Key prefix of the shared state in Redis (one Redis per validator network). */
export const STATE_KEY_PREFIX = "bizra:";

export interface StartOptions {
  readonly config: NodeConfig;
  /** A pino logger; `false` for silence (tests). Default: JSON to stdout at config.logLevel. */
  readonly logger?: Logger | false;
  /** Signature backend (default: noble, ZIP-215). The native addon or a worker pool plugs in here. */
  readonly backend?: SignatureVerifier;
  readonly now?: () => number;
  /** Share of `/v1/` requests answered 500 (fault injection, `BIZRA_FAULT_ERROR_RATE`); default 0. */
  readonly faultErrorRate?: number;
}

export interface RunningNode {
  readonly apiPort: number;
  readonly metricsPort: number;
  /** The signer listener's port, when a signing key is loaded. */
  readonly signerPort: number | undefined;
  readonly host: string;
  readonly api: FastifyInstance;
  readonly metrics: NodeMetrics;
  /** Stops accepting, waits for in-flight requests, closes both listeners. Idempotent. */
  close(): Promise<void>;
}

/**
 * BLAKE3 of attestation encodings for verifying and signing: the native addon's (one call per batch) when it is
 * loaded, else @noble/hashes; the same bytes either way. `native`: the addon already loaded (null: none), or whether
 * to load it (`BIZRA_USE_RUST`).
 */
export function attestationDigests(native: NativeAddon | null | boolean = true): DigestBatch {
  const addon = typeof native === "boolean" ? loadNativeVerifier(native) : native;
  return addon === null ? jsDigests : nativeDigests(addon);
}

/** Known-answer self-test of a backend: RFC 8032 TEST 1 must verify, and fail with one bit flipped. */
export async function selfTestBackend(backend: SignatureVerifier): Promise<boolean> {
  try {
    const seed = fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    const publicKey = publicKeyOf(seed);
    const message = new Uint8Array(0);
    const signature = signMessage(seed, message);
    const flipped = Uint8Array.from(signature);
    flipped[0] = (flipped[0] as number) ^ 1;
    const out = await backend.verifyMany([
      { publicKey, message, signature },
      { publicKey, message, signature: flipped },
    ]);
    return out.length === 2 && out[0] === true && out[1] === false;
  } catch {
    return false;
  }
}

function metricsCache(capacity: number, metrics: NodeMetrics): SignatureCache {
  const lru = new LruCache<string, boolean>(capacity);
  return {
    get(key) {
      metrics.poiCacheLookupsTotal.inc();
      const v = lru.get(key);
      if (v !== undefined) metrics.poiCacheHitsTotal.inc();
      return v;
    },
    set: (key, valid) => lru.set(key, valid),
  };
}

export async function startNode(options: StartOptions): Promise<RunningNode> {
  const { config } = options;
  const logger =
    options.logger === false
      ? undefined
      : (options.logger ?? pino({ level: config.logLevel, base: { service: "bizra-node", validatorId: config.validatorId } }));
  const now = options.now ?? Date.now;
  const metrics = new NodeMetrics();
  // The fast path (native addon in worker threads, batched) unless a backend is injected; noble when the addon is
  // absent or BIZRA_USE_RUST=false.
  const fast: FastBackend | undefined =
    options.backend === undefined
      ? createSignatureBackend({
          useRust: config.useRust,
          batchVerify: config.batchVerify,
          ...(config.verifyThreads !== undefined ? { threads: config.verifyThreads } : {}),
          maxBatchItems: config.batchMaxItems,
          maxBatchWaitMicros: config.batchMaxWaitMicros,
        })
      : undefined;
  await fast?.ready;
  const backend = options.backend ?? fast?.backend ?? nobleVerifier;
  // The core (poi/verify.ts) knows no addon: the digest function is chosen here, with the backend.
  const digests = attestationDigests(fast !== undefined ? fast.native : config.useRust);

  const self = config.signingKey;
  // The validator set: from the file (every replica of one validator reads the same set and shares one id); without
  // a file, a set of this node alone (development).
  const entries = config.validators.length > 0 ? [...config.validators] : self !== undefined ? [{ id: config.validatorId, weight: 1, publicKey: self.publicKey }] : [];
  const identityProblem = identityCheck(config, entries);
  if (identityProblem !== undefined) logger?.error({ validatorId: config.validatorId }, identityProblem);
  const keys = new Map(entries.map((v) => [v.id, v.publicKey]));
  const local = new VoteTally(
    new ValidatorSet(entries.length > 0 ? entries : [{ id: config.validatorId, weight: 1 }]),
    { fastFinalityBp: config.fastFinalityBp, economicFinalityBp: config.economicFinalityBp },
  );
  let redis: Redis | undefined;
  if (config.stateRedisUrl !== undefined) {
    redis = new Redis(config.stateRedisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000, enableOfflineQueue: true });
    redis.on("error", (err: Error) => logger?.warn({ err: err.message }, "shared state (redis) error"));
    await redis.ping();
  }
  const tally: Tally = redis !== undefined ? new SharedTally(local, redis, `${STATE_KEY_PREFIX}votes`) : new LocalTally(local);
  const perValidator = Math.max(1, Math.floor(config.replayCacheEntries / Math.max(1, entries.length)));
  const replay =
    redis !== undefined
      ? new RedisReplayGuard(redis, { windowMs: config.replayWindowMs, maxClockSkewMs: config.maxClockSkewMs, maxEntriesPerValidator: perValidator, prefix: `${STATE_KEY_PREFIX}replay:` })
      : new ReplayWindow({ windowMs: config.replayWindowMs, maxClockSkewMs: config.maxClockSkewMs, maxEntries: config.replayCacheEntries, maxEntriesPerValidator: perValidator });
  const verifier = new AttestationVerifier({
    publicKeyOf: (id) => keys.get(id),
    replay,
    backend,
    cache: metricsCache(config.verifyCacheEntries, metrics),
    digests,
    now,
  });
  // Admission (items in flight) bounds the work; the breaker only needs to count calls and failures.
  const breaker = new CircuitBreaker({ maxConcurrent: config.maxInflightItems, now });
  const backendOk = await selfTestBackend(backend);
  if (fast?.fallbackReason !== undefined) logger?.warn({ backend: backend.name }, `native verifier not in use: ${fast.fallbackReason}`);

  let store: SignerStateStore | undefined;
  let signer: Signer | undefined;
  if (config.signer !== undefined && self !== undefined && identityProblem === undefined) {
    const st = config.signer.state;
    store =
      st.kind === "file"
        ? new FileStateStore(st.path)
        : new LeaseStateStore({
            access: kubeAccess({ server: st.apiUrl, caFile: st.caFile, tokenFile: st.tokenFile }),
            namespace: st.namespace,
            name: st.name,
            identity: st.identity,
            leaseSeconds: st.leaseSeconds,
            pod: st.podName,
            onActiveChange: (active, holder) => {
              metrics.poiSignerActive.set(active ? 1 : 0);
              logger?.info({ active, holder, lease: st.name }, active ? "became the active signer" : "not the active signer");
            },
            onError: (err) => logger?.warn({ err: err.message, lease: st.name }, "signer lease error"),
          });
    await store.start();
    if (store.kind === "file") metrics.poiSignerActive.set(1);
    signer = new Signer({ validatorId: config.validatorId, seed: () => self.reveal(), store, maxClockSkewMs: config.maxClockSkewMs, digests, now });
  }

  const limits = { requestTimeoutMs: config.requestTimeoutMs, maxConnections: config.maxConnections };
  const listenerDeps = { metrics, bodyLimitBytes: config.bodyLimitBytes, limits, ...(logger ? { logger } : {}) };
  const api = buildApi({
    ...listenerDeps,
    admission: new Admission(config.maxInflightItems),
    verifier,
    tally,
    breaker,
    batchVerify: config.batchVerify,
    maxBatchSize: config.maxBatchSize,
    ready: (): Readiness => {
      const checks = {
        identityMatchesSet: identityProblem === undefined,
        verifierSelfTest: backendOk,
        circuitClosed: breaker.state !== "open",
        ...(redis !== undefined ? { sharedStateConnected: redis.status === "ready" } : {}),
      };
      const reasons: string[] = [];
      if (identityProblem !== undefined) reasons.push(identityProblem);
      if (!backendOk) reasons.push(`signature backend ${backend.name} failed its known-answer self-test`);
      if (!checks.circuitClosed) reasons.push("the verification circuit is open after repeated backend failures");
      if (redis !== undefined && redis.status !== "ready") reasons.push(`shared state (redis) is ${redis.status}`);
      return { ready: reasons.length === 0, checks, reasons };
    },
  });
  const signerApi =
    signer !== undefined && config.signer !== undefined
      ? buildSignerApi({ ...listenerDeps, admission: new Admission(config.maxInflightItems), signer, token: config.signer.token.reveal() })
      : undefined;

  registerStateMetrics(metrics, { tally: local, breaker });
  installFaultInjection(api, options.faultErrorRate ?? 0);
  if ((options.faultErrorRate ?? 0) > 0) logger?.warn({ faultErrorRate: options.faultErrorRate }, "fault injection is ON");

  const metricsApp = Fastify({ logger: false, return503OnClosing: true });
  metricsApp.get(METRICS_PATH, async (_request, reply) =>
    reply.header("content-type", metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  const closeAll = async () => {
    await api.close(); // stops accepting, drains in-flight requests
    await signerApi?.close();
    await store?.close(); // releases the Lease so a successor need not wait it out
    await metricsApp.close();
    redis?.disconnect();
    await fast?.close();
  };
  try {
    await api.listen({ port: config.apiPort, host: config.host });
    await signerApi?.listen({ port: config.signer?.port ?? 0, host: config.host });
    await metricsApp.listen({ port: config.metricsPort, host: config.host });
  } catch (err) {
    await closeAll().catch(() => undefined);
    throw err;
  }
  const portOf = (app: FastifyInstance): number => {
    const addr = app.server.address();
    return typeof addr === "object" && addr !== null ? addr.port : 0;
  };
  const apiPort = portOf(api);
  const metricsPort = portOf(metricsApp);
  const signerPort = signerApi !== undefined ? portOf(signerApi) : undefined;
  logger?.info(
    { apiPort, metricsPort, signerPort, signerState: store?.kind, sharedState: redis !== undefined, host: config.host, backend: backend.name, ready: identityProblem === undefined && backendOk },
    "node started",
  );

  let closing: Promise<void> | undefined;
  return {
    apiPort,
    metricsPort,
    signerPort,
    host: config.host,
    api,
    metrics,
    close() {
      closing ??= (async () => {
        await closeAll();
        logger?.info("node stopped");
      })();
      return closing;
    },
  };
}

/** Why this node's identity does not fit the validator set, or undefined when it does (or no key is loaded). */
function identityCheck(config: NodeConfig, entries: readonly { id: string; publicKey: Uint8Array }[]): string | undefined {
  const self = config.signingKey;
  if (self === undefined) return undefined; // a verifier-only replica has no identity to check
  const entry = entries.find((v) => v.id === config.validatorId);
  if (entry === undefined) return `validator ${config.validatorId} is not in the validator set (${entries.map((v) => v.id).join(", ")})`;
  if (!bytesEqual(entry.publicKey, self.publicKey)) {
    return `the signing key's public key ${toHex(self.publicKey).slice(0, 16)}… is not the key of ${config.validatorId} in the validator set (${toHex(entry.publicKey).slice(0, 16)}…)`;
  }
  return undefined;
}

async function main(): Promise<void> {
  let config: NodeConfig;
  let faultErrorRate: number;
  try {
    config = loadConfig(process.env);
    faultErrorRate = faultErrorRateFromEnv(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const node = await startNode({ config, faultErrorRate });
  const shutdown = (signal: string) => {
    process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), msg: "shutting down", signal })}\n`);
    node.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`fatal: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
