// Two sidecar processes on one Redis, three bots on one app key, the faithful
// simulator behind them: one broker token per key across replicas, issued
// single-flight, never revoked under a peer's lease, Kiwoom's limits kept
// across replicas, and a replica killed while holding a lease has its token
// revoked by the survivor once the lease lapses.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { startSimulator } from '../../proxy/sim/index.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/harness.js';
import { postJson, startReplica, type Replica } from '../helpers/replica-process.js';

const ACCOUNT = '8888000044';
const APP = { appKey: 'CANARYsharedAPPkey9a8b7c6d5e', secretKey: 'CANARYsharedSECRETkey1f2e3d4c5b6a' };
const BOTS = ['rb-1', 'rb-2', 'rb-3'];
const LEASE_TTL_MS = 2_000;

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const sim = await startSimulator({});
t.teardown(() => sim.close());
sim.registerApp({ ...APP, accountNo: ACCOUNT, cash: 5_000_000_000, holdings: [{ stkCd: '005930', qty: 10_000, avgPrice: 70_000 }] });

const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-bsrep-'));
await chmod(dataDir, 0o700);
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const policyFile = path.join(dataDir, 'policy.yaml');
await writeFile(policyFile, await readFile(new URL('../fixtures/policy-open.yaml', import.meta.url), 'utf8'));

function overrides(name: string): Record<string, unknown> {
  return {
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, enabled: true },
    // A patient bot: on a CPU-starved CI machine the paced calls bunch up, and a query may wait longer
    // than the default 1 s for its slot. What is tested is that Kiwoom refuses nothing and nothing is lost.
    upstream: { target: 'custom', url: sim.url, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000, limits: { queryMaxWaitMs: 10_000, orderMaxWaitMs: 10_000 } },
    demo: { enabled: false },
    brokerTokens: { revokeBaseDelayMs: 20, revokeMaxDelayMs: 200, leaseTtlMs: LEASE_TTL_MS, sweepIntervalMs: 300 },
    policy: { file: policyFile },
    risk: { enabled: false },
    state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 2000 } },
    audit: { replicaId: name, sinks: [{ type: 'file', dir: `audit-${name}` }] },
  };
}

const post = postJson;

async function metric(r: Replica, name: string): Promise<number> {
  const text = await (await request(`${r.adminUrl}/metrics`)).body.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
}

const A = await startReplica(
  'A',
  overrides('A'),
  BOTS.map((botId) => ({ botId, account: ACCOUNT, ...APP })),
);
t.teardown(() => A.stop());
const B = await startReplica('B', overrides('B'));
t.teardown(() => B.stop());
const secrets = A.botSecrets!;

async function token(r: Replica, bot: string): Promise<string> {
  const res = await post(`${r.url}/oauth2/token`, { grant_type: 'client_credentials', appkey: bot, secretkey: secrets[bot]! });
  if (res.json.return_code !== 0) throw new Error(`token exchange failed: ${res.text}`);
  return String(res.json.token);
}

const QUOTE = { stk_cd: '005930' };
const BALANCE = { qry_tp: '1', dmst_stex_tp: 'KRX' };
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '50000', trde_tp: '0' };

t.test('3 bots, 2 replicas, one key, 4.5 calls/s for 10 s: every call succeeds, Kiwoom refuses nothing, no token left after', async (t) => {
  const replicas = [A, B];
  const toks = new Map<string, string>();
  for (const r of replicas) for (const b of BOTS) toks.set(`${r.url}|${b}`, await token(r, b));
  const calls: Promise<{ status: number; json: Record<string, unknown>; text: string }>[] = [];
  const ordersBefore = sim.orders(ACCOUNT).length;
  let orders = 0;
  const started = Date.now();
  for (let i = 0; i < 45; i++) {
    // Paced at 4.5 calls/s; the mix of a trading service: mostly quotes, some balances, a few orders.
    await new Promise((res) => setTimeout(res, Math.max(0, started + i * (1000 / 4.5) - Date.now())));
    const r = replicas[i % 2]!;
    const bot = BOTS[i % 3]!;
    const headersFor = (apiId: string) => ({ 'api-id': apiId, authorization: `Bearer ${toks.get(`${r.url}|${bot}`)!}` });
    if (i % 10 === 9) {
      orders++;
      calls.push(post(`${r.url}/api/dostk/ordr`, { ...BUY, ord_uv: String(50_000 - i) }, headersFor('kt10000')));
    } else if (i % 5 === 2) calls.push(post(`${r.url}/api/dostk/acnt`, BALANCE, headersFor('kt00018')));
    else calls.push(post(`${r.url}/api/dostk/stkinfo`, QUOTE, headersFor('ka10001')));
  }
  const results = await Promise.all(calls);
  const failed = results.filter((r) => r.json.return_code !== 0);
  t.equal(
    failed.length,
    0,
    `every call succeeded (${failed
      .slice(0, 3)
      .map((r) => r.text)
      .join(' | ')})`,
  );
  t.equal(results.filter((r) => /\[(8005|1700|1701|1702)/.test(String(r.json.return_msg))).length, 0, 'no [8005] or [1700] reaches a bot');
  const s = sim.stats();
  t.same(s.refusals, { 1634: 0, 1700: 0, 1701: 0, 1702: 0, 8005: 0, 8010: 0 }, 'the simulator refused nothing');
  t.equal(s.refusedIssues, 0, 'au10001 never exceeded its limit');
  t.ok(s.peakIssuesPerSecond <= 2, `peak issues ${s.peakIssuesPerSecond}/s`);
  t.equal(sim.orders(ACCOUNT).length - ordersBefore, orders, 'every order reached Kiwoom once');
  const endedAt = Date.now();
  await waitFor(() => sim.liveTokens() === 0, 15_000, 'no live token after the load');
  t.comment(`last token revoked ${Date.now() - endedAt} ms after the load ended (idleRevokeMs 0); ${s.tokensIssued} issues for ${results.length} calls`);
});

t.test('a replica killed while holding a lease: the peer revokes the token once the lease lapses', async (t) => {
  const issuedBefore = sim.stats().tokensIssued;
  sim.faults.set({ latencyMs: 4_000 });
  const tok = await token(A, BOTS[0]!);
  const inflight = post(`${A.url}/api/dostk/stkinfo`, QUOTE, { 'api-id': 'ka10001', authorization: `Bearer ${tok}` }).catch(() => undefined);
  // A has the token and its call leases it (the call then waits out the latency at Kiwoom). Killed before A took
  // Kiwoom's answer to the issue, it would leave an unfinished issue instead, revoked after issueLockTtlMs.
  await waitFor(
    async () => sim.stats().tokensIssued > issuedBefore && sim.liveTokens() === 1 && (await metric(A, 'kguard_broker_tokens_outstanding')) >= 1,
    20_000,
    'A holds a live token',
  );
  A.child.kill('SIGKILL');
  await A.exited;
  await inflight;
  sim.faults.clear();
  t.equal(sim.liveTokens(), 1, 'the dead replica left a live token');
  const killedAt = Date.now();
  await waitFor(() => sim.liveTokens() === 0, 20_000, 'the peer revoked the orphan');
  // Counted once the sweep has also dropped the session record, a moment after Kiwoom saw the revoke.
  await waitFor(async () => (await metric(B, 'kguard_broker_token_orphans_revoked_total')) >= 1, 10_000, 'B counted the orphan it revoked');
  t.pass('B counted the orphan it revoked');
  t.comment(`revoked by the peer ${Date.now() - killedAt} ms after the kill (lease TTL ${LEASE_TTL_MS} ms, sweep every ~300 ms)`);
  // B still serves the key afterwards.
  const r = await post(`${B.url}/api/dostk/stkinfo`, QUOTE, { 'api-id': 'ka10001', authorization: `Bearer ${await token(B, BOTS[1]!)}` });
  t.equal(r.json.return_code, 0, r.text);
  await waitFor(() => sim.liveTokens() === 0, 15_000, 'and revokes it again when idle');
});
