// `npm run bench:realtime`: what relaying Kiwoom's realtime WebSocket through
// the sidecar costs, measured in one run (not a test; prints JSON and writes
// it to bench/results/realtime-<timestamp>.json).
//
// Baseline: one client logged in directly on the simulator's WebSocket with
// the broker token (what a bot holding the real key would do; Kiwoom allows
// only one such session per key). Against it: 1 and 50 bots on the same key
// through the sidecar, sharing its one upstream session.
// Per setup: latency from the simulator's push to the bot's receipt (every
// bot), and delivered frames per second for bursts of pushes.
// Knobs: BENCH_PUSHES (per setup, default 2000), BENCH_BOTS (default "1,50").
import { mkdir, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { request } from 'undici';
import WebSocket from 'ws';
import { loadConfig } from '../proxy/common/config.js';
import { startSidecar } from '../proxy/server/sidecar.js';
import { startSimulator, type Simulator } from '../proxy/sim/index.js';
import { BENCH_POLICY } from './lib/bench-policy.js';
import { round, summarize } from './lib/stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const PUSHES = Number(process.env.BENCH_PUSHES ?? 2000);
const BOTS = (process.env.BENCH_BOTS ?? '1,50').split(',').map(Number);
const APP = { appKey: 'BENCHrtAPPkey1a2b3c4d5e6f7a', secretKey: 'BENCHrtSECRETkey7a8b9c0d1e2f3a4b5c' };
const ACCOUNT = '9099900022';
const SYMBOL = '005930';

interface Client {
  ws: WebSocket;
  received: number;
  latencies: number[];
}

/** Push times by sequence: the simulator's pushQuote is synchronous, so the nth push of SYMBOL is the nth frame. */
function open(url: string, login: string, pushedAt: number[]): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const c: Client = { ws, received: 0, latencies: [] };
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as { trnm: string; return_code?: number };
      if (f.trnm === 'PING') ws.send(d.toString());
      else if (f.trnm === 'LOGIN') {
        if (f.return_code !== 0) reject(new Error(`login refused: ${d.toString()}`));
        else ws.send(JSON.stringify({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: [SYMBOL], type: ['0B'] }] }));
      } else if (f.trnm === 'REG') resolve(c);
      else if (f.trnm === 'REAL') {
        const at = pushedAt[c.received];
        if (at !== undefined) c.latencies.push(performance.now() - at);
        c.received++;
      }
    });
    ws.once('open', () => ws.send(login));
    ws.once('error', reject);
  });
}

async function drive(sim: Simulator, clients: Client[], pushedAt: number[]) {
  const started = performance.now();
  // Bursts of 20 with a yield, so neither side's buffer policy drops frames.
  for (let i = 0; i < PUSHES; i += 20) {
    for (let j = 0; j < 20 && i + j < PUSHES; j++) {
      pushedAt.push(performance.now());
      sim.pushQuote(SYMBOL);
    }
    await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + 60_000;
  while (clients.some((c) => c.received < PUSHES) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - started) / 1000;
  const delivered = clients.reduce((s, c) => s + c.received, 0);
  const lat = summarize(clients.flatMap((c) => c.latencies));
  for (const c of clients) c.ws.close();
  return {
    bots: clients.length,
    pushes: PUSHES,
    delivered,
    lost: PUSHES * clients.length - delivered,
    framesPerSecond: round(delivered / seconds, 0),
    latencyMs: lat.percentilesMs,
    meanMs: round(lat.meanMs),
  };
}

async function main() {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-rt-'));
  await chmod(dir, 0o700);
  const tokens: Buffer[] = [];
  const sim = await startSimulator({ wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0, wsMaxRegistrations: 1000, onTokenIssued: (b) => tokens.push(b) });
  sim.registerApp({ ...APP, accountNo: ACCOUNT });
  const results: Record<string, unknown>[] = [];
  try {
    // Baseline: the broker token straight to the simulator (one session per key).
    const issued = await request(`${sim.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'au10001' },
      body: JSON.stringify({ grant_type: 'client_credentials', appkey: APP.appKey, secretkey: APP.secretKey }),
    });
    const { token } = (await issued.body.json()) as { token: string };
    let pushedAt: number[] = [];
    const direct = await open(sim.wsUrl, JSON.stringify({ trnm: 'LOGIN', token }), pushedAt);
    results.push({ setup: 'direct to the simulator (baseline)', ...(await drive(sim, [direct], pushedAt)) });
    await request(`${sim.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'au10002' },
      body: JSON.stringify({ appkey: APP.appKey, secretkey: APP.secretKey, token }),
    });

    const policyFile = path.join(dir, 'policy.yaml');
    await writeFile(
      policyFile,
      BENCH_POLICY.replace('kinds: [query, account, order, modify, cancel]', 'kinds: [query, account, order, modify, cancel, realtime]'),
    );
    await mkdir(path.join(dir, 'data'), { mode: 0o700 });
    const config = await loadConfig({
      env: {},
      overrides: {
        dataDir: path.join(dir, 'data'),
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0, enabled: false },
        upstream: { target: 'custom', url: sim.url },
        demo: { enabled: false },
        policy: { file: policyFile },
        risk: { enabled: false },
        realtime: { maxBufferedBytes: 64 * 1024 * 1024 },
      },
    });
    const sidecar = await startSidecar(config, { logger: pino({ level: 'silent' }), cwd: ROOT });
    try {
      const max = Math.max(...BOTS);
      const logins: string[] = [];
      for (let i = 0; i < max; i++) {
        const id = `bench-rt-${i}`;
        const { secret } = await sidecar.parts.bots.add({ id, owner: 'bench', account: ACCOUNT, allowed: ['kind:realtime'] });
        await sidecar.parts.vault.importCredentials({ botId: id, account: ACCOUNT, appKey: Buffer.from(APP.appKey), secretKey: Buffer.from(APP.secretKey) });
        const r = await request(`${sidecar.url}/oauth2/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json;charset=UTF-8' },
          body: JSON.stringify({ grant_type: 'client_credentials', appkey: id, secretkey: secret.toString('latin1') }),
        });
        const { token } = (await r.body.json()) as { token: string };
        logins.push(JSON.stringify({ trnm: 'LOGIN', token }));
      }
      for (const n of BOTS) {
        pushedAt = [];
        const clients = await Promise.all(logins.slice(0, n).map((l) => open(sidecar.realtimeUrl, l, pushedAt)));
        results.push({
          setup: `through the sidecar, ${n} bot(s) on one key`,
          ...(await drive(sim, clients, pushedAt)),
          upstreamSessions: sim.stats().ws.sessions,
        });
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      await sidecar.close();
    }
  } finally {
    await sim.close();
    for (const b of tokens) b.fill(0);
    await rm(dir, { recursive: true, force: true });
  }
  const base = results[0] as { latencyMs: Record<string, number>; framesPerSecond: number };
  for (const r of results.slice(1) as {
    latencyMs: Record<string, number>;
    framesPerSecond: number;
    addedP50Ms?: number;
    addedP99Ms?: number;
    throughputRatio?: number;
  }[]) {
    r.addedP50Ms = round(r.latencyMs.p50! - base.latencyMs.p50!);
    r.addedP99Ms = round(r.latencyMs.p99! - base.latencyMs.p99!);
    r.throughputRatio = round(r.framesPerSecond / base.framesPerSecond, 2);
  }
  const out = { bench: 'realtime', at: new Date().toISOString(), node: process.version, pushesPerSetup: PUSHES, results };
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(path.join(RESULTS_DIR, `realtime-${out.at.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
