// Review (red team): `kguard admins add --token-out FILE` and `kguard bots add
// --secret-out FILE` show their credential once, in FILE. When FILE cannot be
// written (no such directory, a directory in its place) the command fails —
// and must leave nothing behind: no admin or bot whose token or secret nobody
// ever saw, holding the name so the retry is refused as a duplicate.
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { kguardInProcess } from './run-cli.js';

const dir = await mkdtemp(path.join(tmpdir(), 'kguard-shown-once-'));
await chmod(dir, 0o700);
t.teardown(() => rm(dir, { recursive: true, force: true }));
const dd = ['--data-dir', path.join(dir, 'data')];

t.test('admins add: a --token-out that cannot be written creates no admin', async (t) => {
  for (const out of [path.join(dir, 'missing', 'ops.token'), dir]) {
    const r = await kguardInProcess(['admins', 'add', 'ops', '--role', 'admin', '--token-out', out, ...dd]);
    t.equal(r.code, 1, `--token-out ${out}: exit 1`);
    t.notMatch(r.stdout + r.stderr, /kga_/, 'no token printed');
    // A directory in its place is a file that exists (never replaced), said in the configured language (Korean).
    t.match(r.stderr, /admin ops not created|관리자 ops은\(는\) 만들지 않았습니다/, 'says nothing was created');
    const list = await kguardInProcess(['admins', 'list', '--json', ...dd]);
    t.same(JSON.parse(list.stdout), [], 'no admin left behind');
  }
  const good = path.join(dir, 'ops.token');
  const ok = await kguardInProcess(['admins', 'add', 'ops', '--role', 'admin', '--token-out', good, ...dd]);
  t.equal(ok.code, 0, `the retry works: ${ok.stderr}`);
  t.match(await readFile(good, 'latin1'), /^kga_/);
});

t.test('bots add: a --secret-out that cannot be written registers no bot', async (t) => {
  await mkdir(path.join(dir, 'adir'));
  for (const out of [path.join(dir, 'missing', 'b.secret'), path.join(dir, 'adir')]) {
    const r = await kguardInProcess(['bots', 'add', 'trend-bot', '--account', '5012345678', '--secret-out', out, ...dd]);
    t.equal(r.code, 1, `--secret-out ${out}: exit 1`);
    // A directory in its place is a file that exists (never replaced), said in the configured language (Korean).
    t.match(r.stderr, /bot trend-bot not created|봇 trend-bot은\(는\) 만들지 않았습니다/, 'says nothing was created');
    const list = await kguardInProcess(['bots', 'list', '--json', ...dd]);
    t.same(JSON.parse(list.stdout), [], 'no bot left behind');
  }
  const good = path.join(dir, 'b.secret');
  const ok = await kguardInProcess(['bots', 'add', 'trend-bot', '--account', '5012345678', '--secret-out', good, ...dd]);
  t.equal(ok.code, 0, `the retry works: ${ok.stderr}`);
});

t.test('admins remove: an unknown name fails (exit 1), so a typo during a revocation does not pass for success', async (t) => {
  const removeDir = ['--data-dir', path.join(dir, 'data-remove')];
  t.equal((await kguardInProcess(['admins', 'add', 'alice', '--role', 'admin', '--token-out', path.join(dir, 'alice.token'), ...removeDir])).code, 0);
  const typo = await kguardInProcess(['admins', 'remove', 'alcie', ...removeDir]);
  t.equal(typo.code, 1, 'exit 1');
  t.match(typo.stderr, /alcie\(이\)라는 관리자가 없습니다. 아무것도 제거하지 않았습니다/, 'in Korean, the configured language');
  const typoEn = await kguardInProcess(['admins', 'remove', 'alcie', '--lang', 'en', ...removeDir]);
  t.equal(typoEn.code, 1);
  t.match(typoEn.stderr, /no admin named alcie; nothing removed/, 'in English with --lang en');
  t.equal(JSON.parse((await kguardInProcess(['admins', 'list', '--json', ...removeDir])).stdout).length, 1, 'alice is still there');
  const ok = await kguardInProcess(['admins', 'remove', 'alice', ...removeDir]);
  t.equal(ok.code, 0, `the right name: ${ok.stderr}`);
  t.match(ok.stdout, /관리자 alice을\(를\) 제거했습니다/);
  t.match((await kguardInProcess(['admins', 'list', '--lang', 'en', ...removeDir])).stdout, 'no admins\n');
  t.match((await kguardInProcess(['admins', 'list', ...removeDir])).stdout, '등록된 관리자가 없습니다\n');
});
