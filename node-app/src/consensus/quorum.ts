/**
 * Quorum arithmetic in integer basis points (1 bp = 1/10 000 of total weight); no floating point anywhere.
 *
 * Boundary (written down the way cometbft writes `> 2/3`): a block reaches a threshold T bp when
 *
 *     supportWeight * 10 000 >= T * totalWeight            (">=", exact cross-multiplication, BigInt)
 *
 * With total weight 10 000, support 6 700 reaches fast finality (6700 bp) and support 6 699 does not. With total
 * weight 3, support 2 is 6666.67 bp: it does NOT reach 6700 bp (2 * 10 000 = 20 000 < 6 700 * 3 = 20 100).
 */

import { BP_DENOMINATOR, DEFAULT_ECONOMIC_FINALITY_BP, DEFAULT_FAST_FINALITY_BP } from "@bizra/contract";

export { BP_DENOMINATOR, DEFAULT_ECONOMIC_FINALITY_BP, DEFAULT_FAST_FINALITY_BP };

export interface FinalityThresholds {
  readonly fastFinalityBp: number;
  readonly economicFinalityBp: number;
}

export const DEFAULT_THRESHOLDS: FinalityThresholds = Object.freeze({
  fastFinalityBp: DEFAULT_FAST_FINALITY_BP,
  economicFinalityBp: DEFAULT_ECONOMIC_FINALITY_BP,
});

/** Throws unless both thresholds are integers in [1, 10 000] and economic >= fast. */
export function validateThresholds(t: FinalityThresholds): FinalityThresholds {
  for (const [name, v] of Object.entries(t)) {
    if (!Number.isInteger(v) || v < 1 || v > BP_DENOMINATOR) {
      throw new RangeError(`${name} must be an integer in [1, ${BP_DENOMINATOR}], got ${String(v)}`);
    }
  }
  if (t.economicFinalityBp < t.fastFinalityBp) throw new RangeError("economicFinalityBp must be >= fastFinalityBp");
  return t;
}

/** True when `support` out of `total` reaches `thresholdBp` (see the boundary rule above). */
export function meetsThreshold(support: number, total: number, thresholdBp: number): boolean {
  if (total <= 0) return false;
  return BigInt(support) * BigInt(BP_DENOMINATOR) >= BigInt(thresholdBp) * BigInt(total);
}

/** Support as whole basis points, rounded DOWN (for display; decisions use meetsThreshold). */
export function supportBp(support: number, total: number): number {
  if (total <= 0) return 0;
  return Number((BigInt(support) * BigInt(BP_DENOMINATOR)) / BigInt(total));
}
