/** A validator set with positive integer weights and its Byzantine bounds. */

export interface ValidatorInfo {
  readonly id: string;
  /** Positive integer voting weight. */
  readonly weight: number;
  /** 32-byte Ed25519 public key, when the node verifies this validator's attestations. */
  readonly publicKey?: Uint8Array;
}

export class ValidatorSet {
  readonly totalWeight: number;
  private readonly byId: ReadonlyMap<string, ValidatorInfo>;

  constructor(validators: readonly ValidatorInfo[]) {
    if (validators.length === 0) throw new RangeError("a validator set needs at least one validator");
    const byId = new Map<string, ValidatorInfo>();
    let total = 0;
    for (const v of validators) {
      if (byId.has(v.id)) throw new RangeError(`duplicate validator ${v.id}`);
      if (!Number.isSafeInteger(v.weight) || v.weight < 1) {
        throw new RangeError(`validator ${v.id}: weight must be a positive integer`);
      }
      total += v.weight;
      if (!Number.isSafeInteger(total)) throw new RangeError("total weight exceeds 2^53-1");
      byId.set(v.id, Object.freeze({ ...v }));
    }
    this.byId = byId;
    this.totalWeight = total;
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): ValidatorInfo | undefined {
    return this.byId.get(id);
  }

  weightOf(id: string): number {
    return this.byId.get(id)?.weight ?? 0;
  }

  ids(): string[] {
    return [...this.byId.keys()].sort();
  }

  /** Largest f with n >= 3f + 1, counting validators (n = size). */
  get maxFaultyValidators(): number {
    return Math.floor((this.size - 1) / 3);
  }

  /** Largest faulty weight F with totalWeight >= 3F + 1: the weighted form of the same bound. */
  get maxFaultyWeight(): number {
    return Math.floor((this.totalWeight - 1) / 3);
  }
}
