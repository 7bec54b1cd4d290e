// `npm run bench:soak` (issue 15, memory): the sidecar under a steady load
// for a long time, its heap sampled after a forced GC every few seconds.
// Flat means no growth in heap after GC: the slope (least squares, MB per
// minute, first minute excluded as warm-up) is reported with the first- and
// last-minute means. Writes bench/results/soak-<ts>.json and a heap curve SVG.
//
// Load: BENCH_SOAK_BOTS bots (default 250), each with its own app key (bulk
// path), at BENCH_SOAK_RATE/BENCH_SOAK_BOTS calls/s each, the tenants mix
// (80 % ka10001, 15 % kt00018, 5 % kt10000), open loop, on the ideal
// simulator; the sidecar in its default configuration but for risk scoring
// (off, as in bench:foundation: it would hold the new bots' orders) and a 1 h
// session token (bots do not re-exchange mid-run).
// Knobs: BENCH_SOAK_MINUTES (default 10), BENCH_SOAK_RATE (total calls/s,
// default 500), BENCH_SOAK_BOTS (250), BENCH_SOAK_SAMPLE_S (5), BENCH_LINGER
// (brokerTokens.idleRevokeMs, default 0 = the default configuration),
// BENCH_LOG (sidecar log level, default warn).
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './lib/stats.js';
import { timeSeriesSvg } from './lib/svg.js';
import { batchBody, exchangeAll, postBatch, runMix } from './lib/tenant-load.js';
import { startTenantChild, type TenantChild } from './lib/tenant-protocol.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const MINUTES = env('BENCH_SOAK_MINUTES', 10);
const RATE = env('BENCH_SOAK_RATE', 500);
const BOTS = env('BENCH_SOAK_BOTS', 250);
const SAMPLE_S = env('BENCH_SOAK_SAMPLE_S', 5);
const LINGER = env('BENCH_LINGER', 0);
const LOG = process.env.BENCH_LOG ?? 'warn';
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? Number.NaN : num / den;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

const root = await mkdtemp(path.join(tmpdir(), 'kguard-bench-soak-'));
await chmod(root, 0o700);
const children: TenantChild[] = [];
try {
  const sim = await startTenantChild('sim', { type: 'start', apps: BOTS, ideal: true });
  children.push(sim);
  await mkdir(path.join(root, 'guard'), { mode: 0o700 });
  const guard = await startTenantChild('guard', {
    type: 'start',
    dataDir: path.join(root, 'guard', 'data'),
    simUrl: sim.ready.url,
    logLevel: LOG,
    guardConfig: { risk: { enabled: false }, tokens: { ttlSeconds: 3_600 }, brokerTokens: { idleRevokeMs: LINGER } },
  });
  children.push(guard);
  const { body, secrets } = batchBody(0, BOTS);
  await postBatch(guard.ready.adminUrl!, guard.ready.adminToken!, body);
  body.fill(0);
  const tokens = await exchangeAll(guard.ready.url, 0, secrets, BOTS);
  for (const s of secrets) s.fill(0);
  const samples: { s: number; heapUsedMB: number; rssMB: number }[] = [];
  const first = await guard.ask({ type: 'mem' }, 'mem');
  samples.push({ s: 0, heapUsedMB: first.heapUsedMB, rssMB: first.rssMB });
  log(`soak: ${MINUTES} min at ${RATE} calls/s from ${BOTS} bots; heap after GC every ${SAMPLE_S} s`);
  const load = await runMix({
    url: guard.ready.url,
    tokens,
    ratePerBot: RATE / BOTS,
    warmupS: 0,
    seconds: MINUTES * 60,
    connectionsPerBot: 2,
    onSecond: async (second) => {
      if (second % SAMPLE_S !== 0) return;
      const m = await guard.ask({ type: 'mem' }, 'mem');
      samples.push({ s: second, heapUsedMB: m.heapUsedMB, rssMB: m.rssMB });
      if (second % 60 === 0) log(`${second / 60} min: heap ${m.heapUsedMB} MB, rss ${m.rssMB} MB`);
    },
  });
  const last = await guard.ask({ type: 'mem' }, 'mem');
  samples.push({ s: MINUTES * 60 + 1, heapUsedMB: last.heapUsedMB, rssMB: last.rssMB });
  const warm = samples.filter((x) => x.s >= Math.min(60, (MINUTES * 60) / 5));
  const heapSlope = slope(warm.map((x) => [x.s / 60, x.heapUsedMB] as const));
  const rssSlope = slope(warm.map((x) => [x.s / 60, x.rssMB] as const));
  const firstMin = warm.filter((x) => x.s < warm[0]!.s + 60).map((x) => x.heapUsedMB);
  const lastMin = warm.filter((x) => x.s > MINUTES * 60 - 60).map((x) => x.heapUsedMB);
  const result = {
    bench: 'soak',
    when: new Date().toISOString(),
    options: { minutes: MINUTES, rate: RATE, bots: BOTS, sampleS: SAMPLE_S, idleRevokeMs: LINGER },
    load: {
      calls: load.calls,
      ok: load.ok,
      achievedRps: load.achievedRps,
      failures: load.failures,
      p50: load.all.percentilesMs.p50,
      p99: load.all.percentilesMs.p99,
      max: load.all.maxMs,
    },
    heap: {
      slopeMBPerMin: round(heapSlope, 4),
      firstMinuteMeanMB: round(mean(firstMin), 2),
      lastMinuteMeanMB: round(mean(lastMin), 2),
      rssSlopeMBPerMin: round(rssSlope, 4),
      flat: Math.abs(heapSlope) < 0.1,
      rule: 'flat: |least-squares slope of heap-after-GC| < 0.1 MB/min after the warm-up minute',
    },
    samples,
    method: 'heapUsed and rss of the sidecar process right after global.gc() (the sidecar runs with --expose-gc), asked over IPC every sample interval.',
  };
  const stamp = result.when.replace(/[:.]/g, '-');
  await mkdir(RESULTS, { recursive: true });
  await writeFile(path.join(RESULTS, `soak-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(
    path.join(RESULTS, `soak-${stamp}.svg`),
    timeSeriesSvg(
      [
        { name: 'heap after GC', points: samples.map((x) => [x.s / 60, x.heapUsedMB] as const) },
        { name: 'RSS', points: samples.map((x) => [x.s / 60, x.rssMB] as const) },
      ],
      {
        title: `kiwoom-guard soak: ${MINUTES} min at ${RATE} calls/s, ${BOTS} bots`,
        subtitle: `heap slope ${round(heapSlope, 3)} MB/min after warm-up; ${load.ok}/${load.calls} ok, p99 ${load.all.percentilesMs.p99} ms`,
        xLabel: 'minutes',
        yLabel: 'MB',
      },
    ),
  );
  const { samples: _s, ...brief } = result;
  process.stdout.write(`${JSON.stringify(brief, null, 2)}\n`);
} finally {
  for (const c of children.reverse()) await c.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}
