// Latency summaries from raw samples (ms, floating point). autocannon's own
// histogram records whole milliseconds, too coarse for sub-ms overhead, so the
// bench keeps every response time and sorts it once.

export const PERCENTILES = [50, 90, 99, 99.9] as const;

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Keyed 'p50', 'p90', 'p99', 'p99.9'. */
  readonly percentilesMs: Readonly<Record<string, number>>;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  const sum = arr.reduce((a, b) => a + b, 0);
  const percentilesMs: Record<string, number> = {};
  for (const p of PERCENTILES) percentilesMs[`p${p}`] = round(percentile(arr, p));
  return {
    count: arr.length,
    meanMs: round(arr.length ? sum / arr.length : Number.NaN),
    minMs: round(arr[0] ?? Number.NaN),
    maxMs: round(arr.at(-1) ?? Number.NaN),
    percentilesMs,
  };
}
