// Replicas benchmark (issue 7): the same simulator behind one sidecar on
// memory state, one sidecar on Redis, and two sidecars sharing one Redis,
// same run. The policy has a rate limit and a daily cap, so every order does
// an atomic consume() on the hot path. Reports throughput and p50/p99 per
// setup and what Redis adds to p99. Two replicas: throughput is the sum, the
// p99 is the worse of the two.
// Run: npm run build && node dist/bench/replicas.js  (BENCH_DURATION_S, BENCH_RATE, BENCH_CONNECTIONS)
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { startChild, type BenchChild } from './lib/children.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { round } from './lib/stats.js';
import { BENCH_POLICY } from './lib/bench-policy.js';
import { startBenchRedis } from './state-redis.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 1);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);

// The foundation bench's open policy plus a rate limit and a daily cap, so
// every order does an atomic consume() on the hot path (that is what Redis changes).
const POLICY = `${BENCH_POLICY.replace('name: bench-open', 'name: bench-replicas')}  - id: order-rate
    type: rate-limit
    when: { kinds: [order, modify, cancel] }
    limits:
      - { max: 1000000, per: 1s }
      - { max: 10000000, per: 1m }
  - id: daily
    type: daily-cap
    maxOrders: 100000000
    maxGrossNotional: 100000000000000
`;

const WORKLOADS = [
  {
    name: 'order',
    apiId: 'kt10000',
    path: '/api/dostk/ordr',
    body: JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '71000', trde_tp: '0' }),
  },
  { name: 'query', apiId: 'ka10001', path: '/api/dostk/stkinfo', body: JSON.stringify({ stk_cd: '005930' }) },
] as const;

type Setup = 'memory' | 'redis-1' | 'redis-2';

interface Row {
  setup: Setup;
  workload: string;
  phase: 'moderate' | 'saturation';
  throughputRps: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: number;
}

async function tokenFor(guard: BenchChild): Promise<string> {
  const m = await guard.ask({ type: 'token' }, 'token');
  return m.type === 'token' ? m.token : '';
}

async function loadOn(guards: BenchChild[], w: (typeof WORKLOADS)[number], phase: Row['phase'], durationS: number): Promise<LoadResult[]> {
  const n = guards.length;
  return Promise.all(
    guards.map(async (g) => {
      const headers = { 'api-id': w.apiId, authorization: `Bearer ${await tokenFor(g)}` };
      const shape =
        phase === 'saturation' ? { connections: Math.max(1, Math.round(CONNECTIONS / n)) } : { connections: Math.max(1, Math.round(2 / n)), rate: RATE / n };
      return runLoad({ url: g.url, path: w.path, headers, body: w.body, durationS, ...shape });
    }),
  );
}

async function main(): Promise<void> {
  const creds = { appKey: randomBytes(24).toString('hex'), secretKey: randomBytes(24).toString('hex'), account: `5${randomInt(100_000_000, 999_999_999)}` };
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-replicas-'));
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(policyFile, POLICY);
  const redis = await startBenchRedis();
  const children: BenchChild[] = [];
  const rows: Row[] = [];
  try {
    const sim = await startChild('sim', { type: 'start', ...creds });
    children.push(sim);
    const guardConfig = (state: Record<string, unknown>) => ({ policy: { file: policyFile }, state, log: { level: 'warn' } });
    const start = async (state: Record<string, unknown>) => {
      const g = await startChild('guard', { type: 'start', ...creds, simUrl: sim.url, logLevel: 'warn', guardConfig: guardConfig(state) });
      children.push(g);
      return g;
    };
    const redisState = { backend: 'redis', redis: { url: redis.url } };
    const setups: Record<Setup, BenchChild[]> = {
      memory: [await start({ backend: 'memory' })],
      'redis-1': [await start(redisState)],
      'redis-2': [],
    };
    setups['redis-2'] = [setups['redis-1'][0]!, await start(redisState)];

    for (const w of WORKLOADS) {
      for (const phase of ['moderate', 'saturation'] as const) {
        for (const setup of ['memory', 'redis-1', 'redis-2'] as const) {
          await sim.ask({ type: 'reset' }, 'reset-done');
          const guards = setups[setup];
          await loadOn(guards, w, phase, WARMUP_S);
          const results = await loadOn(guards, w, phase, DURATION_S);
          const row: Row = {
            setup,
            workload: w.name,
            phase,
            throughputRps: round(
              results.reduce((s, r) => s + r.throughputRps, 0),
              1,
            ),
            p50ms: Math.max(...results.map((r) => r.latency.percentilesMs.p50!)),
            p99ms: Math.max(...results.map((r) => r.latency.percentilesMs.p99!)),
            non2xx: results.reduce((s, r) => s + r.non2xx, 0),
            errors: results.reduce((s, r) => s + r.errors, 0),
          };
          rows.push(row);
          process.stderr.write(
            `${w.name.padEnd(5)} ${phase.padEnd(10)} ${setup.padEnd(7)} ${row.throughputRps} req/s  p50 ${row.p50ms} ms  p99 ${row.p99ms} ms  non2xx ${row.non2xx}\n`,
          );
        }
      }
    }
    // Sanity: the shared counters really are in Redis.
    const res = await request(`${setups['redis-1'][0]!.adminUrl}/readyz`);
    await res.body.dump();
  } finally {
    for (const c of children.reverse()) await c.close().catch(() => undefined);
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const find = (s: Setup, w: string, p: string) => rows.find((r) => r.setup === s && r.workload === w && r.phase === p)!;
  const comparisons = WORKLOADS.flatMap((w) =>
    (['moderate', 'saturation'] as const).map((phase) => {
      const mem = find('memory', w.name, phase);
      const r1 = find('redis-1', w.name, phase);
      const r2 = find('redis-2', w.name, phase);
      return {
        workload: w.name,
        phase,
        redisAddedP99ms: round(r1.p99ms - mem.p99ms),
        redisAddedP50ms: round(r1.p50ms - mem.p50ms),
        throughputRatio: { redis1VsMemory: round(r1.throughputRps / mem.throughputRps, 2), redis2VsRedis1: round(r2.throughputRps / r1.throughputRps, 2) },
      };
    }),
  );
  console.log(
    JSON.stringify(
      {
        bench: 'replicas',
        durationS: DURATION_S,
        moderateRate: RATE,
        saturationConnections: CONNECTIONS,
        loadAverage: loadavg().map((x) => round(x, 2)),
        rows,
        comparisons,
      },
      null,
      2,
    ),
  );
}

await main();
