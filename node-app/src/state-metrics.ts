/**
 * Metrics read from the node's state at scrape time (prom-client `collect`): finality progress (head, finalized
 * slot, slots left without quorum) and the verifier's circuit breaker. Nothing here is driven by client queries.
 */
import { Counter, Gauge } from "prom-client";
import { CIRCUIT_STATES, METRICS } from "@bizra/contract";
import { FinalityProgress } from "./consensus/progress";
import type { VoteTally } from "./consensus/vote-tally";
import type { NodeMetrics } from "./metrics";
import type { BreakerState } from "./server/circuit-breaker";

export interface StateSources {
  readonly tally: VoteTally;
  readonly breaker: { readonly state: BreakerState };
}

/** Registers the state metrics in `metrics.registry`. */
export function registerStateMetrics(metrics: NodeMetrics, sources: StateSources): void {
  const registers = [metrics.registry];
  const progress = new FinalityProgress(sources.tally);
  let counted = 0;
  // observe() is incremental (a slot is judged once), so each series may call it
  new Gauge({
    name: METRICS.consensusHeadSlot,
    help: "Highest slot with a supported block (-1 before any vote)",
    registers,
    collect() {
      this.set(progress.observe().headSlot);
    },
  });
  new Gauge({
    name: METRICS.consensusFinalizedSlot,
    help: "Highest slot whose best block reached fast finality (-1 before any)",
    registers,
    collect() {
      this.set(progress.observe().finalizedSlot);
    },
  });
  new Counter({
    name: METRICS.consensusQuorumFailuresTotal,
    help: "Slots the head moved past without reaching the fast-finality quorum",
    registers,
    collect() {
      const { slotsWithoutQuorum } = progress.observe();
      this.inc(slotsWithoutQuorum - counted);
      counted = slotsWithoutQuorum;
    },
  });
  new Gauge({
    name: METRICS.poiVerifierCircuitState,
    help: `Circuit breaker of the verification backend: ${CIRCUIT_STATES.map((s, i) => `${i} ${s}`).join(", ")}`,
    registers,
    collect() {
      this.set(CIRCUIT_STATES.indexOf(sources.breaker.state));
    },
  });
}
