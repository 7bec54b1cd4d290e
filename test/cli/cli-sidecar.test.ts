// The CLI against a real `kguard serve` process: a bot, its keys and an admin
// are provisioned with the CLI itself; every listing answers --json with
// JSON; `bots kill-sessions` ends the bot's sessions (its sidecar JWT is
// refused after) and `bots disable` refuses new token exchanges, both through
// the admin API; `bots remove` offboards it last.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startSimulator, type Simulator } from '../../proxy/sim/index.js';
import { FIXTURES } from '../helpers/harness.js';
import { call } from '../helpers/sim.js';
import { spawnSidecar, type SidecarProcess } from '../helpers/sidecar-process.js';
import { kguard, kguardInProcess, pooled } from './run-cli.js';

const BOT = 'cli-bot';
const ACCOUNT = '5012345678';
const APP_KEY = 'CLItestAPPkey0123456789';
const SECRET_KEY = 'CLItestSECRETkey0123456789abcdef';
const QUOTE = { stk_cd: '005930' };

let dir: string;
let sim: Simulator;
let sidecar: SidecarProcess;
let botSecret: string;
let adminEnv: NodeJS.ProcessEnv;
let tokenFile: string;
let viewerFile: string;

const dd = () => ['--data-dir', dir];
const code = (text: string) => /\[(KG\d{4})/.exec(text)?.[1];

async function exchange(): Promise<{ token?: string; text: string }> {
  const r = await call(sidecar.url, '/oauth2/token', { grant_type: 'client_credentials', appkey: BOT, secretkey: botSecret });
  return { ...(r.json.return_code === 0 ? { token: String(r.json.token) } : {}), text: r.text };
}

const quote = (token: string) => call(sidecar.url, '/api/dostk/stkinfo', QUOTE, { 'api-id': 'ka10001', authorization: `Bearer ${token}` });

t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kguard-cli-sidecar-'));
  await chmod(dir, 0o700);
  sim = await startSimulator({});
  sim.registerApp({ appKey: APP_KEY, secretKey: SECRET_KEY, accountNo: ACCOUNT });

  // Provisioned with the CLI, as operators do.
  const secretFile = path.join(dir, 'bot.secret');
  const added = await kguard([
    'bots',
    'add',
    BOT,
    '--account',
    ACCOUNT,
    '--owner',
    'alice',
    '--allow',
    'kind:query,kind:account',
    '--secret-out',
    secretFile,
    ...dd(),
  ]);
  if (added.code !== 0) throw new Error(`bots add: ${added.stderr}`);
  botSecret = (await readFile(secretFile, 'latin1')).trim();
  tokenFile = path.join(dir, 'ops.token');
  viewerFile = path.join(dir, 'viewer.token');
  const provisioned = await Promise.all([
    kguardInProcess(['keys', 'import', '--bot', BOT, '--account', ACCOUNT, ...dd()], { stdin: `${APP_KEY}\n${SECRET_KEY}\n` }),
    kguardInProcess(['admins', 'add', 'ops', '--role', 'admin', '--token-out', tokenFile, ...dd()]),
  ]);
  // Sequential: both write admins.json.
  provisioned.push(await kguardInProcess(['admins', 'add', 'vic', '--role', 'viewer', '--token-out', viewerFile, ...dd()]));
  for (const r of provisioned) if (r.code !== 0) throw new Error(`provisioning: ${r.stderr}`);

  const configFile = path.join(dir, 'kguard.json');
  await writeFile(
    configFile,
    JSON.stringify({
      dataDir: dir,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0, enabled: true },
      upstream: { target: 'custom', url: sim.url },
      demo: { enabled: false },
      log: { level: 'warn' },
      policy: { file: path.join(FIXTURES, 'policy-open.yaml') },
    }),
    { mode: 0o600 },
  );
  sidecar = await spawnSidecar({ configFile });
  adminEnv = { KGUARD_ADMIN_URL: `${sidecar.adminUrl}/admin/v1`, KGUARD_ADMIN_TOKEN_FILE: tokenFile };
});

t.teardown(async () => {
  await sidecar?.stop();
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

t.test('every listing command prints JSON with --json', async (t) => {
  const viewer = { KGUARD_ADMIN_URL: adminEnv.KGUARD_ADMIN_URL, KGUARD_ADMIN_TOKEN_FILE: viewerFile };
  const cases: [string[], NodeJS.ProcessEnv, (json: unknown) => void][] = [
    [
      ['bots', 'list', ...dd()],
      {},
      (j) => {
        t.match(j, [{ id: BOT, enabled: true, owner: 'alice', account: ACCOUNT, allowed: ['kind:query', 'kind:account'] }]);
        t.notMatch(JSON.stringify(j), /scrypt|hash|salt/, 'no secret hash in the listing');
      },
    ],
    [['keys', 'list', ...dd()], {}, (j) => t.match(j, [{ botId: BOT, account: ACCOUNT, keyVersion: 1, enabled: true }])],
    [
      ['admins', 'list', ...dd()],
      {},
      (j) =>
        t.same(j, [
          { name: 'ops', role: 'admin' },
          { name: 'vic', role: 'viewer' },
        ]),
    ],
    [['approvals', 'list'], viewer, (j) => t.same(j, { approvals: [] })],
    [['incidents', 'list'], viewer, (j) => t.same(j, { incidents: [] })],
    [['state', 'status'], viewer, (j) => t.match(j, { backend: 'memory', up: true, flushDetected: false })],
    // The live log: a checkpoint may be mid-write, so the verdict itself is not the point here.
    [['audit', 'verify', path.join(dir, 'audit'), ...dd()], {}, (j) => t.match(j, { ok: Boolean, records: Number, warnings: Array })],
    [['policy', 'check', path.join(FIXTURES, 'policy-open.yaml')], {}, (j) => t.match(j, [{ ok: true }])],
    [['version'], {}, (j) => t.match(j, { name: 'kiwoom-guard' })],
  ];
  const runs = await pooled(cases, 3, ([args, env]) => kguardInProcess([...args, '--json'], { env }));
  cases.forEach(([args, , check], i) => {
    const r = runs[i]!;
    const verdict = args[0] === 'audit' && /"ok": false/.test(r.stdout) ? 1 : 0;
    t.equal(r.code, verdict, `${args[0]} ${args[1]} --json: exit ${verdict}\n${r.stderr}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.stdout);
    } catch {
      t.fail(`${args[0]} ${args[1]} --json: not JSON:\n${r.stdout}`);
      return;
    }
    check(parsed);
  });

  // Without --json: lines for people, one bot (one admin) per line.
  const [bots, admins] = await Promise.all([kguardInProcess(['bots', 'list', '--lang', 'en', ...dd()]), kguardInProcess(['admins', 'list', ...dd()])]);
  t.match(bots.stdout, new RegExp(`^${BOT}\\tenabled\\towner=alice\\taccount=${ACCOUNT}\\tallowed=kind:query,kind:account\\t`, 'm'));
  // Korean unless the configuration or --lang says otherwise.
  const botsKo = await kguardInProcess(['bots', 'list', ...dd()]);
  t.match(botsKo.stdout, new RegExp(`^${BOT}\\t사용\\t소유자=alice\\t계좌=${ACCOUNT}\\t허용=kind:query,kind:account\\t`, 'm'));
  t.equal(admins.stdout, 'ops\tadmin\nvic\tviewer\n');
});

t.test('bots kill-sessions ends the sessions: the sidecar JWT is refused after', async (t) => {
  const before = await exchange();
  t.ok(before.token, before.text);
  const first = await quote(before.token!);
  t.equal(first.json.return_code, 0, first.text);

  const viewer = await kguardInProcess(['bots', 'kill-sessions', BOT], { env: { ...adminEnv, KGUARD_ADMIN_TOKEN_FILE: viewerFile } });
  t.equal(viewer.code, 1, 'a viewer may not end sessions');
  t.equal((await quote(before.token!)).json.return_code, 0, 'so the session still works');

  const r = await kguardInProcess(['bots', 'kill-sessions', BOT], { env: adminEnv });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `봇 ${BOT}의 모든 세션을 끝냈습니다. 브로커 접근을 폐기했습니다\n`, 'in Korean, the configured language');
  const after = await quote(before.token!);
  t.not(after.json.return_code, 0, 'the old JWT is refused');
  t.equal(code(after.text), 'KG2007', after.text);

  const again = await exchange();
  t.ok(again.token, 'the bot is not disabled: a new exchange works');
  t.equal((await quote(again.token!)).json.return_code, 0, 'and its new session works');
  const json = await kguardInProcess(['bots', 'kill-sessions', BOT, '--json'], { env: adminEnv });
  t.same(JSON.parse(json.stdout), { ended: true }, '--json prints the admin API answer');
});

t.test('bots disable refuses new token exchanges and old sessions; enable lets new ones in', async (t) => {
  const before = await exchange();
  t.ok(before.token, before.text);
  const r = await kguardInProcess(['bots', 'disable', BOT, '--admin-url', adminEnv.KGUARD_ADMIN_URL!, '--token-file', tokenFile, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { bot: { id: BOT, enabled: false } }, 'the admin route answered');
  t.equal(r.stderr, '', 'no offline warning: the running sidecar did all of it');

  const refused = await exchange();
  t.notOk(refused.token, 'no token for a disabled bot');
  t.equal(code(refused.text), 'KG2006', refused.text);
  t.equal(code((await quote(before.token!)).text), 'KG2006', 'the session from before is refused too');
  t.match(JSON.parse((await kguardInProcess(['bots', 'list', '--json', ...dd()])).stdout), [{ id: BOT, enabled: false }], 'the registry says so');

  const enabled = await kguardInProcess(['bots', 'enable', BOT], { env: adminEnv });
  t.equal(enabled.code, 0, enabled.stderr);
  t.equal(enabled.stdout, `봇 ${BOT}을(를) 다시 사용하도록 했습니다. 이전에 끝난 세션은 끝난 채로 둡니다\n`);
  const fresh = await exchange();
  t.ok(fresh.token, fresh.text);
  t.equal((await quote(fresh.token!)).json.return_code, 0);
});

t.test('an unknown bot: the admin API says so, the CLI exits 1', async (t) => {
  const r = await kguardInProcess(['bots', 'disable', 'no-such-bot'], { env: adminEnv });
  t.equal(r.code, 1);
  t.match(r.stderr, /^error \(HTTP 404\): .*KG1009/);
});

t.test('bots remove offboards the bot through the admin API: steps printed, files gone, a second removal exits 1 (KG2012)', async (t) => {
  const before = await exchange();
  t.ok(before.token, before.text);
  t.equal((await quote(before.token!)).json.return_code, 0);

  const noReason = await kguardInProcess(['bots', 'remove', BOT], { env: adminEnv });
  t.equal(noReason.code, 2, 'a removal must say why');
  const viewer = await kguardInProcess(['bots', 'remove', BOT, '--reason', 'customer left'], { env: { ...adminEnv, KGUARD_ADMIN_TOKEN_FILE: viewerFile } });
  t.equal(viewer.code, 1, 'a viewer may not remove a bot');
  t.equal((await quote(before.token!)).json.return_code, 0, 'so the session still works');

  const r = await kguardInProcess(['bots', 'remove', BOT, '--reason', 'customer left'], { env: adminEnv });
  t.equal(r.code, 0, r.stderr);
  t.match(
    r.stdout,
    new RegExp(`^봇 ${BOT} 제거됨\\n  완료 disable .*\\n  완료 broker .*revoked.*\\n  완료 credentials .*\\n  완료 registration .*\\n  완료 state `),
  );
  t.notOk(r.stdout.includes(APP_KEY) || r.stdout.includes(SECRET_KEY), 'no secret printed');
  t.not((await quote(before.token!)).json.return_code, 0, 'its session is refused');
  t.equal(code((await exchange()).text), 'KG2005', 'it can no longer log in');
  t.same(JSON.parse((await kguardInProcess(['bots', 'list', '--json', ...dd()])).stdout), [], 'no bot registered');
  t.same(JSON.parse((await kguardInProcess(['keys', 'list', '--json', ...dd()])).stdout), [], 'no credential record');

  const again = await kguardInProcess(['bots', 'remove', BOT, '--reason', 'customer left', '--json'], { env: adminEnv });
  t.equal(again.code, 1);
  t.match(again.stderr, /^error \(HTTP 404\): .*KG2012/);
});
