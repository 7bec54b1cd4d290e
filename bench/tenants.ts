// `npm run bench:tenants` (issue 15, many tenants): measured in one run, not a
// test. Writes bench/results/tenants-<ts>.json, .md and a percentile SVG.
//
//  1. Setup through the bulk path: `kguard bots import --from-file` (offline,
//     a fresh process) of 1,000 and of 10,000 bots with a credential record
//     each; and POST /admin/v1/bots/batch of 1,000 to a running sidecar.
//  2. Start-up with 10,000 bots and records: fork-to-ready, startSidecar time,
//     RSS and heap after a forced GC.
//  3. 100 bots x 2 calls/s with the mix (80 % ka10001, 15 % kt00018, 5 %
//     kt10000) against one bot at the same total rate, each through its own
//     app key. The upstream is the ideal simulator (it refuses nothing, so one
//     key may take 200 calls/s); the sidecar runs its default configuration
//     for the 100 bots (risk scoring off, as in bench:foundation: it rightly
//     holds orders of bots with no baseline for approval), then with a short
//     linger (brokerTokens.idleRevokeMs = BENCH_LINGER, default 1,000 ms: a
//     token outlives a bot's 500 ms gap instead of an issue + revoke per
//     call), and one bot at the same total rate with that linger and Kiwoom's
//     per-key limits off (on, one key at 200/s would wait for Kiwoom's 5/s).
//  4. 1,000 idle bot keep-alive connections (each made one token exchange):
//     the sidecar's RSS after GC before and after.
// Knobs: BENCH_SECONDS (measured per load run, default 20), BENCH_WARMUP (5),
// BENCH_BOTS (100), BENCH_RATE (2 per bot), BENCH_BIG (10000), BENCH_IDLE (1000),
// BENCH_SIM (ideal | faithful), BENCH_LOG (sidecar log level, default warn), BENCH_LINGER (1000).
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { forEachLimited } from '../proxy/common/fsutil.js';
import { percentileChartSvg } from './lib/svg.js';
import { round } from './lib/stats.js';
import { batchBody, cliImport, exchangeAll, postBatch, runMix, type MixResult } from './lib/tenant-load.js';
import { startTenantChild, tenantKeys, type TenantChild } from './lib/tenant-protocol.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const SECONDS = env('BENCH_SECONDS', 20);
const WARMUP = env('BENCH_WARMUP', 5);
const BOTS = env('BENCH_BOTS', 100);
const RATE = env('BENCH_RATE', 2);
const BIG = env('BENCH_BIG', 10_000);
const IDLE = env('BENCH_IDLE', 1_000);
const SETUP = 1_000;
const IDEAL = (process.env.BENCH_SIM ?? 'ideal') !== 'faithful';
const LOG = process.env.BENCH_LOG ?? 'warn';
const LINGER = env('BENCH_LINGER', 1_000);
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

async function freshDir(root: string, name: string): Promise<string> {
  const d = path.join(root, name);
  await mkdir(d, { mode: 0o700 });
  return path.join(d, 'data');
}

// Idle connections stay open for the measurement (the default keep-alive is 5 s).
const GUARD_CONFIG = { limits: { keepAliveTimeoutMs: 120_000, maxConnections: 4_096 }, risk: { enabled: false } };

const root = await mkdtemp(path.join(tmpdir(), 'kguard-bench-tenants-'));
await chmod(root, 0o700);
const children: TenantChild[] = [];
const result: Record<string, unknown> = {
  bench: 'tenants',
  when: new Date().toISOString(),
  options: { seconds: SECONDS, warmupS: WARMUP, bots: BOTS, ratePerBot: RATE, big: BIG, idle: IDLE, simulator: IDEAL ? 'ideal' : 'faithful' },
};
try {
  const sim = await startTenantChild('sim', { type: 'start', apps: Math.max(BIG, SETUP), ideal: IDEAL });
  children.push(sim);
  const simUrl = sim.ready.url;

  // 1-2. The bulk path offline, then start-up on what it wrote.
  log(`setup: CLI import of ${SETUP} and ${BIG} bots`);
  const cli1k = await cliImport(root, await freshDir(root, 'cli1k'), SETUP);
  const bigData = await freshDir(root, 'big');
  const cliBig = await cliImport(root, bigData, BIG);
  log(`start-up with ${BIG} bots`);
  const big = await startTenantChild('guard', { type: 'start', dataDir: bigData, simUrl, logLevel: LOG, guardConfig: GUARD_CONFIG });
  const startup = {
    bots: big.ready.bots,
    forkToReadyMs: big.forkToReadyMs,
    startSidecarMs: big.ready.startMs,
    rssMB: big.ready.rssMB,
    heapUsedMB: big.ready.heapUsedMB,
  };
  await big.close();

  // 3. The default sidecar: 1,000 bots through the admin API, then the many-tenant load.
  const guard = await startTenantChild('guard', { type: 'start', dataDir: await freshDir(root, 'guard'), simUrl, logLevel: LOG, guardConfig: GUARD_CONFIG });
  children.push(guard);
  const { body, secrets } = batchBody(0, SETUP);
  const api1k = await postBatch(guard.ready.adminUrl!, guard.ready.adminToken!, body);
  body.fill(0);
  result.setup = { cliImport1000Ms: round(cli1k, 0), cliImportBigMs: round(cliBig, 0), bigCount: BIG, adminBatch1000Ms: round(api1k, 0) };
  result.startup = startup;
  log(`setup done: ${JSON.stringify(result.setup)}; start-up ${JSON.stringify(startup)}`);

  // 4 (first, on a sidecar not yet loaded). Idle keep-alive connections, one bot each (token exchange, then silence).
  log(`${IDLE} idle keep-alive connections`);
  const before = await guard.ask({ type: 'mem' }, 'mem');
  const clients: Client[] = [];
  const n = Math.min(IDLE, SETUP);
  await forEachLimited(
    Array.from({ length: n }, (_, i) => i),
    32,
    async (i) => {
      const c = new Client(guard.ready.url, { keepAliveTimeout: 120_000 });
      clients.push(c);
      const res = await c.request({
        method: 'POST',
        path: '/oauth2/token',
        headers: { 'content-type': 'application/json;charset=UTF-8' },
        body: Buffer.concat([
          Buffer.from(`{"grant_type":"client_credentials","appkey":"${tenantKeys(i).botId}","secretkey":"`),
          secrets[i]!,
          Buffer.from('"}'),
        ]),
      });
      await res.body.dump();
    },
  );
  await new Promise((r) => setTimeout(r, 1_000));
  const after = await guard.ask({ type: 'mem' }, 'mem');
  await Promise.all(clients.map((c) => c.close()));

  const tokens = await exchangeAll(guard.ready.url, 0, secrets, BOTS);
  for (const s of secrets) s.fill(0);
  log(`${BOTS} bots x ${RATE}/s, default configuration`);
  const many = await runMix({ url: guard.ready.url, tokens, ratePerBot: RATE, warmupS: WARMUP, seconds: SECONDS, connectionsPerBot: 2 });
  const guardTokens = await guard.ask({ type: 'stats' }, 'stats');
  const simAfterDefault = await sim.ask({ type: 'stats' }, 'stats');

  // The same with a short linger (brokerTokens.idleRevokeMs = LINGER): a key's token outlives a
  // bot's gap between calls instead of being issued and revoked for each one.
  const lingerCfg = { ...GUARD_CONFIG, brokerTokens: { idleRevokeMs: LINGER } };
  const linger = await startTenantChild('guard', { type: 'start', dataDir: await freshDir(root, 'linger'), simUrl, logLevel: LOG, guardConfig: lingerCfg });
  children.push(linger);
  const b2 = batchBody(0, BOTS);
  await postBatch(linger.ready.adminUrl!, linger.ready.adminToken!, b2.body);
  b2.body.fill(0);
  const lingerTokens = await exchangeAll(linger.ready.url, 0, b2.secrets, BOTS);
  log(`${BOTS} bots x ${RATE}/s, idleRevokeMs ${LINGER}`);
  const manyLinger = await runMix({ url: linger.ready.url, tokens: lingerTokens, ratePerBot: RATE, warmupS: WARMUP, seconds: SECONDS, connectionsPerBot: 2 });
  await linger.close();
  // One bot at the same total rate: Kiwoom's per-key limits must be off (on, one key at 200/s waits for 5/s).
  const off = await startTenantChild('guard', {
    type: 'start',
    dataDir: await freshDir(root, 'off'),
    simUrl,
    logLevel: LOG,
    limitsOff: true,
    guardConfig: lingerCfg,
  });
  children.push(off);
  const b3 = batchBody(0, 1);
  await postBatch(off.ready.adminUrl!, off.ready.adminToken!, b3.body);
  b3.body.fill(0);
  const offTokens = await exchangeAll(off.ready.url, 0, b3.secrets, 1);
  log(`1 bot x ${BOTS * RATE}/s, limits off, idleRevokeMs ${LINGER}`);
  const one = await runMix({ url: off.ready.url, tokens: offTokens, ratePerBot: BOTS * RATE, warmupS: WARMUP, seconds: SECONDS, connectionsPerBot: 16 });
  for (const s of [...b2.secrets, ...b3.secrets]) s.fill(0);
  await off.close();

  const summary = (r: MixResult) => ({
    p50: r.all.percentilesMs.p50,
    p90: r.all.percentilesMs.p90,
    p99: r.all.percentilesMs.p99,
    max: r.all.maxMs,
    ok: r.ok,
    calls: r.calls,
    achievedRps: r.achievedRps,
    failures: r.failures,
    byKind: Object.fromEntries(Object.entries(r.byKind).map(([k, v]) => [k, { count: v.count, p50: v.percentilesMs.p50, p99: v.percentilesMs.p99 }])),
  });
  result.load = {
    manyDefault: summary(many),
    manyLinger: summary(manyLinger),
    oneBotLimitsOff: summary(one),
    ratioP99: {
      defaultVsOne: round(many.all.percentilesMs.p99! / one.all.percentilesMs.p99!, 2),
      lingerVsOne: round(manyLinger.all.percentilesMs.p99! / one.all.percentilesMs.p99!, 2),
    },
    ratioP50: {
      defaultVsOne: round(many.all.percentilesMs.p50! / one.all.percentilesMs.p50!, 2),
      lingerVsOne: round(manyLinger.all.percentilesMs.p50! / one.all.percentilesMs.p50!, 2),
    },
    sidecarAfterManyDefault: guardTokens.stats,
    simulatorAfterManyDefault: simAfterDefault.stats,
  };
  result.idle = {
    connections: n,
    rssBeforeMB: before.rssMB,
    rssAfterMB: after.rssMB,
    addedMB: round(after.rssMB - before.rssMB, 1),
    heapAddedMB: round(after.heapUsedMB - before.heapUsedMB, 2),
  };
  result.method = {
    latency:
      'send to parsed answer per call (undici Pool per bot), float ms, nearest-rank percentiles over calls answered return_code 0 in the measured window (warm-up excluded); open loop, each bot paced at a fixed interval from a random phase.',
    memory: 'process.memoryUsage() in the sidecar process right after global.gc() (run with --expose-gc).',
  };
  const stamp = String(result.when).replace(/[:.]/g, '-');
  await mkdir(RESULTS, { recursive: true });
  await writeFile(path.join(RESULTS, `tenants-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const pts = (r: MixResult) => ['p50', 'p90', 'p99', 'p99.9'].map((p) => [Number(p.slice(1)), r.all.percentilesMs[p]!] as const);
  await writeFile(
    path.join(RESULTS, `tenants-${stamp}.svg`),
    percentileChartSvg(
      [
        { name: `${BOTS} bots, default`, points: pts(many) },
        { name: `${BOTS} bots, linger ${LINGER} ms`, points: pts(manyLinger) },
        { name: `1 bot, linger, limits off`, points: pts(one) },
      ],
      {
        title: `kiwoom-guard: ${BOTS} bots x ${RATE}/s vs one bot at ${BOTS * RATE}/s`,
        subtitle: `mix 80/15/5 ka10001/kt00018/kt10000, ${SECONDS} s measured`,
      },
    ),
  );
  const md = [
    `# bench:tenants ${result.when}`,
    '',
    `Setup (bulk path): CLI import ${SETUP} bots ${round(cli1k / 1000, 1)} s, ${BIG} bots ${round(cliBig / 1000, 1)} s; admin batch ${SETUP} bots ${round(api1k / 1000, 1)} s.`,
    `Start-up with ${startup.bots} bots: ${startup.startSidecarMs} ms (fork to ready ${startup.forkToReadyMs} ms), RSS ${startup.rssMB} MB, heap ${startup.heapUsedMB} MB.`,
    '',
    '| run | p50 ms | p90 ms | p99 ms | max ms | ok/calls |',
    '|---|---|---|---|---|---|',
    ...(
      [
        [`${BOTS} bots x ${RATE}/s, default config`, many],
        [`${BOTS} bots x ${RATE}/s, idleRevokeMs ${LINGER}`, manyLinger],
        [`1 bot x ${BOTS * RATE}/s, idleRevokeMs ${LINGER}, limits off`, one],
      ] as const
    ).map(
      ([name, r]) => `| ${name} | ${r.all.percentilesMs.p50} | ${r.all.percentilesMs.p90} | ${r.all.percentilesMs.p99} | ${r.all.maxMs} | ${r.ok}/${r.calls} |`,
    ),
    '',
    `p99 ratio many/one: ${(result.load as { ratioP99: Record<string, number> }).ratioP99.defaultVsOne} (default idleRevokeMs 0), ${(result.load as { ratioP99: Record<string, number> }).ratioP99.lingerVsOne} (idleRevokeMs ${LINGER}); goal <= 2.`,
    `${n} idle keep-alive connections: RSS +${(result.idle as { addedMB: number }).addedMB} MB (goal < 50 MB).`,
    '',
  ].join('\n');
  await writeFile(path.join(RESULTS, `tenants-${stamp}.md`), md);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n${md}\n`);
} finally {
  for (const c of children.reverse()) await c.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}
