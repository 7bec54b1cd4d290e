// The foundation benchmark (issue 3): the same Kiwoom simulator driven
// directly, through a bare undici pass-through proxy, and through
// kiwoom-guard, for a query (ka10001) and an order (kt10000) workload, at
// saturation (closed loop) and at a moderate fixed rate; plus a run with a
// slow upstream revoke to show revocation stays off the bot's critical path.
// Each process (simulator, bare proxy, sidecar, load generator) is separate.
import { randomBytes, randomInt } from 'node:crypto';
import { request } from 'undici';
import { startChild, type BenchChild } from './lib/children.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { bucketEstimate, scrapeHistogram, type BucketedEstimate } from './lib/metrics.js';
import { round } from './lib/stats.js';

export interface FoundationOptions {
  /** Measured seconds per run. */
  readonly durationS: number;
  /** Unmeasured seconds before each run (JIT, keep-alive sockets, caches). */
  readonly warmupS: number;
  /** Connections for the saturation phase (closed loop). */
  readonly connections: number;
  /** Connections and requests/second (over all connections) for the moderate phase. */
  readonly moderateConnections: number;
  readonly moderateRate: number;
  /** Upstream revoke delay for the slow-revoke variant. */
  readonly revokeLatencyMs: number;
  /** The sidecar's log level (its log goes to a file, as in production). */
  readonly logLevel: string;
  /** Extra sidecar config (top-level sections replace the bench's). */
  readonly guardConfig?: Record<string, unknown>;
}

export const DEFAULT_OPTIONS: FoundationOptions = {
  durationS: 10,
  warmupS: 2,
  connections: 10,
  moderateConnections: 2,
  moderateRate: 200,
  revokeLatencyMs: 200,
  logLevel: 'info',
};

export type Target = 'direct' | 'bare' | 'guard';
export type Phase = 'saturation' | 'moderate';

interface Workload {
  readonly name: 'query' | 'order';
  readonly apiId: string;
  readonly path: string;
  readonly body: string;
}

export const WORKLOADS: readonly Workload[] = [
  { name: 'query', apiId: 'ka10001', path: '/api/dostk/stkinfo', body: JSON.stringify({ stk_cd: '005930' }) },
  // A marketable limit buy of one share: fills at once, so the book holds no open orders.
  {
    name: 'order',
    apiId: 'kt10000',
    path: '/api/dostk/ordr',
    body: JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '71000', trde_tp: '0' }),
  },
];

export interface RunRecord {
  readonly workload: Workload['name'];
  readonly phase: Phase;
  readonly target: Target;
  readonly variant: 'normal' | 'slow-revoke';
  readonly load: LoadResult;
  /** guard only: the sidecar's own kguard_overhead_seconds over this run. */
  readonly overheadHistogram?: BucketedEstimate;
  /** guard only: broker tokens issued/revoked at the simulator (warm-up included), and time until none was live. */
  readonly brokerTokens?: { issued: number; revoked: number; liveAfterDrain: number; drainMs: number };
}

export interface Comparison {
  readonly workload: Workload['name'];
  readonly phase: Phase;
  /** guard / bare. */
  readonly ratios: { p50: number; p99: number; throughput: number };
  /** ms; see `method` in the results file. */
  readonly addedLatencyMs: {
    guardMinus2xBare: { p50: number; p99: number };
    guardMinusBareMinusDirect: { p50: number; p99: number };
  };
  readonly overheadHistogram?: BucketedEstimate;
}

export interface FoundationResult {
  readonly options: FoundationOptions;
  readonly runs: RunRecord[];
  readonly comparisons: Comparison[];
  readonly revocationOffCriticalPath?: {
    readonly revokeLatencyMs: number;
    readonly normal: { p50: number; p99: number; throughputRps: number };
    readonly slowRevoke: { p50: number; p99: number; throughputRps: number };
    readonly deltaMs: { p50: number; p99: number };
    readonly brokerTokens?: RunRecord['brokerTokens'];
  };
}

export const METHOD = {
  latency:
    'Per-response time measured by the load generator (autocannon response event, float ms); nearest-rank percentiles over all 2xx responses of the measured window (warm-up excluded). No coordinated-omission correction.',
  direct: "Load generator -> simulator, with the bot's own Kiwoom token: one upstream round trip, no proxy.",
  bare: "Load generator -> bare node:http proxy -> simulator (undici Pool, keep-alive), forwarding the bot's own Kiwoom token obtained once from the simulator.",
  guard:
    'Load generator -> kiwoom-guard -> simulator (default config except risk scoring disabled, a bench policy without market-data rules, logs to a file). Per call: JWT verify, policy, audit intent, decrypt credentials, broker token issue (round trip 1), the call (round trip 2), reply; revoke (round trip 3) after the reply.',
  guardMinus2xBare:
    "added = guard_pX - 2 x bare_pX (the brief's formula: guard needs two upstream round trips, a bare round trip stands for each). It subtracts the bot->proxy hop twice, so it UNDER-states the overhead by about one loopback hop plus bare forwarding work.",
  guardMinusBareMinusDirect:
    'added = guard_pX - bare_pX - direct_pX: bare covers the bot hop + one forwarded call, direct covers the extra (token) round trip. Closer to the true added work; percentiles do not subtract exactly, so treat both as estimates.',
  overheadHistogram:
    "kguard_overhead_seconds from the sidecar's admin /metrics, diffed over the run: per call, end-to-end time minus time inside the broker stage (token lease incl. its decrypt + issue round trip, and the call). Bucketed: percentiles are bucket upper bounds.",
  revocation:
    "Same moderate query run with the simulator's revokeLatencyMs fault (every /oauth2/revoke answered late): if revocation were on the critical path bot latency would grow by about that delay.",
};

const KEY_HEX = () => randomBytes(24).toString('hex');

async function simJson(sim: BenchChild, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await request(
    sim.url + path,
    body === undefined ? {} : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
  );
  const json = (await res.body.json()) as Record<string, unknown>;
  if (res.statusCode !== 200) throw new Error(`sim ${path}: HTTP ${res.statusCode} ${JSON.stringify(json)}`);
  return json;
}

async function waitNoLiveTokens(sim: BenchChild, timeoutMs: number): Promise<{ live: number; waitedMs: number }> {
  const t0 = Date.now();
  for (;;) {
    const live = Number((await simJson(sim, '/_sim/stats')).liveTokens);
    if (live === 0 || Date.now() - t0 > timeoutMs) return { live, waitedMs: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function preflight(url: string, w: Workload, headers: Record<string, string>, target: Target): Promise<void> {
  const res = await request(url + w.path, { method: 'POST', body: w.body, headers: { 'content-type': 'application/json;charset=UTF-8', ...headers } });
  const json = (await res.body.json()) as Record<string, unknown>;
  if (res.statusCode !== 200 || json.return_code !== 0)
    throw new Error(`${target}/${w.name} preflight failed: HTTP ${res.statusCode} ${String(json.return_msg)}`);
}

export async function runFoundationBench(opts: FoundationOptions, progress: (line: string) => void): Promise<FoundationResult> {
  const creds = { appKey: KEY_HEX(), secretKey: KEY_HEX(), account: `5${randomInt(100_000_000, 999_999_999)}` };
  const children: BenchChild[] = [];
  try {
    const sim = await startChild('sim', { type: 'start', ...creds });
    children.push(sim);
    const bare = await startChild('bare', { type: 'start', ...creds, simUrl: sim.url, connections: 32 });
    children.push(bare);
    const guard = await startChild('guard', { type: 'start', ...creds, simUrl: sim.url, logLevel: opts.logLevel, guardConfig: opts.guardConfig });
    children.push(guard);
    progress(`processes: sim ${sim.pid}, bare ${bare.pid}, guard ${guard.pid}, load generator ${process.pid}`);

    const { appKey: appkey, secretKey: secretkey } = creds;
    const runs: RunRecord[] = [];

    async function headersFor(target: Target, w: Workload): Promise<Record<string, string>> {
      let token: string;
      if (target === 'guard') {
        const m = await guard.ask({ type: 'token' }, 'token');
        token = m.type === 'token' ? m.token : '';
      } else {
        // The bot's own Kiwoom token, obtained once per run from the simulator directly.
        const json = await simJson(sim, '/oauth2/token', { grant_type: 'client_credentials', appkey, secretkey });
        token = String(json.token);
      }
      return { 'api-id': w.apiId, authorization: `Bearer ${token}` };
    }

    async function measure(w: Workload, phase: Phase, target: Target, variant: RunRecord['variant']): Promise<RunRecord> {
      // Fresh simulator state per run (its order book scans are linear in orders placed).
      await sim.ask({ type: 'reset' }, 'reset-done');
      if (variant === 'slow-revoke') await simJson(sim, '/_sim/faults', { revokeLatencyMs: opts.revokeLatencyMs });
      const url = target === 'direct' ? sim.url : target === 'bare' ? bare.url : guard.url;
      const headers = await headersFor(target, w);
      await preflight(url, w, headers, target);
      const shape = phase === 'saturation' ? { connections: opts.connections } : { connections: opts.moderateConnections, rate: opts.moderateRate };
      await runLoad({ url, path: w.path, headers, body: w.body, durationS: opts.warmupS, ...shape });
      const metricsUrl = `${guard.adminUrl}/metrics`;
      const before = target === 'guard' ? await scrapeHistogram(metricsUrl, 'kguard_overhead_seconds') : undefined;
      const load = await runLoad({ url, path: w.path, headers, body: w.body, durationS: opts.durationS, ...shape });
      let record: RunRecord = { workload: w.name, phase, target, variant, load };
      if (target === 'guard') {
        const after = await scrapeHistogram(metricsUrl, 'kguard_overhead_seconds');
        const drained = await waitNoLiveTokens(sim, 30_000 + opts.revokeLatencyMs * 10);
        const stats = await simJson(sim, '/_sim/stats');
        record = {
          ...record,
          overheadHistogram: bucketEstimate(before!, after, [50, 90, 99, 99.9]),
          brokerTokens: { issued: Number(stats.tokensIssued), revoked: Number(stats.tokensRevoked), liveAfterDrain: drained.live, drainMs: drained.waitedMs },
        };
      }
      if (variant === 'slow-revoke') await simJson(sim, '/_sim/faults', { revokeLatencyMs: 0 });
      const l = load.latency.percentilesMs;
      progress(
        `${w.name.padEnd(5)} ${phase.padEnd(10)} ${target.padEnd(6)} ${variant === 'normal' ? '' : `${variant} `}` +
          `p50 ${l.p50} ms  p99 ${l.p99} ms  ${load.throughputRps} req/s  (n=${load.latency.count}, non2xx=${load.non2xx}, errors=${load.errors})`,
      );
      return record;
    }

    const comparisons: Comparison[] = [];
    for (const w of WORKLOADS) {
      for (const phase of ['saturation', 'moderate'] as const) {
        const byTarget = {} as Record<Target, RunRecord>;
        for (const target of ['direct', 'bare', 'guard'] as const) {
          byTarget[target] = await measure(w, phase, target, 'normal');
          runs.push(byTarget[target]);
        }
        comparisons.push(compare(w.name, phase, byTarget));
      }
    }

    const query = WORKLOADS[0]!;
    const normal = runs.find((r) => r.workload === 'query' && r.phase === 'moderate' && r.target === 'guard')!;
    const slow = await measure(query, 'moderate', 'guard', 'slow-revoke');
    runs.push(slow);
    const pick = (r: RunRecord) => ({ p50: r.load.latency.percentilesMs.p50!, p99: r.load.latency.percentilesMs.p99!, throughputRps: r.load.throughputRps });
    return {
      options: opts,
      runs,
      comparisons,
      revocationOffCriticalPath: {
        revokeLatencyMs: opts.revokeLatencyMs,
        normal: pick(normal),
        slowRevoke: pick(slow),
        deltaMs: { p50: round(pick(slow).p50 - pick(normal).p50), p99: round(pick(slow).p99 - pick(normal).p99) },
        brokerTokens: slow.brokerTokens,
      },
    };
  } finally {
    for (const c of children.reverse()) await c.close().catch(() => undefined);
  }
}

function compare(workload: Workload['name'], phase: Phase, r: Record<Target, RunRecord>): Comparison {
  const p = (t: Target, k: 'p50' | 'p99') => r[t].load.latency.percentilesMs[k]!;
  const ratio = (a: number, b: number) => round(a / b, 2);
  return {
    workload,
    phase,
    ratios: {
      p50: ratio(p('guard', 'p50'), p('bare', 'p50')),
      p99: ratio(p('guard', 'p99'), p('bare', 'p99')),
      throughput: ratio(r.guard.load.throughputRps, r.bare.load.throughputRps),
    },
    addedLatencyMs: {
      guardMinus2xBare: { p50: round(p('guard', 'p50') - 2 * p('bare', 'p50')), p99: round(p('guard', 'p99') - 2 * p('bare', 'p99')) },
      guardMinusBareMinusDirect: {
        p50: round(p('guard', 'p50') - p('bare', 'p50') - p('direct', 'p50')),
        p99: round(p('guard', 'p99') - p('bare', 'p99') - p('direct', 'p99')),
      },
    },
    overheadHistogram: r.guard.overheadHistogram,
  };
}
