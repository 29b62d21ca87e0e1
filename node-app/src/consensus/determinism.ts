/**
 * The WQ determinism proof: one vote log replayed into independent tallies in different orders must yield one
 * head and one finality result per block. Exported for the evidence benchmark.
 */
import type { FinalityThresholds } from "./quorum";
import { ValidatorSet, type ValidatorInfo } from "./validator-set";
import { VoteTally, type Finality, type Vote } from "./vote-tally";

export interface DeterminismProofOptions {
  /** Independent instances, at least 3 (default 3). */
  readonly instances?: number;
  /** Seed of the shuffles, so a failing proof can be replayed (default 1). */
  readonly seed?: number;
  readonly thresholds?: FinalityThresholds;
}

export interface InstanceOutcome {
  /** Permutation of log indices this instance received. */
  readonly order: readonly number[];
  readonly head: Finality | undefined;
  readonly finality: readonly Finality[];
  readonly equivocations: number;
}

export interface DeterminismProof {
  readonly agreed: boolean;
  readonly instances: readonly InstanceOutcome[];
  readonly votes: number;
  readonly seed: number;
}

/** mulberry32: a tiny seeded PRNG, enough to shuffle reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of 0..n-1 driven by `random`. */
export function shuffledOrder(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/** Replays `log` into fresh tallies: instance 0 in log order, the others in seeded shuffled orders. */
export function proveDeterminism(
  validators: readonly ValidatorInfo[],
  log: readonly Vote[],
  options: DeterminismProofOptions = {},
): DeterminismProof {
  const count = options.instances ?? 3;
  if (!Number.isInteger(count) || count < 3) throw new RangeError("the proof needs at least 3 instances");
  const seed = options.seed ?? 1;
  const random = seededRandom(seed);
  const blocks = [...new Set(log.map((v) => v.blockHash))].sort();
  const instances: InstanceOutcome[] = [];
  for (let i = 0; i < count; i++) {
    const order = i === 0 ? log.map((_, k) => k) : shuffledOrder(log.length, random);
    const tally = new VoteTally(new ValidatorSet(validators), options.thresholds);
    for (const k of order) tally.addVote(log[k] as Vote);
    const finality = blocks.map((b) => tally.finalityOf(b)).filter((f): f is Finality => f !== undefined);
    instances.push({ order, head: tally.head(), finality, equivocations: tally.equivocations });
  }
  const fingerprint = (o: InstanceOutcome): string =>
    JSON.stringify({ head: o.head ?? null, finality: o.finality, equivocations: o.equivocations });
  const first = fingerprint(instances[0] as InstanceOutcome);
  return { agreed: instances.every((o) => fingerprint(o) === first), instances, votes: log.length, seed };
}
