/**
 * The vote tally as the API uses it: this process's VoteTally, or one log of votes shared by all replicas.
 *
 * Shared: every accepted vote is appended to one Redis stream; each replica applies the stream, in stream order, to
 * its own VoteTally before it answers (read-your-writes: a replica syncs after its own append and before each
 * finality or head answer). The tally is a deterministic function of the vote sequence, so every replica and every
 * restarted process (which replays the stream from the start) gives the same answer for the same prefix.
 */
import type { Redis } from "ioredis";
import type { Finality, Vote, VoteOutcome, VoteTally } from "../consensus/vote-tally";
import type { ValidatorSet } from "../consensus/validator-set";

export interface Tally {
  readonly validators: ValidatorSet;
  addVote(vote: Vote): Promise<VoteOutcome>;
  finalityOf(blockHash: string): Promise<Finality | undefined>;
  head(): Promise<Finality | undefined>;
}

export class LocalTally implements Tally {
  constructor(readonly tally: VoteTally) {}
  get validators(): ValidatorSet {
    return this.tally.validators;
  }
  async addVote(vote: Vote): Promise<VoteOutcome> {
    return this.tally.addVote(vote);
  }
  async finalityOf(blockHash: string): Promise<Finality | undefined> {
    return this.tally.finalityOf(blockHash);
  }
  async head(): Promise<Finality | undefined> {
    return this.tally.head();
  }
}

const BATCH = 10_000;

export class SharedTally implements Tally {
  private lastId = "0-0";
  private syncing: Promise<void> | undefined;
  private readonly outcomes = new Map<string, VoteOutcome>();

  constructor(
    readonly tally: VoteTally,
    private readonly redis: Redis,
    private readonly stream: string,
  ) {}

  get validators(): ValidatorSet {
    return this.tally.validators;
  }

  async addVote(vote: Vote): Promise<VoteOutcome> {
    const id = await this.redis.xadd(this.stream, "*", "v", vote.validatorId, "s", String(vote.slot), "h", vote.blockHash);
    if (id === null) throw new Error("vote log: XADD returned no id");
    this.outcomes.set(id, { accepted: false, reason: "malformed", detail: "vote was not applied" });
    await this.sync(id);
    const outcome = this.outcomes.get(id) as VoteOutcome;
    this.outcomes.delete(id);
    return outcome;
  }

  async finalityOf(blockHash: string): Promise<Finality | undefined> {
    await this.sync();
    return this.tally.finalityOf(blockHash);
  }

  async head(): Promise<Finality | undefined> {
    await this.sync();
    return this.tally.head();
  }

  /** Applies every entry after the last applied one; `until` (an id) must be applied when this resolves. */
  private async sync(until?: string): Promise<void> {
    for (;;) {
      if (this.syncing === undefined) {
        this.syncing = this.pull().finally(() => (this.syncing = undefined));
        await this.syncing;
        return;
      }
      await this.syncing; // a pull already running may have started before our entry existed: pull again
      if (until !== undefined && compareIds(this.lastId, until) >= 0) return;
    }
  }

  private async pull(): Promise<void> {
    for (;;) {
      const entries = await this.redis.xrange(this.stream, `(${this.lastId}`, "+", "COUNT", BATCH);
      for (const [id, fields] of entries) {
        const f = new Map<string, string>();
        for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
        const outcome = this.tally.addVote({ validatorId: f.get("v") ?? "", slot: Number(f.get("s")), blockHash: f.get("h") ?? "" });
        if (this.outcomes.has(id)) this.outcomes.set(id, outcome);
        this.lastId = id;
      }
      if (entries.length < BATCH) return;
    }
  }
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number) as [number, number];
  const [bm, bs] = b.split("-").map(Number) as [number, number];
  return am !== bm ? am - bm : as - bs;
}
