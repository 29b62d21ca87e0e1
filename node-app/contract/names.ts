/**
 * The contract between the node service and the Pulumi program that deploys it.
 *
 * One definition, many uses: the node imports these names to serve and export them; the Pulumi program
 * (`components/`) imports the same package (`@bizra/contract`) to wire ports, probes, env vars, scrape configs,
 * alerts and dashboards. The package depends on nothing.
 */

/** Default ports. The metrics port is fixed by the design (9464); the API port is configurable per stack. */
export const DEFAULT_API_PORT = 8080;
export const DEFAULT_METRICS_PORT = 9464;
export const METRICS_PATH = "/metrics";
/** The signer listener: the only port that serves `ROUTES.attestationsSign`, behind a bearer token. */
export const DEFAULT_SIGNER_PORT = 8081;

/** HTTP routes of the node API. */
export const ROUTES = {
  healthz: "/healthz",
  readyz: "/readyz",
  attestationsSign: "/v1/attestations/sign",
  attestationsVerify: "/v1/attestations/verify",
  attestationsVerifyBatch: "/v1/attestations/verify-batch",
  votes: "/v1/consensus/votes",
  finality: "/v1/consensus/finality/:blockHash",
  head: "/v1/consensus/head",
} as const;

/** Routes served on the signer port only (never on the API port). */
export const SIGNER_ROUTES = [ROUTES.attestationsSign] as const;

/**
 * The label the active signer puts on its own pod (and removes when it stops being active); the signer Service
 * selects it, so sign requests reach the active signer only. Routing only: the Lease's compare-and-swap is what
 * rules out a double-sign.
 */
export const SIGNER_ROLE_LABEL = "bizra.io/signer-role";
export const SIGNER_ROLE_ACTIVE = "active";

/** Environment variables the node reads at start (validated there). */
export const ENV = {
  apiPort: "BIZRA_API_PORT",
  metricsPort: "BIZRA_METRICS_PORT",
  host: "BIZRA_HOST",
  signingKeyFile: "BIZRA_SIGNING_KEY_FILE",
  signingKey: "BIZRA_SIGNING_KEY",
  validatorId: "BIZRA_VALIDATOR_ID",
  logLevel: "BIZRA_LOG_LEVEL",
  batchVerify: "POI_BATCH_VERIFY",
  useRust: "BIZRA_USE_RUST",
  /** Signature worker threads (0 = verify on the main thread; default: the number of CPUs). */
  verifyThreads: "BIZRA_VERIFY_THREADS",
  /** A verification batch closes at this many items ... */
  batchMaxItems: "POI_BATCH_MAX_ITEMS",
  /** ... or this many microseconds after its first item. */
  batchMaxWaitMicros: "POI_BATCH_MAX_WAIT_US",
  replayWindowMs: "BIZRA_REPLAY_WINDOW_MS",
  fastFinalityBp: "BIZRA_FAST_FINALITY_BP",
  economicFinalityBp: "BIZRA_ECONOMIC_FINALITY_BP",
  maxClockSkewMs: "BIZRA_MAX_CLOCK_SKEW_MS",
  replayCacheEntries: "BIZRA_REPLAY_CACHE_ENTRIES",
  validatorSetFile: "BIZRA_VALIDATOR_SET_FILE",
  maxBatchSize: "BIZRA_MAX_BATCH_SIZE",
  bodyLimitBytes: "BIZRA_BODY_LIMIT_BYTES",
  verifyCacheEntries: "BIZRA_VERIFY_CACHE_ENTRIES",
  /** Attestations (items, not requests) admitted in flight at once, from body parsing to response; more are shed. */
  maxInflightItems: "BIZRA_MAX_INFLIGHT_ITEMS",
  /** Open client connections per listener; more are refused. */
  maxConnections: "BIZRA_MAX_CONNECTIONS",
  /** Whole-request deadline (headers and body) in ms; a slower client gets 408 and is closed. */
  requestTimeoutMs: "BIZRA_REQUEST_TIMEOUT_MS",
  /** Port of the signer listener (sign route only); started only where a signing key is loaded. */
  signerPort: "BIZRA_SIGNER_PORT",
  /** File holding the bearer token that signer callers present (a mounted Secret). */
  signerTokenFile: "BIZRA_SIGNER_TOKEN_FILE",
  /** High-water mark of the signer in a local file (one process; a PersistentVolume in a cluster). */
  signerStateFile: "BIZRA_SIGNER_STATE_FILE",
  /** Name of the Kubernetes Lease that elects the one active signer and holds its high-water mark. */
  signerLease: "BIZRA_SIGNER_LEASE",
  /** Namespace of that Lease; default: the pod's own (service-account namespace file). */
  signerLeaseNamespace: "BIZRA_SIGNER_LEASE_NAMESPACE",
  /** Lease duration in seconds: a dead signer's successor starts signing after at most this (plus one retry). */
  signerLeaseSeconds: "BIZRA_SIGNER_LEASE_SECONDS",
  /** This process's identity in the Lease; default: the host name (the pod name). */
  signerIdentity: "BIZRA_SIGNER_IDENTITY",
  /** This process's pod (Downward API `metadata.name`): labelled `SIGNER_ROLE_LABEL` while active; unset: no label. */
  signerPodName: "BIZRA_SIGNER_POD_NAME",
  /** Kubernetes API server URL; default: in-cluster (KUBERNETES_SERVICE_HOST/PORT). */
  kubeApiUrl: "BIZRA_KUBE_API_URL",
  /** CA bundle and bearer-token file for the API server; default: the pod's service-account files. */
  kubeCaFile: "BIZRA_KUBE_CA_FILE",
  kubeTokenFile: "BIZRA_KUBE_TOKEN_FILE",
  /** redis:// URL of the state shared by all replicas (replay window and vote log); unset: per-process state. */
  stateRedisUrl: "BIZRA_STATE_REDIS_URL",
  /** Port of the canary hold gate (`HOLD_GATE_COMMAND`); default `DEFAULT_HOLD_GATE_PORT`. */
  holdGatePort: "BIZRA_HOLD_GATE_PORT",
  /** Canaries the hold gate remembers (least recently called dropped first); default 1024. */
  holdGateMaxCanaries: "BIZRA_HOLD_GATE_MAX_CANARIES",
  /** Fault injection for drills: share of API requests (under /v1/) answered 500 `fault_injected`; default 0 (off). */
  faultErrorRate: "BIZRA_FAULT_ERROR_RATE",
} as const;

/** Prometheus metric names exported on `:9464/metrics`. Exact names from ARCHITECTURE.md. */
export const METRICS = {
  poiGenerateSeconds: "bizra_poi_generate_seconds",
  poiVerifySeconds: "bizra_poi_verify_seconds",
  poiVerifyTotal: "bizra_poi_verify_total",
  poiVerifyFailTotal: "bizra_poi_verify_fail_total",
  poiCacheHitsTotal: "bizra_poi_verify_cache_hits_total",
  poiCacheLookupsTotal: "bizra_poi_verify_cache_lookups_total",
  finalityCheckSeconds: "bizra_finality_check_seconds",
  finalityChecksTotal: "bizra_finality_checks_total",
  consensusVotesTotal: "bizra_consensus_votes_total",
  /** Slots left behind (the head moved on) without reaching the fast-finality quorum: driven by votes only. */
  consensusQuorumFailuresTotal: "bizra_consensus_quorum_failures_total",
  /** Highest slot with a supported block (-1 before any vote). */
  consensusHeadSlot: "bizra_consensus_head_slot",
  /** Highest slot whose best block reached fast finality (-1 before any). */
  consensusFinalizedSlot: "bizra_consensus_finalized_slot",
  /** State of the verification backend's circuit breaker: see `CIRCUIT_STATES`. */
  poiVerifierCircuitState: "bizra_poi_verifier_circuit_state",
  consensusEquivocationsTotal: "bizra_consensus_equivocations_total",
  consensusReplayRejectedTotal: "bizra_consensus_replay_rejected_total",
  /** Votes refused before tallying, by `reason`: bad_signature, unknown_validator, malformed. */
  consensusVoteRejectedTotal: "bizra_consensus_vote_rejected_total",
  httpRequestDurationSeconds: "bizra_http_request_duration_seconds",
  httpRequestsTotal: "bizra_http_requests_total",
  /** Requests shed by admission (items over the in-flight budget, or shutting down), by `reason`. */
  httpShedTotal: "bizra_http_shed_total",
  /** Sign requests refused, by `reason` (SIGN_REFUSE_REASONS): authentication and high-water-mark refusals alike. */
  poiSignRefusedTotal: "bizra_poi_sign_refused_total",
  /** 1 while this process is the active signer (holds the Lease, or owns the state file), else 0. */
  poiSignerActive: "bizra_poi_signer_active",
} as const;

/** Why the signer refused: no or malformed credential (401), wrong credential (403), high-water mark (409), other (503). */
export const SIGN_REFUSE_REASONS = [
  "unauthenticated",
  "forbidden",
  "double_sign",
  "slot_regression",
  "timestamp_out_of_range",
  "not_signer",
  "state_unavailable",
] as const;
export type SignRefuseReason = (typeof SIGN_REFUSE_REASONS)[number];
/** Values of `bizra_poi_verifier_circuit_state`: the index is the value. */
export const CIRCUIT_STATES = ["closed", "half_open", "open"] as const;

/** Label on `bizra_poi_verify_fail_total`. */
export const FAIL_REASON_LABEL = "reason";

/** Reason codes for every rejected attestation (also the values of the `reason` label). */
export const REJECT_REASONS = [
  "bad_signature",
  "malformed",
  "replayed",
  "stale",
  "unknown_validator",
  "unsupported_version",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Histogram buckets in seconds; they resolve the SLO bounds (200 µs, 400 µs, 1 ms) exactly. */
export const LATENCY_BUCKETS_SECONDS = [
  0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.0002, 0.0004, 0.0006, 0.0008, 0.001, 0.0015, 0.0025, 0.005,
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
] as const;

/** The CLI that verifies a signed evidence bundle (used by the PoI attestation validator Job). */
export const EVIDENCE_VERIFY_COMMAND = ["node", "dist/cli/evidence-verify.js"] as const;

/** The canary hold gate (Flagger webhooks, docs/canary.md): port, route and the command that runs it from the node image. */
export const DEFAULT_HOLD_GATE_PORT = 8090;
export const HOLD_GATE_ROUTE = "/gate";
export const HOLD_GATE_COMMAND = ["node", "dist/cli/hold-gate.js"] as const;

/**
 * Annotation of the `<appName>-slo` ConfigMap carrying `bizra:postDeployReport` (`{"stack":…,"maxAgeHours":…}`) to
 * the quality-gates pack, which then requires a fresh GO report of `npm run validate` from that stack.
 */
export const POST_DEPLOY_REPORT_ANNOTATION = "bizra.io/require-post-deploy-report";

/** The canary traffic CLI (node-app/src/canary/traffic.ts) the Flagger load tester runs from an image with the node's dist/. */
export const TRAFFIC_COMMAND = ["node", "dist/cli/traffic.js"] as const;
