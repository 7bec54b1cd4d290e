// kguard admins add --token-out FILE wrote the new admin token with an atomic
// rename over FILE: pointed at a file that already existed (another admin's
// token file, the only copy of it), it replaced it without a word, as bots
// add --secret-out did (review-secret-out-kept). Now the file is left as it
// was, no admin is created, and the message says the file exists and is never
// replaced, in the operator's language. A new file is still created 0600 with
// the token; a name already taken leaves no file behind.
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../helpers/vault-fixtures.js';
import { kguardInProcess } from './run-cli.js';

const dir = await tempDir(t, 'kguard-token-out-');
const dd = ['--data-dir', path.join(dir, 'data')];
const admins = async () => JSON.parse((await kguardInProcess(['admins', 'list', '--json', ...dd])).stdout) as { name: string }[];

t.test("an existing --token-out file (another admin's token) is neither replaced nor taken", async (t) => {
  const other = path.join(dir, 'alice.token');
  const before = 'kga_TOKENofALICEthatNOoneELSEhas0123456789abcdefgh';
  await writeFile(other, before, { mode: 0o600 });
  for (const lang of ['en', 'ko'] as const) {
    const r = await kguardInProcess(['admins', 'add', 'bob', '--role', 'admin', '--token-out', other, '--lang', lang, ...dd]);
    t.equal(r.code, 1, `refused (${lang})`);
    t.match(
      r.stderr,
      lang === 'en'
        ? /--token-out .*alice\.token: the file exists and is never replaced; name a new file \(admin bob not created\)/
        : /--token-out .*alice\.token: 이미 있는 파일은 덮어쓰지 않습니다.*관리자 bob은\(는\) 만들지 않았습니다/,
      `the message says the file exists (${lang})`,
    );
    t.notMatch(r.stdout + r.stderr, /kga_/, 'no token printed');
    t.equal(await readFile(other, 'utf8').catch(() => 'GONE'), before, "alice's token is still there, unchanged");
  }
  t.same(await admins(), [], 'no admin created');
});

t.test('a new --token-out file gets the token, mode 0600; a name taken leaves no file behind', async (t) => {
  const out = path.join(dir, 'bob.token');
  const r = await kguardInProcess(['admins', 'add', 'bob', '--role', 'admin', '--token-out', out, '--lang', 'en', ...dd]);
  t.equal(r.code, 0, r.stderr);
  t.match(await readFile(out, 'latin1'), /^kga_/, 'the token');
  t.equal((await stat(out)).mode & 0o777, 0o600);
  t.same(
    (await admins()).map((a) => a.name),
    ['bob'],
  );
  const again = path.join(dir, 'bob-again.token');
  const dup = await kguardInProcess(['admins', 'add', 'bob', '--role', 'admin', '--token-out', again, '--lang', 'en', ...dd]);
  t.equal(dup.code, 1, 'the name is taken');
  t.equal(await stat(again).catch(() => 'absent'), 'absent', 'no file left for an admin not created');
});
