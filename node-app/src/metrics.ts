/** Prometheus metrics of one node instance, in their own registry, served on the metrics port. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { VOTE_REJECT_REASONS } from "./consensus/vote-encoding";
import { FAIL_REASON_LABEL, LATENCY_BUCKETS_SECONDS, METRICS, REJECT_REASONS, SIGN_REFUSE_REASONS } from "@bizra/contract";

export class NodeMetrics {
  readonly registry = new Registry();
  readonly poiGenerateSeconds: Histogram;
  readonly poiVerifySeconds: Histogram;
  readonly poiVerifyTotal: Counter;
  readonly poiVerifyFailTotal: Counter<typeof FAIL_REASON_LABEL>;
  readonly poiCacheHitsTotal: Counter;
  readonly poiCacheLookupsTotal: Counter;
  readonly finalityCheckSeconds: Histogram;
  readonly finalityChecksTotal: Counter;
  readonly consensusVotesTotal: Counter<"outcome">;
  readonly consensusEquivocationsTotal: Counter;
  readonly consensusReplayRejectedTotal: Counter;
  readonly consensusVoteRejectedTotal: Counter<typeof FAIL_REASON_LABEL>;
  readonly httpRequestDurationSeconds: Histogram<"route" | "method" | "status_code">;
  readonly httpRequestsTotal: Counter<"route" | "method" | "status_code">;
  readonly httpShedTotal: Counter<"reason">;
  readonly poiSignRefusedTotal: Counter<typeof FAIL_REASON_LABEL>;
  readonly poiSignerActive: Gauge;

  constructor() {
    const registers = [this.registry];
    const buckets = [...LATENCY_BUCKETS_SECONDS];
    collectDefaultMetrics({ register: this.registry });
    this.poiGenerateSeconds = new Histogram({ name: METRICS.poiGenerateSeconds, help: "Time to encode and sign one PoI attestation", buckets, registers });
    this.poiVerifySeconds = new Histogram({ name: METRICS.poiVerifySeconds, help: "Time to verify one PoI attestation (batch time divided by batch size)", buckets, registers });
    this.poiVerifyTotal = new Counter({ name: METRICS.poiVerifyTotal, help: "PoI attestations verified successfully", registers });
    this.poiVerifyFailTotal = new Counter({ name: METRICS.poiVerifyFailTotal, help: "PoI attestations rejected, by reason", labelNames: [FAIL_REASON_LABEL], registers });
    for (const reason of REJECT_REASONS) this.poiVerifyFailTotal.inc({ [FAIL_REASON_LABEL]: reason }, 0);
    this.poiCacheHitsTotal = new Counter({ name: METRICS.poiCacheHitsTotal, help: "Verification cache hits", registers });
    this.poiCacheLookupsTotal = new Counter({ name: METRICS.poiCacheLookupsTotal, help: "Verification cache lookups", registers });
    this.finalityCheckSeconds = new Histogram({ name: METRICS.finalityCheckSeconds, help: "Time to evaluate finality of one block", buckets, registers });
    this.finalityChecksTotal = new Counter({ name: METRICS.finalityChecksTotal, help: "Finality evaluations", registers });
    this.consensusVotesTotal = new Counter({ name: METRICS.consensusVotesTotal, help: "Votes received, by outcome", labelNames: ["outcome"], registers });
    this.consensusEquivocationsTotal = new Counter({ name: METRICS.consensusEquivocationsTotal, help: "Equivocating votes rejected", registers });
    this.consensusReplayRejectedTotal = new Counter({ name: METRICS.consensusReplayRejectedTotal, help: "Attestations rejected as replayed", registers });
    this.consensusVoteRejectedTotal = new Counter({ name: METRICS.consensusVoteRejectedTotal, help: "Votes refused before tallying, by reason", labelNames: [FAIL_REASON_LABEL], registers });
    for (const reason of VOTE_REJECT_REASONS) this.consensusVoteRejectedTotal.inc({ [FAIL_REASON_LABEL]: reason }, 0);
    this.httpRequestDurationSeconds = new Histogram({ name: METRICS.httpRequestDurationSeconds, help: "HTTP request duration", labelNames: ["route", "method", "status_code"], buckets, registers });
    this.httpRequestsTotal = new Counter({ name: METRICS.httpRequestsTotal, help: "HTTP requests", labelNames: ["route", "method", "status_code"], registers });
    this.httpShedTotal = new Counter({ name: METRICS.httpShedTotal, help: "Requests shed before their route ran, by reason (overloaded, shutting_down)", labelNames: ["reason"], registers });
    for (const reason of ["overloaded", "shutting_down"]) this.httpShedTotal.inc({ reason }, 0);
    this.poiSignRefusedTotal = new Counter({ name: METRICS.poiSignRefusedTotal, help: "Sign requests refused, by reason", labelNames: [FAIL_REASON_LABEL], registers });
    for (const reason of SIGN_REFUSE_REASONS) this.poiSignRefusedTotal.inc({ [FAIL_REASON_LABEL]: reason }, 0);
    this.poiSignerActive = new Gauge({ name: METRICS.poiSignerActive, help: "1 while this process is the active signer", registers });
  }
}
