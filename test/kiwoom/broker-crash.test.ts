// A crash must not leave a broker token live. The real `kguard serve` binary
// on the embedded default (memory state) is killed with SIGKILL under load
// while its key's token is live; the restarted binary revokes it from the
// ledger in the data directory before serving. An issue that never finished
// (intent on disk, token unknown) is revoked too: issuing again returns the
// orphan under Kiwoom's one-token-per-key rule.
import t from 'tap';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { stringify } from 'yaml';
import { openFileLedger } from '../../proxy/kiwoom/session-ledger.js';
import { startSimulator } from '../../proxy/sim/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import { FIXTURES, parseJson, waitFor } from '../helpers/harness.js';
import { issueToken } from '../helpers/sim.js';
import { spawnSidecar, type SidecarProcess } from '../helpers/sidecar-process.js';
import { provisionBot } from '../helpers/provision.js';

const ACCOUNT = '7077700022';
const APP = { appKey: 'CRASHbsAPPkey5e4d3c2b1a0f', secretKey: 'CRASHbsSECRETkey9a8b7c6d5e4f3a2b' };

const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-broker-crash-'));
await chmod(dataDir, 0o700);
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const sim = await startSimulator({});
t.teardown(() => sim.close());
sim.registerApp({ ...APP, accountNo: ACCOUNT, cash: 10_000_000_000, holdings: [] });

const masterKeyFile = path.join(dataDir, 'master.key');
const { botSecret, keyFingerprint } = await provisionBot(dataDir, { botId: 'crash-bot', account: ACCOUNT, ...APP, allowed: ['kind:query', 'kind:account'] });

const configFile = path.join(dataDir, 'kguard.yaml');
await writeFile(
  configFile,
  stringify({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { enabled: false },
    upstream: { target: 'custom', url: sim.url },
    demo: { enabled: false },
    log: { level: 'warn' },
    // The token lingers between calls, so a kill always finds one live.
    brokerTokens: { idleRevokeMs: 60_000, revokeBaseDelayMs: 20, revokeMaxDelayMs: 200 },
    policy: { file: path.join(FIXTURES, 'policy-open.yaml') },
    risk: { enabled: false },
  }),
);

async function quote(s: SidecarProcess, token: string) {
  const res = await request(`${s.url}/api/dostk/stkinfo`, {
    method: 'POST',
    body: JSON.stringify({ stk_cd: '005930' }),
    headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
  });
  return parseJson(await res.body.text());
}

async function botToken(s: SidecarProcess): Promise<string> {
  const res = await request(`${s.url}/oauth2/token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credentials', appkey: 'crash-bot', secretkey: botSecret }),
    headers: { 'content-type': 'application/json' },
  });
  return String(parseJson(await res.body.text()).token);
}

t.test('kill -9 under load leaves a live token; the restarted binary revokes it before serving', async (t) => {
  const first = await spawnSidecar({ configFile });
  const token = await botToken(first);
  let stop = false;
  let ok = 0;
  const load = Promise.all(
    [0, 1, 2].map(async () => {
      while (!stop) {
        const r = await quote(first, token).catch(() => undefined);
        if (r?.return_code === 0) ok++;
      }
    }),
  );
  await waitFor(() => ok >= 10, 30_000, 'calls flowing');
  await first.kill();
  stop = true;
  await load;
  t.equal(sim.liveTokens(), 1, 'the killed process left its broker token live at Kiwoom');
  const revokedBefore = sim.stats().tokensRevoked;

  const second = await spawnSidecar({ configFile });
  t.teardown(() => second.stop());
  t.equal(sim.liveTokens(), 0, 'revoked during start-up, before the listener answered');
  t.equal(sim.stats().tokensRevoked, revokedBefore + 1);
  // Log lines are buffered (log.flushMs): the line may follow the banner; wait for it.
  await waitFor(() => /revoked a broker token left by a previous process/.test(second.stdout() + second.stderr()), 20_000, 'the revoke logged');
  t.pass('the revoke of the left token is logged');
  t.equal((await quote(second, await botToken(second))).return_code, 0, 'and it serves');
  await second.stop();
  t.equal(sim.liveTokens(), 0, 'a graceful stop revokes the lingering token');
});

t.test('an issue that never finished (intent on disk, token unknown) is revoked at start', async (t) => {
  // What a kill between Kiwoom's answer and the ledger write leaves: the intent, and a token only Kiwoom knows.
  const ledger = await openFileLedger(dataDir, await createLocalKeyProvider({ masterKeyFile }), pino({ level: 'silent' }));
  await ledger.issuing(keyFingerprint, 'crash-bot');
  ledger.close();
  await issueToken(sim.url, APP.appKey, APP.secretKey);
  t.equal(sim.liveTokens(), 1, 'an orphan token is live');
  // Kiwoom's issue limit counts the process that died too, which the new one cannot see: its first re-issue is
  // refused for rate ([1700]), and tried again. Its first revoke fails too, and is tried again after a back-off that
  // does not hold the process by itself: the start must neither give up nor end there.
  sim.faults.set({ issueRateLimitNext: 1, revokeFailNext: 1 });
  const refusedBefore = sim.requestLog().filter((r) => r.path === '/oauth2/token' && r.returnCode === 5).length;
  const s = await spawnSidecar({ configFile });
  t.teardown(() => s.stop());
  t.equal(sim.requestLog().filter((r) => r.path === '/oauth2/token' && r.returnCode === 5).length - refusedBefore, 1, 'the re-issue was refused for rate once');
  t.equal(sim.liveTokens(), 0, 'issued again (the same token comes back) and revoked before the sidecar serves');
  await waitFor(() => /broker token revoke failed; retrying/.test(s.stdout() + s.stderr()), 20_000, 'the failed revoke logged (log.flushMs)');
  t.pass('after a failed revoke');
  await s.stop();
});
