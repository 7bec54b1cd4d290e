// `npm run bench:sessions`: what one broker session per app key costs and
// saves, measured in one run (not a test; prints JSON and writes it to
// bench/results/sessions-<timestamp>.json).
//
// 1. Exposure and latency per key at 1, 4 and 20 calls/s (quotes), on the
//    idealised simulator (it refuses nothing, so both designs face the same
//    upstream; the sidecar keeps Kiwoom's limits with its governor, as in
//    production): the baseline is the previous design, a forwarder that issues a
//    token for every call and revokes it right after (the bot waits for issue
//    + call, the revoke runs off its path); against it, kiwoom-guard's shared
//    session. Exposure = seconds a broker token was live, per hour of traffic.
// 2. Cancel-all of 50 open orders at Kiwoom's limit (5 orders/s) on the
//    faithful simulator through the real lockdown path.
// Knobs: BENCH_SECONDS (per rate, default 10), BENCH_RATES (default "1,4,20").
import { mkdir, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Pool } from 'undici';
import { loadConfig } from '../proxy/common/config.js';
import { startSidecar, type Sidecar } from '../proxy/server/sidecar.js';
import { startSimulator, type Simulator } from '../proxy/sim/index.js';
import { BENCH_POLICY } from './lib/bench-policy.js';
import { round, summarize } from './lib/stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATES = (process.env.BENCH_RATES ?? '1,4,20').split(',').map(Number);
const APP = { appKey: 'BENCHsessAPPkey1a2b3c4d5e6f', secretKey: 'BENCHsessSECRETkey7a8b9c0d1e2f3a4b' };
const ACCOUNT = '9099900011';
const QUOTE = JSON.stringify({ stk_cd: '005930' });
const JSON_CT = 'application/json;charset=UTF-8';

async function post(pool: Pool, p: string, body: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const res = await pool.request({ method: 'POST', path: p, body, headers: { 'content-type': JSON_CT, ...headers } });
  return (await res.body.json()) as Record<string, unknown>;
}

/** Paced open-loop load: one call every 1000/rate ms for `seconds`, each timed. */
async function paced(rate: number, seconds: number, call: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      (async () => {
        const t0 = performance.now();
        await call();
        samples.push(performance.now() - t0);
      })(),
    );
  }
  await Promise.all(inflight);
  return samples;
}

/** The previous design: issue, call, then revoke off the bot's path. */
async function perCallDesign(sim: Simulator, rate: number): Promise<{ latency: ReturnType<typeof summarize>; liveSeconds: number; issues: number }> {
  const pool = new Pool(sim.url, { connections: 32 });
  let liveMs = 0;
  const revokes: Promise<void>[] = [];
  const samples = await paced(rate, SECONDS, async () => {
    const issuedAt = performance.now();
    const tok = await post(pool, '/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', ...{ appkey: APP.appKey, secretkey: APP.secretKey } }));
    const token = String(tok.token);
    await post(pool, '/api/dostk/stkinfo', QUOTE, { 'api-id': 'ka10001', authorization: `Bearer ${token}` });
    revokes.push(
      post(pool, '/oauth2/revoke', JSON.stringify({ appkey: APP.appKey, secretkey: APP.secretKey, token })).then(() => {
        liveMs += performance.now() - issuedAt;
      }),
    );
  });
  await Promise.all(revokes);
  await pool.close();
  return { latency: summarize(samples), liveSeconds: liveMs / 1000, issues: samples.length };
}

async function guard(simUrl: string, dir: string, limits: 'off' | Record<string, number>): Promise<{ sidecar: Sidecar; token: string; pool: Pool }> {
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(policyFile, BENCH_POLICY);
  const config = await loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0, enabled: false },
      upstream: { target: 'custom', url: simUrl, limits },
      demo: { enabled: false },
      policy: { file: policyFile },
      risk: { enabled: false },
    },
  });
  const sidecar = await startSidecar(config, { logger: pino({ level: 'silent' }), cwd: ROOT });
  const { secret } = await sidecar.parts.bots.add({
    id: 'bench-bot',
    owner: 'bench',
    account: ACCOUNT,
    allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:cancel'],
  });
  await sidecar.parts.vault.importCredentials({ botId: 'bench-bot', account: ACCOUNT, appKey: Buffer.from(APP.appKey), secretKey: Buffer.from(APP.secretKey) });
  const pool = new Pool(sidecar.url, { connections: 32 });
  const tok = await post(
    pool,
    '/oauth2/token',
    JSON.stringify({ grant_type: 'client_credentials', appkey: 'bench-bot', secretkey: secret.toString('latin1') }),
  );
  secret.fill(0);
  return { sidecar, token: String(tok.token), pool };
}

async function liveSecondsOf(sidecar: Sidecar): Promise<number> {
  const text = await sidecar.parts.registry.getSingleMetricAsString('kguard_broker_token_live_seconds_total');
  return text
    .split('\n')
    .filter((l) => l.startsWith('kguard_broker_token_live_seconds_total{'))
    .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
}

async function sessionDesign(
  sim: Simulator,
  rate: number,
): Promise<{ latency: ReturnType<typeof summarize>; liveSeconds: number; issues: number; refused: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-sessions-'));
  await chmod(dir, 0o700);
  const g = await guard(sim.url, dir, {});
  const issuedBefore = sim.stats().tokensIssued;
  let refused = 0;
  try {
    const samples = await paced(rate, SECONDS, async () => {
      const r = await post(g.pool, '/api/dostk/stkinfo', QUOTE, { 'api-id': 'ka10001', authorization: `Bearer ${g.token}` });
      if (r.return_code !== 0) refused++;
    });
    // The last token is revoked once idle; wait for it so its seconds are counted.
    for (let i = 0; i < 200 && g.sidecar.parts.brokerSessions.outstanding() > 0; i++) await new Promise((r) => setTimeout(r, 25));
    return { latency: summarize(samples), liveSeconds: await liveSecondsOf(g.sidecar), issues: sim.stats().tokensIssued - issuedBefore, refused };
  } finally {
    await g.pool.close();
    await g.sidecar.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function cancelAllAtLimit(): Promise<Record<string, unknown>> {
  const sim = await startSimulator({});
  sim.registerApp({ ...APP, accountNo: ACCOUNT, cash: 10_000_000_000 });
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-cancel-'));
  await chmod(dir, 0o700);
  const g = await guard(sim.url, dir, { orderMaxWaitMs: 30_000 });
  try {
    for (let i = 0; i < 50; i++) {
      await post(
        g.pool,
        '/api/dostk/ordr',
        JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: String(50_000 - i * 10), trde_tp: '0' }),
        { 'api-id': 'kt10000', authorization: `Bearer ${g.token}` },
      );
    }
    const open = sim.orders(ACCOUNT).filter((o) => o.status === 'open').length;
    const t0 = performance.now();
    const report = await g.sidecar.parts.responder.lockdown({ botId: 'bench-bot', reason: 'bench', actor: 'bench' });
    const ms = performance.now() - t0;
    const cancels = sim.requestLog().filter((r) => r.apiId === 'kt10003');
    return {
      openOrdersBefore: open,
      openOrdersAfter: sim.orders(ACCOUNT).filter((o) => o.status === 'open').length,
      lockdownMs: round(ms, 1),
      cancelConfirmedMs: (report as unknown as { timings: Record<string, number> }).timings.cancelConfirmedMs,
      cancelsSent: cancels.length,
      kiwoomRefusals: sim.stats().refusals,
      floorMs: 'ceil(50 / 5 per s) = 10 s at the order limit, plus one listing before and after',
    };
  } finally {
    await g.pool.close();
    await g.sidecar.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const sim = await startSimulator({ ideal: true });
sim.registerApp({ ...APP, accountNo: ACCOUNT, cash: 10_000_000_000 });
const rows: Record<string, unknown>[] = [];
for (const rate of RATES) {
  const base = await perCallDesign(sim, rate);
  const sess = await sessionDesign(sim, rate);
  const hours = SECONDS / 3600;
  rows.push({
    callsPerSecond: rate,
    perCall: {
      p50Ms: base.latency.percentilesMs.p50,
      p99Ms: base.latency.percentilesMs.p99,
      issues: base.issues,
      liveSecondsPerHour: round(base.liveSeconds / hours, 1),
    },
    // Above 5 queries/s Kiwoom refuses; the governor queues up to 1 s, then refuses with KG5006 (counted here).
    session: {
      p50Ms: sess.latency.percentilesMs.p50,
      p99Ms: sess.latency.percentilesMs.p99,
      issues: sess.issues,
      liveSecondsPerHour: round(sess.liveSeconds / hours, 1),
      refusedByGovernor: sess.refused,
    },
    ratio: {
      p50: round(sess.latency.percentilesMs.p50! / base.latency.percentilesMs.p50!, 2),
      p99: round(sess.latency.percentilesMs.p99! / base.latency.percentilesMs.p99!, 2),
      exposure: round(sess.liveSeconds / Math.max(1e-9, base.liveSeconds), 2),
      issues: round(sess.issues / base.issues, 3),
    },
  });
  process.stderr.write(`${rate}/s done\n`);
}
await sim.close();
const cancelAll = await cancelAllAtLimit();
const result = {
  bench: 'broker-sessions',
  when: new Date().toISOString(),
  secondsPerRate: SECONDS,
  note: "The per-call baseline would be refused by the real Kiwoom above ~2 calls/s (token issue limit); the ideal simulator lets it run for comparison. Latency: the bot's view through each design (the per-call baseline is a bare forwarder with no checks, so the ratio also contains the sidecar's policy/audit/auth cost). Exposure: broker-token live seconds per hour of this traffic.",
  rates: rows,
  cancelAll,
};
await mkdir(RESULTS_DIR, { recursive: true });
const file = path.join(RESULTS_DIR, `sessions-${result.when.replace(/[:.]/g, '-')}.json`);
await writeFile(file, JSON.stringify(result, null, 2));
process.stdout.write(`${JSON.stringify(result, null, 2)}\n${file}\n`);
