// Three sidecar processes on one Redis: rate limits are shared exactly, a
// lockdown issued on replica A stops replica B from forwarding at once, and
// losing Redis stops everything until it is back (and confirmed if empty).
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { startSimulator } from '../../proxy/sim/index.js';
import { PATIENT_REDIS, redisCli, startRedis } from '../helpers/redis.js';
import { postJson, startReplica, type Replica } from '../helpers/replica-process.js';

// One bot for the shared limit, another (own account and app) for the lockdown.
const BOT = 'bot-replicas';
const ACCOUNT = '8888000022';
const APP = { appKey: 'CANARYreplicaAPPkey0b1c2d3e', secretKey: 'CANARYreplicaSECRETkey4f5a6b7c8d9e' };
const LOCK_BOT = 'bot-lockdown';
const LOCK_ACCOUNT = '8888000033';
const LOCK_APP = { appKey: 'CANARYlockAPPkey1a2b3c4d5e', secretKey: 'CANARYlockSECRETkey6f7a8b9c0d1e' };
const RATE = 30;

const redis = await startRedis();
t.teardown(() => redis.cleanup());
// About the policy's shared limits, lockdown and Redis loss across replicas, with bursts of 90 orders:
// the idealised simulator and no governor. Kiwoom's own limits across replicas: broker-sessions-replicas.test.ts.
const sim = await startSimulator({ ideal: true });
t.teardown(() => sim.close());
sim.registerApp({ ...APP, accountNo: ACCOUNT, cash: 5_000_000_000, holdings: [{ stkCd: '005930', qty: 10_000, avgPrice: 70_000 }] });
sim.registerApp({ ...LOCK_APP, accountNo: LOCK_ACCOUNT, cash: 5_000_000_000, holdings: [{ stkCd: '005930', qty: 10_000, avgPrice: 70_000 }] });

const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-replicas-'));
await chmod(dataDir, 0o700);
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const open = await readFile(new URL('../fixtures/policy-open.yaml', import.meta.url), 'utf8');
const policyFile = path.join(dataDir, 'policy.yaml');
await writeFile(policyFile, open.replace('- { max: 1000, per: 1s }', `- { max: ${RATE}, per: 1m }`));

function overrides(name: string): Record<string, unknown> {
  return {
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, enabled: true },
    upstream: { target: 'custom', url: sim.url, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, limits: 'off' },
    demo: { enabled: false },
    brokerTokens: { revokeBaseDelayMs: 20, revokeMaxDelayMs: 200 },
    policy: { file: policyFile },
    // Burst traffic from one bot is what this test does on purpose; keep the risk engine from locking it.
    risk: { enabled: false },
    // Not about slow Redis: two suites at once on 2 cores missed a 1 s command budget (one order of 90 refused KG7001).
    state: { backend: 'redis', redis: { url: redis.url, ...PATIENT_REDIS } },
    audit: { replicaId: name, sinks: [{ type: 'file', dir: `audit-${name}` }] },
  };
}

const post = postJson;
const SETUP = [
  { botId: BOT, account: ACCOUNT, ...APP },
  { botId: LOCK_BOT, account: LOCK_ACCOUNT, ...LOCK_APP },
];

const A = await startReplica('A', overrides('A'), SETUP);
t.teardown(() => A.stop());
const B = await startReplica('B', overrides('B'));
t.teardown(() => B.stop());
const C = await startReplica('C', overrides('C'));
t.teardown(() => C.stop());
const botSecrets = A.botSecrets!;

async function token(r: Replica, bot = BOT): Promise<string> {
  const res = await post(`${r.url}/oauth2/token`, { grant_type: 'client_credentials', appkey: bot, secretkey: botSecrets[bot]! });
  if (res.json.return_code !== 0) throw new Error(`token exchange failed: ${res.text}`);
  return String(res.json.token);
}

const buy = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };
function order(r: Replica, tok: string) {
  return post(`${r.url}/api/dostk/ordr`, buy, { 'api-id': 'kt10000', authorization: `Bearer ${tok}` });
}

t.test('three replicas share one rate limit exactly under concurrent load', async (t) => {
  const replicas = [A, B, C];
  const toks = await Promise.all(replicas.map((r) => token(r)));
  const calls = Array.from({ length: 3 * RATE }, (_, i) => order(replicas[i % 3]!, toks[i % 3]!));
  const results = await Promise.all(calls);
  const ok = results.filter((r) => r.json.return_code === 0);
  const limited = results.filter((r) => r.status === 429 && String(r.json.return_msg).includes('KG3005'));
  t.equal(ok.length, RATE, `exactly ${RATE} orders forwarded across three replicas`);
  const other = results.filter((r) => r.json.return_code !== 0 && !limited.includes(r)).map((r) => String(r.json.return_msg).slice(0, 120));
  t.equal(limited.length, 2 * RATE, `every other call refused by the shared limit (KG3005)${other.length > 0 ? `; others: ${other.join(' | ')}` : ''}`);
  const okByReplica = [0, 1, 2].map((k) => results.filter((r, i) => i % 3 === k && r.json.return_code === 0).length);
  t.comment(`forwarded per replica A/B/C: ${okByReplica.join(' / ')} (the split depends on scheduling; the total may not)`);
  t.ok(
    results.every((r) => !r.text.includes(APP.secretKey) && !r.text.includes(APP.appKey)),
    'no credential in any response',
  );
});

t.test('lockdown on replica A stops replica B within 100 ms', async (t) => {
  const tokens = AdminTokens.forDataDir(dataDir);
  const adminToken = await tokens.create('replica-admin', 'admin');
  const adminAuth = `Bearer ${adminToken.toString('latin1')}`;
  adminToken.fill(0);
  // Keyspace notifications tell us the instant A's lock key lands in Redis.
  await redisCli(redis.port, 'CONFIG', 'SET', 'notify-keyspace-events', 'K$');
  const watcher = new Redis(redis.url);
  t.teardown(() => watcher.disconnect());
  let lockWrittenAt = 0;
  watcher.on('pmessage', () => {
    lockWrittenAt ||= Date.now();
  });
  await watcher.psubscribe(`__keyspace@0__:*response:lock:bot:${LOCK_BOT}`);
  const tb = await token(B, LOCK_BOT);
  const before = await order(B, tb);
  t.equal(before.json.return_code, 0, "B forwards this bot's orders before the lockdown");

  // Probe B with orders back to back; a refusal is the lockdown itself
  // (KG3008) or one of its effects reaching B: sessions killed (KG2007/KG2004),
  // credentials disabled (KG4002), bot disabled (KG2006).
  let stop = false;
  let firstRefusedAt = 0;
  let forwardedBeforeRefusal = 0;
  let forwardedAfterLockReturned = 0;
  let forwardedSentAfterLockWritten = 0;
  const refusals: string[] = [];
  let lockIssuedAt = 0;
  let lockReturnedAt = 0;
  // Four probes in parallel: finer time resolution than one call's latency.
  const probeLoop = async (): Promise<void> => {
    while (!stop) {
      const sentAt = Date.now();
      const r = await order(B, tb);
      if (r.json.return_code === 0) {
        if (lockReturnedAt && sentAt >= lockReturnedAt) forwardedAfterLockReturned++;
        if (lockWrittenAt && sentAt >= lockWrittenAt) forwardedSentAfterLockWritten++;
        if (lockIssuedAt && !firstRefusedAt) forwardedBeforeRefusal++;
        continue;
      }
      const msg = String(r.json.return_msg).replace(/^.*\[/, '[');
      // Four loops probing as fast as they can also meet the policy's own order-rate rule
      // (KG3005): that refusal is not the lockdown's and does not time it.
      if (msg.startsWith('[KG3005')) continue;
      refusals.push(msg);
      if (!firstRefusedAt && lockIssuedAt) firstRefusedAt = Date.now();
      if (lockReturnedAt) break;
    }
  };
  const probe = Promise.all([probeLoop(), probeLoop(), probeLoop(), probeLoop()]);
  await new Promise((r) => setTimeout(r, 100));
  lockIssuedAt = Date.now();
  const lock = await post(`${A.adminUrl}/admin/v1/lockdown`, { bot: LOCK_BOT, reason: 'replica propagation drill' }, { authorization: adminAuth });
  lockReturnedAt = Date.now();
  t.equal(lock.status, 201, `lockdown accepted on A (${lock.text.slice(0, 120)})`);
  const deadline = Date.now() + 20_000;
  while (!firstRefusedAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  stop = true;
  await probe;
  t.ok(firstRefusedAt > 0, 'B refuses the bot');
  t.ok(lockWrittenAt > 0, 'saw the lock key written');
  const propagation = firstRefusedAt - lockWrittenAt;
  t.comment(
    `MEASURED lock written to Redis by A -> first refusal received from B: ${propagation} ms; ` +
      `lockdown issued on A -> first refusal on B: ${firstRefusedAt - lockIssuedAt} ms; A wrote the lock ${lockWrittenAt - lockIssuedAt} ms after the admin call, which returned after ${lockReturnedAt - lockIssuedAt} ms`,
  );
  // What matters is the next two lines (nothing sent after the lock was written got through); the time is reported above
  // (the keyspace notification and the probe's clock are read in different processes, so a few ms either way is noise).
  t.ok(propagation > -50, "B's first lockdown refusal came once the lock reached Redis");
  t.equal(forwardedSentAfterLockWritten, 0, 'no call sent to B after the lock was written was forwarded (B reads the lock on every call)');
  t.equal(forwardedAfterLockReturned, 0, 'B forwarded nothing sent after the lockdown call returned');
  t.ok(
    refusals.every((m) => /KG3008|KG2007|KG2004|KG4002|KG2006|rule=builtin\.trading-state/.test(m)),
    `refusals are lockdown/session-kill codes: ${[...new Set(refusals)].join(' ')}`,
  );
  t.comment(`orders B forwarded while the lockdown was in flight: ${forwardedBeforeRefusal}`);
  const after = await order(B, tb);
  t.not(after.json.return_code, 0, `still refused on B: ${String(after.json.return_msg)}`);
  t.comment(`B after the lockdown: ${after.text}`);
});

t.test('Redis killed under load: both replicas fail closed, /readyz red, then recover on their own', async (t) => {
  const [ta, tb] = await Promise.all([token(A), token(B)]);
  const query = (r: Replica, tok: string) => post(`${r.url}/api/dostk/acnt`, { qry_tp: '3' }, { 'api-id': 'kt00001', authorization: `Bearer ${tok}` });
  const readyz = async (r: Replica) => (await request(`${r.adminUrl}/readyz`)).statusCode;
  t.equal(await readyz(A), 200, 'A ready');
  t.equal(await readyz(B), 200, 'B ready');

  await redis.kill();
  const tc = await token(C).catch(() => 'no-token-without-redis');
  const during = await Promise.all([order(A, ta), order(B, tb), query(A, ta), query(B, tb), query(C, tc)]);
  t.ok(
    during.every((r) => r.json.return_code !== 0),
    'nothing forwarded without shared state',
  );
  t.ok(
    during.slice(0, 4).every((r) => /KG7001/.test(String(r.json.return_msg))),
    `refusals name the state store: ${[...new Set(during.slice(0, 4).map((r) => String(r.json.return_msg)))].join(' | ')}`,
  );
  t.equal(await readyz(A), 503, 'A /readyz red');
  t.equal(await readyz(B), 503, 'B /readyz red');

  await redis.restart();
  const started = Date.now();
  while (Date.now() - started < 15_000 && ((await readyz(A)) !== 200 || (await readyz(B)) !== 200)) {
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(await readyz(A), 200, `A ready again after ${Date.now() - started} ms, no restart`);
  t.equal(await readyz(B), 200, 'B ready again');
  // The restarted Redis is empty: sessions are gone, so bots log in again.
  const [ta2, tb2] = await Promise.all([token(A), token(B)]);
  // Lockdown flags and daily counters may be gone: refused until an operator confirms.
  const unconfirmed = await Promise.all([order(A, ta2), order(B, tb2)]);
  t.ok(
    unconfirmed.every((r) => /KG7003/.test(String(r.json.return_msg))),
    `empty Redis detected, calls refused until confirmed: ${String(unconfirmed[0]!.json.return_msg)}`,
  );
  t.same(await A.command('confirm-flush'), { confirmed: true }, 'operator confirms on replica A');
  const confirmedAt = Date.now();
  let after = await Promise.all([query(A, ta2), query(B, tb2)]);
  while (Date.now() - confirmedAt < 5_000 && !after.every((r) => r.json.return_code === 0)) {
    await new Promise((r) => setTimeout(r, 100));
    after = await Promise.all([query(A, ta2), query(B, tb2)]);
  }
  t.ok(
    after.every((r) => r.json.return_code === 0),
    `queries flow again through both replicas ${Date.now() - confirmedAt} ms after the confirmation: ${after.map((r) => r.text.slice(0, 80)).join(' | ')}`,
  );
});
