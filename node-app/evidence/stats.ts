/** Latency statistics from raw samples: nearest-rank percentiles, nothing interpolated, nothing typed in. */

/** Nearest-rank percentile (p in (0, 100]) of ascending-sorted samples: the smallest value with >= p % at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError("no samples");
  if (!(p > 0 && p <= 100)) throw new RangeError("p must be in (0, 100]");
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export interface LatencySummary {
  readonly samples: number;
  readonly minSeconds: number;
  readonly meanSeconds: number;
  readonly p50Seconds: number;
  readonly p95Seconds: number;
  readonly p99Seconds: number;
  readonly maxSeconds: number;
}

/** Summary of per-operation durations in nanoseconds (from `process.hrtime.bigint()`), reported in seconds. */
export function summarizeNanos(nanos: readonly bigint[]): LatencySummary {
  const s = nanos.map((n) => Number(n) / 1e9).sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    samples: s.length,
    minSeconds: s[0] as number,
    meanSeconds: sum / s.length,
    p50Seconds: percentile(s, 50),
    p95Seconds: percentile(s, 95),
    p99Seconds: percentile(s, 99),
    maxSeconds: s[s.length - 1] as number,
  };
}

/** Nanoseconds elapsed since `start` (a `process.hrtime.bigint()` reading). */
export function since(start: bigint): bigint {
  return process.hrtime.bigint() - start;
}
