// Review regression: there was no way to offboard many bots at once. A trading service whose customers leave
// together (a contract ends) ran `kguard bots remove <id>` once per bot. Now `bots remove --from-file FILE` removes
// every bot id FILE lists (one a line, # comments), each an audited removal of its own with its own steps, at
// most --parallel at once; a line that is not a bot id, or an id twice, refuses the list before any removal; an
// admin token the sidecar refuses stops the run and lists what was not attempted. Exit 0 all removed, 3 some
// stopped part-way, 1 some failed, 2 a bad list.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { CANARY, startHarness } from '../helpers/harness.js';
import { kguardInProcess } from './run-cli.js';

const h = await startHarness();
t.teardown(() => h.close());
const tokenFile = async (name: string, role: 'viewer' | 'admin') => {
  const file = path.join(h.dataDir, `${name}.token`);
  await writeFile(file, `${await h.adminToken(name, role)}\n`, { mode: 0o600 });
  return file;
};
const adminEnv = { KGUARD_ADMIN_URL: `${h.adminUrl}/admin/v1`, KGUARD_ADMIN_TOKEN_FILE: await tokenFile('ops', 'admin') };
const viewerEnv = { ...adminEnv, KGUARD_ADMIN_TOKEN_FILE: await tokenFile('vic', 'viewer') };
const registered = () => h.sidecar.parts.bots.list().map((b) => b.id);
const list = async (name: string, text: string) => {
  const file = path.join(h.dataDir, name);
  await writeFile(file, text);
  return file;
};
const outputs: string[] = [];
const remove = async (args: string[], env: NodeJS.ProcessEnv = adminEnv) => {
  const r = await kguardInProcess(['bots', 'remove', '--reason', 'contract ended', ...args], { env });
  outputs.push(r.stdout, r.stderr);
  return r;
};

for (const id of ['cust-001', 'cust-002', 'cust-003', 'cust-004']) await h.addBot(id, ['kind:query']);
const tokens = { 'cust-001': await h.addBot('cust-005', ['kind:query']) };

t.test('a list with a line that is no bot id, or an id twice, is refused whole: nothing removed', async (t) => {
  const before = registered();
  const file = await list('bad.txt', '# leaving on 2026-12-31\ncust-001\nCust 002!\ncust-003\ncust-001  # again\n');
  const r = await remove(['--from-file', file, '--lang', 'en']);
  t.equal(r.code, 2, 'a bad list is a usage error');
  t.match(r.stderr, /^line 3: not a bot id \(Cust 002!\)\nline 5: cust-001 is listed already\nthe list was refused; no bot was removed\n$/);
  t.same(registered(), before, 'every bot still registered');
  const ko = await remove(['--from-file', file]);
  t.match(ko.stderr, /줄 3: 봇 ID가 아닙니다 \(Cust 002!\)\n줄 5: cust-001 이\(가\) 앞에 이미 있습니다\n목록이 거부되었습니다/, 'Korean by default');
});

t.test('one id or --from-file: not both, not neither; --parallel within 1..32', async (t) => {
  const file = await list('one.txt', 'cust-001\n');
  t.equal((await remove(['cust-001', '--from-file', file])).code, 2);
  t.equal((await remove([])).code, 2);
  t.equal((await remove(['--from-file', file, '--parallel', '0'])).code, 2);
  t.equal((await remove(['--from-file', file, '--parallel', '33'])).code, 2);
  t.equal((await remove(['--from-file', await list('empty.txt', '# nobody\n\n')])).code, 2, 'a list naming no bot');
  const missing = await remove(['--from-file', path.join(h.dataDir, 'missing.txt'), '--lang', 'en']);
  t.equal(missing.code, 2, 'a list that cannot be read');
  t.match(missing.stderr, /missing\.txt: cannot be read \(ENOENT\)/, 'saying why');
  t.match((await remove(['--from-file', h.dataDir, '--lang', 'en'])).stderr, /cannot be read \(not a regular file\)/, 'a directory');
  t.ok(registered().includes('cust-001'), 'nothing removed');
});

t.test('a token the sidecar refuses stops the run: what was not attempted is listed, nothing removed', async (t) => {
  const file = await list('viewer.txt', 'cust-001\ncust-002\ncust-003\n');
  const r = await remove(['--from-file', file, '--parallel', '1', '--json'], viewerEnv);
  t.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as { removed: number; failed: number; notAttempted: number; bots: { botId: string; status: string; httpStatus?: number }[] };
  t.match(out, { removed: 0, failed: 1, notAttempted: 2 });
  t.match(out.bots, [
    { botId: 'cust-001', status: 'failed', httpStatus: 403 },
    { botId: 'cust-002', status: 'not-attempted' },
    { botId: 'cust-003', status: 'not-attempted' },
  ]);
  t.ok(
    ['cust-001', 'cust-002', 'cust-003'].every((id) => registered().includes(id)),
    'all still registered',
  );
});

t.test('every listed bot removed, each with its steps; an unknown id fails on its own; the others stay', async (t) => {
  const quote = async (token: string) => (await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code;
  t.equal(await quote(tokens['cust-001']), 0, "a listed bot's session works before");
  const file = await list('leaving.txt', '# contract 2026-A ends\ncust-001\ncust-002\n\nnot-a-bot\ncust-003\ncust-005\n');
  const r = await remove(['--from-file', file, '--lang', 'en']);
  t.equal(r.code, 1, 'one failed: exit 1');
  for (const id of ['cust-001', 'cust-002', 'cust-003', 'cust-005'])
    t.match(
      r.stdout,
      new RegExp(`^REMOVED bot ${id}\\n  ok +disable .*\\n  ok +broker .*\\n  ok +credentials .*\\n  ok +registration .*\\n  ok +state `, 'm'),
      id,
    );
  t.match(r.stdout, /^FAILED bot not-a-bot \(HTTP 404\): .*\[KG2012/m, 'the unknown id fails on its own');
  t.match(r.stdout, /\n4 removed, 0 stopped part-way \(disabled, not removed\), 1 failed, 0 not attempted\n$/, 'the totals last');
  t.same(registered().sort(), ['bot-e2e', 'cust-004'], 'the bots not listed stay');
  t.not(await quote(tokens['cust-001']), 0, "a removed bot's session is refused");
  t.equal((await h.call('ka10001', { stk_cd: '005930' })).json.return_code, 0, 'a bot not listed still trades');
});

t.test('all removed: exit 0, in Korean by default', async (t) => {
  const r = await remove(['--from-file', await list('last.txt', 'cust-004\n')]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^봇 cust-004 제거됨\n[\s\S]*제거됨 1, 중간에 멈춤 0 \(사용 중지됨, 제거되지 않음\), 실패 0, 시도하지 않음 0\n$/);
});

t.test('no output carried a secret', async (t) => {
  const all = outputs.join('\n');
  t.ok(all.length > 0);
  for (const s of [CANARY.appKey, CANARY.secretKey, h.botSecret]) t.notOk(all.includes(s), 'no canary');
});
