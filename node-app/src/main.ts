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
import { AttestationVerifier, type SignatureCache } from "./poi/verify";
import { createSignatureBackend, type FastBackend } from "./poi/fast";
import { buildApi } from "./server/app";
import { CircuitBreaker } from "./server/circuit-breaker";
import { LruCache } from "./server/lru-cache";

export interface StartOptions {
  readonly config: NodeConfig;
  /** A pino logger; `false` for silence (tests). Default: JSON to stdout at config.logLevel. */
  readonly logger?: Logger | false;
  /** Signature backend (default: noble, ZIP-215). The native addon or a worker pool plugs in here. */
  readonly backend?: SignatureVerifier;
  readonly now?: () => number;
}

export interface RunningNode {
  readonly apiPort: number;
  readonly metricsPort: number;
  readonly host: string;
  readonly api: FastifyInstance;
  readonly metrics: NodeMetrics;
  /** Stops accepting, waits for in-flight requests, closes both listeners. Idempotent. */
  close(): Promise<void>;
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

  const self = config.signingKey;
  const entries = [...config.validators];
  if (self !== undefined && !entries.some((v) => v.id === config.validatorId)) {
    entries.push({ id: config.validatorId, weight: 1, publicKey: self.publicKey });
  }
  const keys = new Map(entries.map((v) => [v.id, v.publicKey]));
  const tally = new VoteTally(
    new ValidatorSet(entries.length > 0 ? entries : [{ id: config.validatorId, weight: 1 }]),
    { fastFinalityBp: config.fastFinalityBp, economicFinalityBp: config.economicFinalityBp },
  );
  const verifier = new AttestationVerifier({
    publicKeyOf: (id) => keys.get(id),
    replay: new ReplayWindow({ windowMs: config.replayWindowMs, maxClockSkewMs: config.maxClockSkewMs, maxEntries: config.replayCacheEntries }),
    backend,
    cache: metricsCache(config.verifyCacheEntries, metrics),
    now,
  });
  const breaker = new CircuitBreaker({ maxConcurrent: config.maxConcurrentVerifications, now });
  const backendOk = await selfTestBackend(backend);
  if (fast?.fallbackReason !== undefined) logger?.warn({ backend: backend.name }, `native verifier not in use: ${fast.fallbackReason}`);

  const api = buildApi({
    validatorId: config.validatorId,
    signingSeed: () => self?.reveal(),
    verifier,
    tally,
    breaker,
    metrics,
    batchVerify: config.batchVerify,
    maxBatchSize: config.maxBatchSize,
    bodyLimitBytes: config.bodyLimitBytes,
    ready: () => {
      const checks = { signingKeyLoaded: self !== undefined, verifierSelfTest: backendOk, circuitClosed: breaker.state !== "open" };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
    ...(logger ? { logger } : {}),
    now,
  });

  const metricsApp = Fastify({ logger: false, return503OnClosing: true });
  metricsApp.get(METRICS_PATH, async (_request, reply) =>
    reply.header("content-type", metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  await api.listen({ port: config.apiPort, host: config.host });
  try {
    await metricsApp.listen({ port: config.metricsPort, host: config.host });
  } catch (err) {
    await api.close();
    throw err;
  }
  const portOf = (app: FastifyInstance): number => {
    const addr = app.server.address();
    return typeof addr === "object" && addr !== null ? addr.port : 0;
  };
  const apiPort = portOf(api);
  const metricsPort = portOf(metricsApp);
  logger?.info({ apiPort, metricsPort, host: config.host, backend: backend.name, ready: self !== undefined && backendOk }, "node started");

  let closing: Promise<void> | undefined;
  return {
    apiPort,
    metricsPort,
    host: config.host,
    api,
    metrics,
    close() {
      closing ??= (async () => {
        await api.close(); // stops accepting, drains in-flight requests
        await metricsApp.close();
        await fast?.close();
        logger?.info("node stopped");
      })();
      return closing;
    },
  };
}

async function main(): Promise<void> {
  let config: NodeConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const node = await startNode({ config });
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
