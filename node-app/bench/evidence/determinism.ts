/** The WQ determinism proof: one vote log, independent tallies fed in shuffled orders, one head. */
import { proveDeterminism } from "../../src/consensus/determinism";
import { DEFAULT_THRESHOLDS } from "../../src/consensus/quorum";
import type { Vote } from "../../src/consensus/vote-tally";
import { blockHash } from "./finality";
import type { Measured } from "./common";

export function measureDeterminism(instances = 5, validatorCount = 7, slots = 60, seed = 20_240_601): Measured {
  const validators = Array.from({ length: validatorCount }, (_, i) => ({ id: `wq-${i}`, weight: [5, 3, 3, 2, 2, 1, 1][i % 7] as number }));
  const log: Vote[] = [];
  for (let slot = 0; slot < slots; slot++) {
    validators.forEach((v, i) => {
      // honest majority on block A; two validators split to a fork every 3rd slot; one equivocates every 10th slot
      const onFork = slot % 3 === 0 && i >= validatorCount - 2;
      log.push({ validatorId: v.id, slot, blockHash: blockHash(1000 + slot * 3 + (onFork ? 1 : 0)) });
      if (slot % 10 === 0 && i === 1) log.push({ validatorId: v.id, slot, blockHash: blockHash(1000 + slot * 3 + 2) });
      if (slot % 4 === 0) log.push({ validatorId: v.id, slot, blockHash: blockHash(1000 + slot * 3 + (onFork ? 1 : 0)) }); // duplicate delivery
    });
  }
  const proof = proveDeterminism(validators, log, { instances, seed, thresholds: DEFAULT_THRESHOLDS });
  const first = proof.instances[0]!;
  return {
    kind: "wq-determinism",
    title: "Weighted-quorum determinism proof",
    method:
      `One vote log of ${log.length} votes by ${validatorCount} weighted validators over ${slots} slots (forks, duplicate deliveries, and ` +
      `equivocations included) replayed into ${instances} independent VoteTally instances: instance 0 in log order, the others in ` +
      `Fisher-Yates orders from seed ${seed} (proveDeterminism). Agreed = every instance reports the same head, per-block finality and equivocation count.`,
    gates: [{ gate: "wq-determinism", slo: "fastFinalityBp", field: "results.agreed", kind: "proof" }],
    results: {
      agreed: proof.agreed,
      instances: proof.instances.length,
      validators: validatorCount,
      votes: proof.votes,
      seed: proof.seed,
      thresholds: { ...DEFAULT_THRESHOLDS },
      head: first.head ?? null,
      headsByInstance: proof.instances.map((o) => o.head?.blockHash ?? null),
      equivocations: first.equivocations,
      finalizedBlocks: first.finality.filter((f) => f.fast).length,
    },
  };
}
