/**
 * A synthetic evidence bundle for quality-gates tests: artifacts in the real schema with numbers chosen per test,
 * written to a temp dir and signed with a temp key by the real signer. Real evidence/ is never touched.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Artifact, ARTIFACT_SCHEMA, type EvidenceKey, loadEvidenceKey, signEvidence, writeArtifact } from "@bizra/evidence";

export const FIXTURE_COMMIT = "1".repeat(40);
/** An hour ago: inside the default maxAgeHours (the policies judge age against the real clock). */
export const FIXTURE_TIME = new Date(Math.floor(Date.now() / 1000) * 1000 - 60 * 60 * 1000);

const latency = (p99: number) => ({ samples: 1000, minSeconds: p99 / 4, meanSeconds: p99 / 2, p50Seconds: p99 / 2, p95Seconds: p99 * 0.8, p99Seconds: p99, maxSeconds: p99 * 2 });

export interface FixtureNumbers {
  poiGenerateP99: number;
  poiVerifyP99: number;
  poiVerifyThroughput: number;
  successRate: number;
  finalityP99: number;
  apiP99: number;
  errorRate: number;
  cacheHitRate: number;
  agreed: boolean;
}

/** Numbers that pass the default SLO table. */
export const PASSING: FixtureNumbers = {
  poiGenerateP99: 0.00015,
  poiVerifyP99: 0.0003,
  poiVerifyThroughput: 150_000,
  successRate: 1,
  finalityP99: 0.00001,
  apiP99: 0.001,
  errorRate: 0,
  cacheHitRate: 0.95,
  agreed: true,
};

function artifact(kind: string, gates: Artifact["gates"], results: Record<string, unknown>, commit: string): Artifact {
  return {
    schema: ARTIFACT_SCHEMA,
    kind,
    title: `fixture ${kind}`,
    method: "synthetic fixture for policy tests",
    createdAt: FIXTURE_TIME.toISOString(),
    durationSeconds: 0.1,
    machine: { cores: 2, cpuModel: "fixture", node: "v20.0.0", platform: "linux", arch: "x64", totalMemoryBytes: 1 },
    git: { commit, dirty: false },
    gates,
    results,
  };
}

export function fixtureArtifacts(n: FixtureNumbers = PASSING, commit = FIXTURE_COMMIT): Record<string, Artifact> {
  const g = (gate: string, slo: string, field: string, kind: "threshold" | "proof" = "threshold") => ({ gate, slo, field, kind });
  return {
    "poi.json": artifact("poi", [
      g("poi-generate-p99", "poiGenerateP99", "results.generate.p99Seconds"),
      g("poi-verify-p99", "poiVerifyP99", "results.verify.p99Seconds"),
    ], {
      generate: { ...latency(n.poiGenerateP99), throughputPerSecond: 5000, wallSeconds: 0.2 },
      verify: { ...latency(n.poiVerifyP99), throughputPerSecond: n.poiVerifyThroughput, wallSeconds: 0.2, ok: 1000 },
      backend: "noble-zip215",
    }, commit),
    "perf-bench.json": artifact("perf-bench", [g("poi-verify-throughput", "poiVerifyThroughput", "results.best2Threads.medianPerSecond")], {
      throughput: [{ label: "bizra pool, batching", threads: 2, batching: true, medianPerSecond: n.poiVerifyThroughput }],
      best2Threads: { label: "bizra pool, batching", medianPerSecond: n.poiVerifyThroughput, ratioToSodium2Threads: 4 },
    }, commit),
    "finality.json": artifact("finality", [g("finality-check-p99", "finalityCheckP99", "results.p99Seconds")], { ...latency(n.finalityP99), validators: 10, votes: 100, blocks: 20 }, commit),
    "verify-success.json": artifact("verify-success", [g("poi-verify-success-rate", "poiVerifySuccessRate", "results.successRate")], {
      attempted: 1000, verified: Math.round(1000 * n.successRate), failed: {}, successRate: n.successRate, validators: 4, batchSize: 64,
    }, commit),
    "wq-determinism.json": artifact("wq-determinism", [g("wq-determinism", "fastFinalityBp", "results.agreed", "proof")], {
      agreed: n.agreed, instances: 3, validators: 4, votes: 40, seed: 1, thresholds: { fastFinalityBp: 6700, economicFinalityBp: 8000 },
      head: null, headsByInstance: [null, null, null], equivocations: 0, finalizedBlocks: 10,
    }, commit),
    "http-load.json": artifact("http-load", [
      g("api-p99-latency", "apiP99Latency", "results.latency.p99Seconds"),
      g("api-error-rate", "apiErrorRate", "results.errorRate"),
      g("cache-hit-rate", "cacheHitRate", "results.cacheHitRate"),
    ], {
      route: "/v1/attestations/verify", requests: 1000, uniqueAttestations: 50, repeatRatio: 0.95, concurrency: 4, wallSeconds: 1,
      requestsPerSecond: 1000, latency: latency(n.apiP99), status: { "200": 1000 }, errors: Math.round(1000 * n.errorRate), errorRate: n.errorRate,
      outcomes: { valid: 50, replayed: 950 }, cacheLookups: 1000, cacheHits: Math.round(1000 * n.cacheHitRate), cacheHitRate: n.cacheHitRate,
    }, commit),
  };
}

export interface Fixture {
  readonly dir: string;
  readonly key: EvidenceKey;
  /** Policy config that trusts the fixture key, requires the fixture commit, and evaluates at `now`. */
  readonly config: { evidenceDir: string; trustedPublicKeys: string[]; maxAgeHours: number; requireCommit: string; postDeployDir: string };
  readonly now: Date;
}

const tempDirs: string[] = [];

export function tempDir(prefix = "bizra-evidence-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Writes and signs a bundle; `numbers`, `commit`, `createdAt` and `key` vary per test. */
export function writeFixture(opts: { numbers?: FixtureNumbers; commit?: string; createdAt?: Date; key?: EvidenceKey; artifacts?: Record<string, Artifact> } = {}): Fixture {
  const dir = tempDir();
  const key = opts.key ?? loadEvidenceKey({ file: path.join(tempDir("bizra-key-"), "ed25519.seed") });
  const commit = opts.commit ?? FIXTURE_COMMIT;
  for (const [file, a] of Object.entries(opts.artifacts ?? fixtureArtifacts(opts.numbers, commit))) writeArtifact(dir, file, a);
  const createdAt = opts.createdAt ?? FIXTURE_TIME;
  signEvidence(dir, { key, git: { commit, dirty: false }, createdAt });
  return {
    dir,
    key,
    config: { evidenceDir: dir, trustedPublicKeys: [key.publicKeyHex], maxAgeHours: 24, requireCommit: FIXTURE_COMMIT, postDeployDir: path.join(dir, "post-deploy") },
    now: new Date(FIXTURE_TIME.getTime() + 60 * 60 * 1000),
  };
}
