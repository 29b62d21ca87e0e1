/** Stack settings the cluster tests deploy the testnet stack with, beside the committed file (one definition each). */

/** Every alert's `for` on a test deployment: long enough to be a real pending period, short enough for a test. */
export const DRILL_ALERT_FOR = "15s";

/**
 * Latency bounds for a shared 2-core test machine (the committed table's are for a production node): with them the
 * latency SLOs and the canary's latency check are judged, and pass, whatever else runs on the machine. Signing
 * includes the write of the signer's high-water mark to its Lease through the API server (docs/signing.md), hence
 * the generation bound.
 */
export const TEST_MACHINE_LATENCY_SLOS = { finalityCheckP99: 0.25, poiGenerateP99: 0.5, poiVerifyP99: 0.25, apiP99Latency: 0.5 };
