// Drill: Redis goes away (and comes back empty: no persistence) while a
// replica on Redis state holds its key's broker token. Giving up the shared
// lease fails (KG7001), and "a peer's sweep revokes it once its lease lapses"
// cannot happen: the ledger lived in the Redis that lost its data. Before, the
// replica dropped its copy of the token and it stayed live at Kiwoom, tracked
// by nobody, until Kiwoom's own expiry — on a SIGTERM during the outage (a
// rollout, a node drain) and on an idle linger alike. Now the replica revokes
// it directly with its own copy; and one whose shared record vanished while
// it held the token (Redis restarted empty, quickly) revokes it too once it
// lets go, instead of dropping it as if a peer had taken it over.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startSimulator } from '../../proxy/sim/index.js';
import { FIXTURES, parseJson, waitFor } from '../helpers/harness.js';
import { provisionBot } from '../helpers/provision.js';
import { startRedis } from '../helpers/redis.js';
import { spawnSidecar, type SidecarProcess } from '../helpers/sidecar-process.js';

const ACCOUNT = '7077700093';
const APP = { appKey: 'REDISdownAPPkey5e4d3c2b1a0f', secretKey: 'REDISdownSECRETkey9a8b7c6d5e4f3a2b' };

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const sim = await startSimulator({});
t.teardown(() => sim.close());
sim.registerApp({ ...APP, accountNo: ACCOUNT, cash: 10_000_000_000, holdings: [] });
const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-redis-down-revoke-'));
await chmod(dataDir, 0o700);
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const { botSecret } = await provisionBot(dataDir, { botId: 'down-bot', account: ACCOUNT, ...APP, allowed: ['kind:query', 'kind:account'] });

async function start(name: string, idleRevokeMs: number): Promise<SidecarProcess> {
  const configFile = path.join(dataDir, `${name}.yaml`);
  const config = {
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { enabled: false },
    upstream: { target: 'custom', url: sim.url },
    demo: { enabled: false },
    log: { level: 'warn' },
    brokerTokens: { idleRevokeMs, revokeBaseDelayMs: 20, revokeMaxDelayMs: 200 },
    policy: { file: path.join(FIXTURES, 'policy-open.yaml') },
    risk: { enabled: false },
    // One key space per drill: a replica that saw an earlier drill's empty restart flags it in Redis (KG7003 until
    // confirmed), which a later drill's replica must not inherit.
    state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 2_000, keyPrefix: `kg-${name}:` } },
    audit: { replicaId: name, sinks: [{ type: 'file', dir: path.join(dataDir, `audit-${name}`) }] },
  };
  await writeFile(configFile, stringify(config), { mode: 0o600 });
  return spawnSidecar({ configFile });
}

async function quote(s: SidecarProcess): Promise<Record<string, unknown>> {
  const login = await request(`${s.url}/oauth2/token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credentials', appkey: 'down-bot', secretkey: botSecret }),
    headers: { 'content-type': 'application/json' },
  });
  const token = String(parseJson(await login.body.text()).token);
  const res = await request(`${s.url}/api/dostk/stkinfo`, {
    method: 'POST',
    body: JSON.stringify({ stk_cd: '005930' }),
    headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
  });
  return parseJson(await res.body.text());
}

t.test('SIGTERM while Redis is down: the lingering broker token is revoked, not left live untracked', async (t) => {
  // The token lingers between calls: the stop always finds one live.
  const s = await start('term', 600_000);
  t.teardown(() => s.kill());
  t.equal((await quote(s)).return_code, 0, 'a call went through');
  t.equal(sim.liveTokens(), 1, 'its broker token lingers');
  const revokedBefore = sim.stats().tokensRevoked;
  await redis.kill();
  t.equal(await s.stop(), 0, 'the drain ends, exit 0');
  t.equal(sim.liveTokens(), 0, 'no broker token left live at Kiwoom');
  t.equal(sim.stats().tokensRevoked, revokedBefore + 1, 'revoked by the stopping replica');
  t.match(s.stdout() + s.stderr(), /shared state unreachable; revoking the token directly/, 'the log says why');
  // Redis comes back empty: nothing in it would have told anyone about that token.
  await redis.restart();
});

t.test('an idle linger ending while Redis is down revokes the token too', async (t) => {
  const s = await start('idle', 3_000);
  t.teardown(() => s.kill());
  t.equal((await quote(s)).return_code, 0, 'a call went through');
  t.equal(sim.liveTokens(), 1, 'its broker token lingers');
  await redis.kill();
  await waitFor(() => sim.liveTokens() === 0, 20_000, 'the token revoked once the linger ended');
  t.pass('no broker token left live at Kiwoom while Redis is down');
  await redis.restart();
  t.equal(await s.stop(), 0, 'exit 0');
  t.equal(sim.liveTokens(), 0, 'still none live');
});

t.test('Redis restarting empty while the token lingers: the replica revokes it once its linger ends', async (t) => {
  // Its record left the shared ledger with Redis' data: no peer's sweep, nor this replica's release, would find it.
  const s = await start('empty', 4_000);
  t.teardown(() => s.kill());
  t.equal((await quote(s)).return_code, 0, 'a call went through');
  t.equal(sim.liveTokens(), 1, 'its broker token lingers');
  await redis.restart();
  await waitFor(() => sim.liveTokens() === 0, 20_000, 'the token revoked once the linger ended');
  t.pass('no broker token left live at Kiwoom after Redis lost its data');
  t.equal(await s.stop(), 0, 'exit 0');
  t.match(s.stdout() + s.stderr(), /record lost from shared state/, 'the log says why');
});
