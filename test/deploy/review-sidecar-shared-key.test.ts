// Two bots of one account in the sidecar shape: each pod has its own
// kiwoom-guard and data volume, both on one Redis, and the operator imports
// the account's app key into each (`kguard keys import`, as deploy/README.md
// says). kiwoom-guard knows an app key by its keyed fingerprint (HMAC with
// audit-hmac.key): the key's one broker token, Kiwoom's per-key limits and its
// realtime socket are shared in Redis under that name. With the HMAC key each
// sidecar created in its own data dir, the two sidecars named the same app
// key differently and paced it each on its own, so Kiwoom saw their sum and
// refused it for rate ([1700]), and each opened the key's realtime socket,
// which Kiwoom allows once per key: each login ended the other's (R10001).
// Run here from the overlay's own ConfigMap,
// provisioned with the CLI, against a fake KMS, a real Redis and the simulator.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { parse as parseYaml, stringify } from 'yaml';
import { startSimulator } from '../../proxy/sim/index.js';
import { kguard } from '../cli/run-cli.js';
import { startFakeKms } from '../helpers/fake-kms.js';
import { ROOT, parseJson, waitFor } from '../helpers/harness.js';
import { PATIENT_REDIS, startRedis } from '../helpers/redis.js';
import { spawnSidecar, type SidecarProcess } from '../helpers/sidecar-process.js';
import { renderOverlay } from './render.js';
import { isReal, loginAtReplica } from '../realtime/ws-client.js';

const ACCOUNT = '5012345678';
const APP = { appKey: 'SHAREDacctAPPkey5e4d3c2b1a0f9', secretKey: 'SHAREDacctSECRETkey9a8b7c6d5e4f3a2b' };
const REDIS_PASSWORD = 'kguard-redis-password-0123456789';
const AWS = { AWS_ACCESS_KEY_ID: 'AKIAFAKETESTKEY00001', AWS_SECRET_ACCESS_KEY: 'fake-secret-for-sigv4-only', AWS_REGION: 'ap-northeast-2' };

t.test('sidecar shape: two bots of one account share their app key through Redis', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'kguard-sidecar-key-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const redis = await startRedis({
    configText: `requirepass ${REDIS_PASSWORD}\nuser kguard on >${REDIS_PASSWORD} ~* &* +@all\n`,
    auth: { user: 'kguard', password: REDIS_PASSWORD },
  });
  t.teardown(() => redis.cleanup());
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  sim.registerApp({ ...APP, accountNo: ACCOUNT, cash: 1_000_000_000, holdings: [] });
  const kms = await startFakeKms();
  t.teardown(() => kms.close());
  kms.createKey({ alias: 'alias/kiwoom-guard' });

  // The Secret as deploy/README.md makes it, copied 0400 by private-keys (one copy serves both pods here).
  const secrets = path.join(root, 'secrets');
  await mkdir(secrets, { mode: 0o700 });
  const keygen = await kguard(['audit', 'keygen', '--data-dir', path.join(root, 'keys')]);
  t.equal(keygen.code, 0, `kguard audit keygen: ${keygen.stderr}`);
  await writeFile(path.join(secrets, 'jwt.key'), randomBytes(32), { mode: 0o400 });
  await writeFile(path.join(secrets, 'redis-password'), REDIS_PASSWORD, { mode: 0o400 });
  await writeFile(path.join(secrets, 'audit-hmac.key'), await readFile(path.join(root, 'keys', 'audit-hmac.key')), { mode: 0o400 });
  const policyDir = path.join(root, 'policy');
  await mkdir(policyDir);
  await writeFile(path.join(policyDir, 'policy.yaml'), await readFile(path.join(ROOT, 'policies', 'default.yaml')));

  // The overlay's configuration, its mount paths moved under the test's directory, its services on loopback.
  const docs = await renderOverlay('sidecar');
  const configText = (docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'trading-bot-kguard-config')!.data as Record<string, string>)[
    'config.yaml'
  ]!;
  async function pod(name: string) {
    const volume = path.join(root, `${name}-data`);
    await mkdir(volume, { mode: 0o700 });
    const text = configText.replaceAll('/var/lib/kguard', volume).replaceAll('/run/kguard/secrets', secrets).replaceAll('/etc/kguard/policy', policyDir);
    const config = parseYaml(text) as Record<string, Record<string, unknown>>;
    config.listen = { host: '127.0.0.1', port: 0 };
    config.admin = { host: '127.0.0.1', port: 0, enabled: true };
    // A patient bot: a query may wait for its key's slot (the burst below is twice a second's worth).
    config.upstream = { target: 'custom', url: sim.url, limits: { queryMaxWaitMs: 10_000 } };
    // Patient with Redis and KMS: two sidecars, their CLI runs and the suite's other files share a loaded machine,
    // and a command past the production budget fails the call closed; this test is about sharing the key.
    Object.assign(config.state!.redis as Record<string, unknown>, { url: redis.url, ...PATIENT_REDIS });
    Object.assign(config.vault!.awsKms as Record<string, unknown>, { endpoint: kms.url, requestTimeoutMs: 10_000 });
    config.audit!.replicaId = name; // the pod name, unique in a cluster (here every process shares one host name)
    config.log = { level: 'warn' };
    const file = path.join(root, `${name}.yaml`);
    await writeFile(file, stringify(config), { mode: 0o600 });
    const env = { ...AWS, KGUARD_CONFIG: file };
    // `kubectl exec … -- kguard bots add` and `keys import`, in this pod's kiwoom-guard container.
    const secretFile = path.join(root, `${name}.secret`);
    const added = await kguard(
      ['bots', 'add', name, '--account', ACCOUNT, '--owner', 'alice', '--allow', 'kind:query,kind:realtime', '--secret-out', secretFile],
      { env },
    );
    t.equal(added.code, 0, `bots add ${name}: ${added.stderr}`);
    const imported = await kguard(['keys', 'import', '--bot', name, '--account', ACCOUNT], { env, stdin: `${APP.appKey}\n${APP.secretKey}\n` });
    t.equal(imported.code, 0, `keys import ${name}: ${imported.stderr}`);
    const fingerprint = /"appKeyFingerprint":\s*"([^"]+)"/.exec(imported.stdout)?.[1];
    const sidecar = await spawnSidecar({ configFile: file, env });
    t.teardown(() => sidecar.kill());
    return { name, sidecar, fingerprint, botSecret: (await readFile(secretFile, 'latin1')).trim() };
  }
  const a = await pod('bot-a');
  const b = await pod('bot-b');
  t.ok(a.fingerprint, 'the import names the app key by its fingerprint');
  t.equal(a.fingerprint, b.fingerprint, 'both sidecars name the account’s app key alike');

  async function login(s: SidecarProcess, bot: string, secret: string): Promise<string> {
    const r = await request(`${s.url}/oauth2/token`, {
      method: 'POST',
      body: JSON.stringify({ grant_type: 'client_credentials', appkey: bot, secretkey: secret }),
      headers: { 'content-type': 'application/json' },
    });
    return String(parseJson(await r.body.text()).token);
  }
  const quote = async (s: SidecarProcess, token: string) => {
    const r = await request(`${s.url}/api/dostk/stkinfo`, {
      method: 'POST',
      body: JSON.stringify({ stk_cd: '005930' }),
      headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
    });
    return parseJson(await r.body.text());
  };
  const tokens = [await login(a.sidecar, a.name, a.botSecret), await login(b.sidecar, b.name, b.botSecret)];
  for (const [i, p] of [a, b].entries()) {
    const served = await quote(p.sidecar, tokens[i]!);
    t.equal(served.return_code, 0, `${p.name} is served: ${String(served.return_msg)}`);
  }

  // Realtime: one upstream socket for the key, whichever sidecar a bot's socket reaches.
  const socks = [await loginAtReplica(a.sidecar.url, a.name, a.botSecret), await loginAtReplica(b.sidecar.url, b.name, b.botSecret)];
  for (const s of socks) {
    s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
    const ack = await s.next((f) => f.trnm === 'REG', 'REG ack');
    t.equal(ack.return_code, 0, `REG accepted: ${JSON.stringify(ack)}`);
  }
  await waitFor(() => sim.stats().ws.sessions === 1, 20_000, 'one upstream session').catch(() => undefined);
  t.equal(sim.stats().ws.sessions, 1, 'one upstream session');
  sim.pushQuote('005930');
  for (const s of socks) await s.next(isReal('0B', '005930'), 'the push reaches the bot');
  t.equal(sim.stats().ws.replaced, 0, 'no login ended another (R10001)');
  for (const s of socks) s.close();
  // Both bots at once, five quotes each: one key's five a second, whichever sidecar they go through.
  const before = sim.stats();
  const answers = await Promise.all([a, b].flatMap((p, i) => Array.from({ length: 5 }, () => quote(p.sidecar, tokens[i]!))));
  t.same(
    answers.filter((r) => r.return_code !== 0),
    [],
    'every quote answered',
  );
  const after = sim.stats();
  t.equal(after.refusals[1700] - before.refusals[1700], 0, 'Kiwoom refused nothing for rate: the two sidecars paced the key together');
  t.equal(after.refusedIssues - before.refusedIssues, 0, 'no token issue refused');

  for (const p of [a, b]) t.equal(await p.sidecar.stop(), 0, `${p.name} drains and exits`);
  for (const p of [a, b])
    t.notMatch(p.sidecar.stdout(), /revoke failed/, `${p.name}: no revoke failed (whichever sidecar let go of the token last revoked it)`);
  await waitFor(() => sim.liveTokens() === 0, 15_000, 'no live token').catch(() => undefined);
  t.equal(sim.liveTokens(), 0, 'no broker token left live at Kiwoom');
});
