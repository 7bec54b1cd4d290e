// The shared-pool manifest mounts the audit keys from a Secret, read-only. A
// sidecar once tried to write audit-signing.pub beside the key there and
// died at start (KG6003 ... EACCES). Here the real `kguard serve` process runs
// as a non-root user (uid 10001, as in the image) with its audit keys in a
// directory it cannot write and its data dir laid out as the overlays do (a
// subdirectory of a root-owned fsGroup volume, 2775): it starts, is ready,
// keeps the public key in memory, writes a copy beside its audit log, and the
// verifier (what `kguard audit verify DIR` runs) finds it there and verifies
// the log. Pointed at the volume root itself, it refuses with the reason.
import { chown, chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { generateHmacKeyFile, generateSigningKeyFiles, publicKeyFileFor } from '../../proxy/audit/keys.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { startSimulator } from '../../proxy/sim/index.js';
import { waitFor } from '../helpers/harness.js';
import { provisionBot } from '../helpers/provision.js';
import { spawnSidecar, writeSidecarConfig } from '../helpers/sidecar-process.js';

const AS_ROOT = process.getuid?.() === 0;
/** The image's user. As root, the child drops to it before the sidecar loads (root ignores file modes). */
const UID = AS_ROOT ? 10001 : (process.getuid?.() ?? 0);
const GID = AS_ROOT ? 10001 : (process.getgid?.() ?? 0);
const DROP_PRIVILEGES = `data:text/javascript,process.setgroups([]);process.setgid(${GID});process.setuid(${UID});`;

async function own(p: string): Promise<void> {
  if (AS_ROOT) await chown(p, UID, GID);
}

async function ownTree(dir: string): Promise<void> {
  await own(dir);
  for (const name of await readdir(dir, { recursive: true })) await own(path.join(dir, name));
}

const ACCOUNT = '7077700033';
const APP = { appKey: 'ROKEYSappKEY5e4d3c2b1a0f9', secretKey: 'ROKEYSsecretKEY9a8b7c6d5e4f3a2b1' };

/** A temp tree the sidecar user can reach: data dir (0700, its own), keys dir (0500, read-only to it), config. */
async function layout(t: Test, keys: { stalePub?: boolean } = {}) {
  const root = await mkdtemp(path.join(tmpdir(), 'kguard-rokeys-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await chmod(root, 0o755);
  // As the kubelet leaves a volume for the pod's fsGroup: root-owned, group 10001, 2775.
  // The data dir is a subdirectory of it, as in the overlays (dataDir: /var/lib/kguard/data).
  const volume = path.join(root, 'volume');
  await mkdir(volume);
  if (AS_ROOT) await chown(volume, 0, GID);
  await chmod(volume, 0o2775);
  const dataDir = path.join(volume, 'data');
  await mkdir(dataDir, { mode: 0o700 });
  const bot = await provisionBot(dataDir, { botId: 'ro-bot', account: ACCOUNT, ...APP, allowed: ['kind:query'] });
  await ownTree(dataDir);
  const keyDir = path.join(root, 'secrets');
  await mkdir(keyDir, { mode: 0o700 });
  const signingKeyFile = path.join(keyDir, 'audit-signing.key');
  const hmacKeyFile = path.join(keyDir, 'audit-hmac.key');
  // `kguard audit keygen`, then only the private files go into the Secret (as deploy/README.md says).
  await generateSigningKeyFiles(signingKeyFile);
  await generateHmacKeyFile(hmacKeyFile);
  const trustedPub = path.join(root, 'trusted-audit-signing.pub');
  await writeFile(trustedPub, await readFile(publicKeyFileFor(signingKeyFile)));
  await unlink(publicKeyFileFor(signingKeyFile));
  if (keys.stalePub) {
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await writeFile(publicKeyFileFor(signingKeyFile), other, { mode: 0o444 });
    await own(publicKeyFileFor(signingKeyFile));
  }
  for (const f of [signingKeyFile, hmacKeyFile]) {
    await chmod(f, 0o400); // as the private-keys init container installs them
    await own(f);
  }
  await own(keyDir);
  await chmod(keyDir, 0o500); // read-only to its owner, like a read-only volume mount
  return { bot, root, volume, dataDir, keyDir, signingKeyFile, hmacKeyFile, trustedPub, auditDir: path.join(dataDir, 'audit') };
}

async function serve(t: Test, l: Awaited<ReturnType<typeof layout>>, dataDir = l.dataDir) {
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  sim.registerApp({ ...APP, accountNo: ACCOUNT, cash: 1_000_000, holdings: [] });
  const configFile = await writeSidecarConfig(
    path.join(l.root, 'kguard.yaml'),
    {
      dataDir,
      upstream: { target: 'custom', url: sim.url },
      log: { level: 'info' },
      audit: { signingKeyFile: l.signingKeyFile, hmacKeyFile: l.hmacKeyFile, checkpoint: { everyRecords: 1 } },
    },
    0o644,
  );
  // tap's process-info hook in the child writes where the sidecar user may write, not into the checkout.
  const tapInfo = path.join(l.root, 'tap');
  await mkdir(tapInfo);
  await own(tapInfo);
  const child = await spawnSidecar({ configFile, nodeArgs: ['--import', DROP_PRIVILEGES], env: { _TAPJS_PROCESSINFO_CWD_: tapInfo } });
  t.teardown(() => child.kill());
  t.teardown(() => {
    if (t.passing()) return;
    t.comment(`sidecar stdout:\n${child.stdout()}`);
    t.comment(`sidecar stderr:\n${child.stderr()}`);
  });
  return child;
}

t.test('the sidecar starts with its audit keys on a read-only directory', async (t) => {
  const l = await layout(t);
  const child = await serve(t, l);
  const ready = await request(`${child.adminUrl}/readyz`);
  t.equal(ready.statusCode, 200, `ready: ${await ready.body.text()}`);
  t.notOk(
    await stat(publicKeyFileFor(l.signingKeyFile)).then(
      () => true,
      () => false,
    ),
    'nothing written beside the key',
  );
  // Start-up log lines are buffered (log.flushMs) and may follow the banner: wait for the line.
  await waitFor(() => /no \.pub can be written beside the audit signing key/.test(child.stdout()), 20_000, 'says where the public key went');
  t.pass('says where the public key went');
  // One bot call, so the log holds records and signed checkpoints to verify.
  const login = await request(`${child.url}/oauth2/token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credentials', appkey: 'ro-bot', secretkey: l.bot.botSecret }),
    headers: { 'content-type': 'application/json' },
  });
  const token = String(((await login.body.json()) as { token?: unknown }).token);
  const quote = await request(`${child.url}/api/dostk/stkinfo`, {
    method: 'POST',
    body: JSON.stringify({ stk_cd: '005930' }),
    headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
  });
  const quoted = (await quote.body.json()) as { return_code?: unknown };
  t.equal(quoted.return_code, 0, `a quote through the sidecar: ${JSON.stringify(quoted)}`);
  t.equal(await child.stop(), 0, 'SIGTERM: clean exit');
  t.notMatch(child.stdout() + child.stderr(), /KG6003|"level":(50|60)|"level":"(error|fatal)"/, 'no audit key error, nothing logged as error');

  const trusted = await readFile(l.trustedPub, 'utf8');
  t.equal(await readFile(path.join(l.auditDir, 'audit-signing.pub'), 'utf8'), trusted, 'the copy beside the log is the signing key’s public half');
  t.ok(
    (await readdir(l.auditDir)).some((n) => /^audit-\d{16}\.jsonl$/.test(n)),
    'the sidecar wrote its audit log',
  );

  // What `kguard audit verify DIR` runs: with no --public-key it looks beside the log.
  const found = await verifyLog(l.auditDir);
  t.ok(found.ok, `verifies with the key found beside the log: ${JSON.stringify(found.failure)}`);
  t.equal(found.publicKeyFile, path.join(l.auditDir, 'audit-signing.pub'));
  t.ok(found.records >= 1 && found.checkpoints >= 1, `${found.records} records, ${found.checkpoints} checkpoints`);
  const pinned = await verifyLog(l.auditDir, { publicKeyFile: l.trustedPub });
  t.ok(pinned.ok, `verifies with the operator's trusted copy (--public-key): ${JSON.stringify(pinned.failure)}`);
});

t.test('a stale .pub beside a read-only key is reported, not fatal', async (t) => {
  const l = await layout(t, { stalePub: true });
  const child = await serve(t, l);
  const ready = await request(`${child.adminUrl}/readyz`);
  t.equal(ready.statusCode, 200, `ready: ${await ready.body.text()}`);
  // Start-up log lines are buffered (log.flushMs) and may follow the banner: wait for the line.
  await waitFor(() => /holds another key and cannot be rewritten/.test(child.stdout()), 20_000, 'warns that the .pub beside the key is not this key');
  t.pass('warns that the .pub beside the key is not this key');
  t.equal(await child.stop(), 0, 'SIGTERM: clean exit');
  const pinned = await verifyLog(l.auditDir, { publicKeyFile: l.trustedPub });
  t.ok(pinned.ok, `verifies with the real key: ${JSON.stringify(pinned.failure)}`);
});

t.test(
  'the volume root itself as the data dir is refused with the reason, not EPERM',
  { skip: AS_ROOT ? false : 'needs root to make a root-owned volume' },
  async (t) => {
    const l = await layout(t);
    await t.rejects(
      serve(t, l, l.volume),
      /KG4007[^\n]*volume is owned by uid 0[^\n]*others can access it \(mode 2775\)/,
      'KG4007 names the directory, its owner and mode',
    );
  },
);

t.test(
  'a group-shared volume root (2770, no access for others) as the data dir',
  {
    skip: AS_ROOT ? false : 'needs root to make a root-owned volume',
  },
  async (t) => {
    const l = await layout(t);
    await chmod(l.volume, 0o2770);
    const child = await serve(t, l, l.volume);
    const ready = await request(`${child.adminUrl}/readyz`);
    t.equal(ready.statusCode, 200, 'starts and is ready');
    t.equal((await stat(l.volume)).mode & 0o7777, 0o2770, 'the volume root is left as it is');
  },
);
