/**
 * Votes, finality and deterministic head selection.
 *
 * A vote is (validatorId, slot, blockHash). The state is a pure function of the SET of votes received, so any
 * delivery order gives the same state:
 * - a repeated identical vote changes nothing;
 * - equivocation (one validator, one slot, two different block hashes) is rejected and counted, and ALL of that
 *   validator's votes in that slot stop counting (the first-seen vote is not kept: keeping it would depend on order).
 * Head: the block with the highest slot among blocks with positive support; within that slot the greatest support
 * weight; ties broken by the lexicographically smallest block hash.
 */
import { DEFAULT_THRESHOLDS, meetsThreshold, supportBp, validateThresholds, type FinalityThresholds } from "./quorum";
import type { ValidatorSet } from "./validator-set";

export const BLOCK_HASH_PATTERN = /^[0-9a-f]{64}$/;

export interface Vote {
  readonly validatorId: string;
  readonly slot: number;
  /** 32-byte block hash, lower-case hex. */
  readonly blockHash: string;
}

export type VoteOutcome =
  | { readonly accepted: true; readonly duplicate: boolean }
  | { readonly accepted: false; readonly reason: "unknown_validator" | "equivocation" | "malformed"; readonly detail: string };

export interface Finality {
  readonly blockHash: string;
  readonly slot: number;
  readonly supportWeight: number;
  readonly totalWeight: number;
  /** Support in whole basis points, rounded down. */
  readonly supportBp: number;
  readonly fast: boolean;
  readonly economic: boolean;
}

export class VoteTally {
  readonly thresholds: FinalityThresholds;
  /** slot -> validatorId -> set of block hashes that validator voted for in that slot */
  private readonly votes = new Map<number, Map<string, Set<string>>>();
  /** blockHash -> slots it was voted in (a hash voted in several slots is tallied per slot) */
  private readonly blockSlots = new Map<string, Set<number>>();
  private equivocationCount = 0;

  constructor(
    readonly validators: ValidatorSet,
    thresholds: FinalityThresholds = DEFAULT_THRESHOLDS,
  ) {
    this.thresholds = validateThresholds({ ...thresholds });
  }

  /** Conflicting votes rejected so far (a validator voting k different blocks in one slot counts k - 1). */
  get equivocations(): number {
    return this.equivocationCount;
  }

  /** Validators caught equivocating in `slot`, sorted. */
  equivocatorsAt(slot: number): string[] {
    const out: string[] = [];
    for (const [id, hashes] of this.votes.get(slot) ?? []) if (hashes.size > 1) out.push(id);
    return out.sort();
  }

  addVote(vote: Vote): VoteOutcome {
    if (!Number.isSafeInteger(vote.slot) || vote.slot < 0) {
      return { accepted: false, reason: "malformed", detail: "slot must be a non-negative integer" };
    }
    if (!BLOCK_HASH_PATTERN.test(vote.blockHash)) {
      return { accepted: false, reason: "malformed", detail: "blockHash must be 64 lower-case hex digits" };
    }
    if (!this.validators.has(vote.validatorId)) {
      return { accepted: false, reason: "unknown_validator", detail: `validator ${vote.validatorId} is not in the set` };
    }
    let bySlot = this.votes.get(vote.slot);
    if (bySlot === undefined) this.votes.set(vote.slot, (bySlot = new Map()));
    let hashes = bySlot.get(vote.validatorId);
    if (hashes === undefined) bySlot.set(vote.validatorId, (hashes = new Set()));
    let slots = this.blockSlots.get(vote.blockHash);
    if (slots === undefined) this.blockSlots.set(vote.blockHash, (slots = new Set()));
    slots.add(vote.slot);
    if (hashes.has(vote.blockHash)) return { accepted: true, duplicate: true };
    hashes.add(vote.blockHash);
    if (hashes.size > 1) {
      this.equivocationCount++;
      return {
        accepted: false,
        reason: "equivocation",
        detail: `validator ${vote.validatorId} already voted for another block in slot ${vote.slot}`,
      };
    }
    return { accepted: true, duplicate: false };
  }

  /**
   * Finality of a block, or undefined for a block nobody voted for. If one hash was voted in several slots, the
   * slot with the greatest support counts (ties: the lowest slot), so the answer does not depend on vote order.
   */
  finalityOf(blockHash: string): Finality | undefined {
    const slots = this.blockSlots.get(blockHash);
    if (slots === undefined) return undefined;
    let slot = -1;
    let support = -1;
    for (const s of [...slots].sort((x, y) => x - y)) {
      const w = this.supportOf(s, blockHash);
      if (w > support) [slot, support] = [s, w];
    }
    return this.finalityAt(slot, blockHash, support);
  }

  private finalityAt(slot: number, blockHash: string, support: number): Finality {
    const total = this.validators.totalWeight;
    return {
      blockHash,
      slot,
      supportWeight: support,
      totalWeight: total,
      supportBp: supportBp(support, total),
      fast: meetsThreshold(support, total, this.thresholds.fastFinalityBp),
      economic: meetsThreshold(support, total, this.thresholds.economicFinalityBp),
    };
  }

  /** The head by the rule in the file comment, or undefined when no block has support. */
  head(): Finality | undefined {
    for (const slot of this.slots().reverse()) {
      const best = this.bestAt(slot);
      if (best !== undefined) return best;
    }
    return undefined;
  }

  /** Slots that received at least one accepted or equivocating vote, ascending. */
  slots(): number[] {
    return [...this.votes.keys()].sort((a, b) => a - b);
  }

  /** The best-supported block of `slot` (ties: smallest hash), or undefined when no block of it has support. */
  bestAt(slot: number): Finality | undefined {
    let best: { hash: string; support: number } | undefined;
    for (const hash of this.blocksAt(slot)) {
      const support = this.supportOf(slot, hash);
      if (support === 0) continue;
      if (best === undefined || support > best.support || (support === best.support && hash < best.hash)) {
        best = { hash, support };
      }
    }
    return best === undefined ? undefined : this.finalityAt(slot, best.hash, best.support);
  }

  private blocksAt(slot: number): Set<string> {
    const out = new Set<string>();
    for (const hashes of this.votes.get(slot)?.values() ?? []) for (const h of hashes) out.add(h);
    return out;
  }

  /** Weight of validators whose ONLY vote in `slot` is `blockHash`. */
  private supportOf(slot: number, blockHash: string): number {
    let weight = 0;
    for (const [id, hashes] of this.votes.get(slot) ?? []) {
      if (hashes.size === 1 && hashes.has(blockHash)) weight += this.validators.weightOf(id);
    }
    return weight;
  }
}
