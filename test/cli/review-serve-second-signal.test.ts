// A second SIGTERM during the drain. The kubelet sends the stop signal again
// when a pod's deletion is repeated with a shorter grace period (a second
// `kubectl delete`, an eviction after a rollout's delete), and `docker stop`
// run twice does the same. serve listened for each signal once, so the
// second one found no listener and Node's default ended the process on the
// spot: the call in flight was cut, its outcome never audited, and the key's
// broker token stayed live at Kiwoom. The drain must go on to its end; only
// SIGKILL (the end of the grace period) cuts it.
import t from 'tap';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startSimulator } from '../../proxy/sim/index.js';
import { FIXTURES, parseJson, waitFor } from '../helpers/harness.js';
import { holdAnswers, startHostileUpstream } from '../helpers/hostile-upstream.js';
import { provisionBot } from '../helpers/provision.js';
import { spawnSidecar } from '../helpers/sidecar-process.js';

const ACCOUNT = '7077700031';
const APP = { appKey: 'SECONDsigAPPkey5e4d3c2b1a0f', secretKey: 'SECONDsigSECRETkey9a8b7c6d5e4f3a2' };

t.test('a second SIGTERM while a call drains: the call is answered, the token revoked, exit 0', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-second-signal-'));
  await chmod(dataDir, 0o700);
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  sim.registerApp({ ...APP, accountNo: ACCOUNT, cash: 10_000_000, holdings: [] });
  const up = await startHostileUpstream(sim.url);
  t.teardown(() => up.close());
  const { botSecret } = await provisionBot(dataDir, { botId: 'signal-bot', account: ACCOUNT, ...APP, allowed: ['kind:query'] });
  const configFile = path.join(dataDir, 'kguard.yaml');
  await writeFile(
    configFile,
    stringify({
      dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { enabled: false },
      // Kiwoom's answer is held while the signals arrive: time-outs far beyond what a loaded machine needs.
      upstream: { target: 'custom', url: up.url, headersTimeoutMs: 60_000, bodyTimeoutMs: 60_000 },
      limits: { requestTimeoutMs: 60_000 },
      demo: { enabled: false },
      log: { level: 'info' },
      policy: { file: path.join(FIXTURES, 'policy-open.yaml') },
      risk: { enabled: false },
    }),
  );
  const child = await spawnSidecar({ configFile });
  t.teardown(() => child.kill());
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.proc.once('exit', (code, signal) => resolve({ code, signal })),
  );

  const login = await request(`${child.url}/oauth2/token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credentials', appkey: 'signal-bot', secretkey: botSecret }),
    headers: { 'content-type': 'application/json' },
  });
  const token = String(parseJson(await login.body.text()).token);
  const gate = holdAnswers(up, 'ka10001');
  const quote = request(`${child.url}/api/dostk/stkinfo`, {
    method: 'POST',
    body: JSON.stringify({ stk_cd: '005930' }),
    headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
  }).then(
    async (r) => ({ status: r.statusCode, text: await r.body.text() }),
    (err: Error) => ({ status: 0, text: err.message }),
  );
  await gate.waiting;
  t.equal(sim.liveTokens(), 1, 'the key holds a broker token while the call is with Kiwoom');

  child.proc.kill('SIGTERM');
  await waitFor(() => /shutting down/.test(child.stdout()), 30_000, 'the drain to begin');
  child.proc.kill('SIGTERM');
  // Either the process says it goes on draining, or it is gone.
  const noted = waitFor(() => /still draining/.test(child.stdout()), 30_000, 'the second signal to be noted').then(
    () => 'noted' as const,
    () => 'not noted' as const,
  );
  const outcome = await Promise.race([noted, exited.then(() => 'exited' as const)]);
  t.equal(outcome, 'noted', 'the second SIGTERM is noted and the drain goes on');
  gate.release();

  const r = await quote;
  t.equal(r.status, 200, `the call in flight is answered: ${r.text.slice(0, 160)}`);
  t.same(await exited, { code: 0, signal: null }, 'the process exits 0 at the end of its drain, not killed by the signal');
  t.match(child.stdout(), /stopped: calls drained/, 'and logs the end of the drain');
  t.equal(sim.liveTokens(), 0, 'no broker token left live at Kiwoom');
});
