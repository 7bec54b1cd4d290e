// Bounded load on loopback with autocannon. Response times are taken from
// autocannon's per-response event (float ms, hrtime based) rather than its
// whole-millisecond histogram, so sub-millisecond differences stay visible.
import autocannon from 'autocannon';
import { summarize, type LatencySummary } from './stats.js';

export interface LoadOptions {
  readonly url: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly connections: number;
  readonly durationS: number;
  /** Requests per second across all connections; undefined = closed loop (as fast as answers come). */
  readonly rate?: number;
}

export interface LoadResult {
  readonly latency: LatencySummary;
  /** 2xx responses per second over the run. */
  readonly throughputRps: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly durationS: number;
}

export function runLoad(o: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const samples: number[] = [];
    const instance = autocannon(
      {
        url: o.url + o.path,
        method: 'POST',
        headers: { 'content-type': 'application/json;charset=UTF-8', ...o.headers },
        body: o.body,
        connections: o.connections,
        duration: o.durationS,
        timeout: 10,
        ...(o.rate ? { overallRate: o.rate } : {}),
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        resolve({
          latency: summarize(samples),
          throughputRps: Math.round((samples.length / result.duration) * 10) / 10,
          requests: result.requests.total,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          durationS: result.duration,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, responseTimeMs) => {
      if (status >= 200 && status < 300) samples.push(responseTimeMs);
    });
  });
}
