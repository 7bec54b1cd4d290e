// Robust statistics for baselines: median / MAD over a bounded window and an
// exponentially weighted mean and variance. Pure functions, no I/O.

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median absolute deviation scaled by 1.4826 so it estimates sigma for normal data. */
export function scaledMad(values: readonly number[], med = median(values)): number {
  if (values.length === 0) return NaN;
  return 1.4826 * median(values.map((v) => Math.abs(v - med)));
}

export interface Ewma {
  mean: number;
  variance: number;
  n: number;
}

export function ewmaUpdate(state: Ewma | undefined, x: number, alpha: number): Ewma {
  if (!state || state.n === 0) return { mean: x, variance: 0, n: 1 };
  // West's incremental EW variance: stable and needs no history.
  const diff = x - state.mean;
  const incr = alpha * diff;
  return { mean: state.mean + incr, variance: (1 - alpha) * (state.variance + diff * incr), n: state.n + 1 };
}

/** Appends to a bounded window, dropping the oldest values. */
export function pushBounded(window: number[], x: number, max: number): void {
  window.push(x);
  if (window.length > max) window.splice(0, window.length - max);
}

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : Number.isFinite(x) ? x : 1;
}

/** Two decimals at most, trailing zeros dropped (1.5, not 1.50): numbers in reasons. */
export const r2 = (x: number): string => (Math.round(x * 100) / 100).toString();
