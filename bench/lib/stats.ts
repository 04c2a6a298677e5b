// Small statistics helpers: nearest-rank percentiles over a sample.

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (p in 0..100) of an ascending-sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    n: sorted.length,
    min: round(sorted[0] ?? NaN),
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
    mean: round(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution (same clock across this process). */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export function ms(x: number | null | undefined, digits = 1): string {
  // A summary of no samples is NaN, and NaN comes back from JSON or IPC as null.
  return typeof x === 'number' && Number.isFinite(x) ? `${x.toFixed(digits)} ms` : 'n/a';
}
