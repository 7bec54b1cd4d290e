// Reads a prom-client histogram from an admin /metrics page and estimates
// percentiles from the difference between two scrapes (one run's calls).
import { request } from 'undici';

export interface Buckets {
  /** Cumulative counts by upper bound in seconds (+Inf included). */
  readonly le: ReadonlyMap<number, number>;
  readonly count: number;
  readonly sum: number;
}

export async function scrapeHistogram(metricsUrl: string, name: string): Promise<Buckets> {
  const res = await request(metricsUrl);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${metricsUrl}: HTTP ${res.statusCode}`);
  const le = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const [series, value] = line.split(' ') as [string, string];
    const m = /_bucket\{le="([^"]+)"\}$/.exec(series);
    if (m) le.set(m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(value));
    else if (series === `${name}_count`) count = Number(value);
    else if (series === `${name}_sum`) sum = Number(value);
  }
  if (le.size === 0) throw new Error(`histogram ${name} not found at ${metricsUrl}`);
  return { le, count, sum };
}

export interface BucketedEstimate {
  readonly count: number;
  readonly meanMs: number;
  /** Upper bound (ms) of the bucket holding each percentile: "p99 <= x ms". */
  readonly upperBoundMs: Readonly<Record<string, number>>;
  /** Share of calls at or under each bucket bound, e.g. { '1': 0.998 } for <= 1 ms. */
  readonly shareAtOrUnderMs: Readonly<Record<string, number>>;
}

export function bucketEstimate(before: Buckets, after: Buckets, percentiles: readonly number[]): BucketedEstimate {
  const count = after.count - before.count;
  const bounds = [...after.le.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((b) => [b, (after.le.get(b) ?? 0) - (before.le.get(b) ?? 0)] as const);
  const upperBoundMs: Record<string, number> = {};
  for (const p of percentiles) {
    const target = (p / 100) * count;
    const hit = cumulative.find(([, c]) => c >= target);
    upperBoundMs[`p${p}`] = hit ? +(hit[0] * 1000).toPrecision(4) : Number.NaN;
  }
  const shareAtOrUnderMs: Record<string, number> = {};
  for (const [b, c] of cumulative) if (Number.isFinite(b)) shareAtOrUnderMs[String(+(b * 1000).toPrecision(4))] = count ? +(c / count).toFixed(4) : 0;
  return { count, meanMs: count ? +(((after.sum - before.sum) / count) * 1000).toFixed(4) : Number.NaN, upperBoundMs, shareAtOrUnderMs };
}
