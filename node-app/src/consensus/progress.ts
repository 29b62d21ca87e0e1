/**
 * Finality progress as an operator watches it: the highest slot with votes (head), the highest slot whose best block
 * reached fast finality, and how many slots were left behind without reaching the fast-finality quorum.
 *
 * Driven by votes only: asking about a block (the finality route) changes nothing here, so a client polling a block
 * that is not final yet is not a quorum failure. A slot is judged once the head is `graceSlots` slots past it (late
 * votes of the previous slot still count); a slot nobody voted in is not judged. The tally itself stays a pure
 * function of the vote set; this observer only reads it.
 */
import type { VoteTally } from "./vote-tally";

/** Slots a slot stays open for late votes before it is judged. */
export const QUORUM_GRACE_SLOTS = 2;

export interface ProgressSnapshot {
  /** Highest slot with a supported block; -1 before any vote. */
  readonly headSlot: number;
  /** Highest slot whose best block reached fast finality; -1 before any. */
  readonly finalizedSlot: number;
  /** Slots judged (head at least `graceSlots` past them) whose best block never reached fast finality. */
  readonly slotsWithoutQuorum: number;
}

export class FinalityProgress {
  private judgedThrough = -1;
  private head = -1;
  private finalized = -1;
  private withoutQuorum = 0;

  constructor(
    private readonly tally: VoteTally,
    private readonly graceSlots = QUORUM_GRACE_SLOTS,
  ) {
    if (!Number.isInteger(graceSlots) || graceSlots < 0) throw new Error(`graceSlots must be a non-negative integer, got ${graceSlots}`);
  }

  /** Reads the tally, judges the slots that closed since the last call, and returns the counters. */
  observe(): ProgressSnapshot {
    // Only slots newer than what was already finalized or judged are read: the work per call stays small.
    const recent = this.tally.slots().filter((slot) => slot > Math.min(this.finalized, this.judgedThrough));
    const best = new Map(recent.map((slot) => [slot, this.tally.bestAt(slot)] as const));
    for (const [slot, b] of best) {
      if (b === undefined) continue;
      if (slot > this.head) this.head = slot;
      if (b.fast && slot > this.finalized) this.finalized = slot;
    }
    const closeThrough = this.head - this.graceSlots;
    for (const [slot, b] of best) {
      if (slot > this.judgedThrough && slot <= closeThrough && b?.fast !== true) this.withoutQuorum++;
    }
    if (closeThrough > this.judgedThrough) this.judgedThrough = closeThrough;
    return { headSlot: this.head, finalizedSlot: this.finalized, slotsWithoutQuorum: this.withoutQuorum };
  }
}
