// kguard bots add --secret-out FILE wrote the new bot's secret with an atomic
// rename over FILE: pointed at a file that already existed (another bot's
// secret file, the only copy of it), it replaced it without a word. bots
// import --secrets-out never replaces a file (review-secrets-out-kept); add
// now does the same: the file is left as it was, no bot is registered, and
// the message says the file exists and is never replaced, in the operator's
// language. A new file is still created 0600 with the secret.
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../helpers/vault-fixtures.js';
import { kguardInProcess } from './run-cli.js';

const dir = await tempDir(t, 'kguard-secret-out-');
const dd = ['--data-dir', path.join(dir, 'data')];
const registered = async () => (await readdir(path.join(dir, 'data', 'bots')).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();

t.test("an existing --secret-out file (another bot's secret) is neither replaced nor taken", async (t) => {
  const other = path.join(dir, 'alpha.secret');
  const before = 'SECRETofALPHAthatNOoneELSEhas0123456789abcdefgh';
  await writeFile(other, before, { mode: 0o600 });
  for (const lang of ['en', 'ko'] as const) {
    const r = await kguardInProcess(['bots', 'add', 'beta', '--account', '5012345678', '--secret-out', other, '--lang', lang, ...dd]);
    t.equal(r.code, 1, `refused (${lang})`);
    t.match(
      r.stderr,
      lang === 'en'
        ? /--secret-out .*alpha\.secret: the file exists and is never replaced/
        : /--secret-out .*alpha\.secret: 이미 있는 파일은 덮어쓰지 않습니다/,
      `the message says the file exists (${lang})`,
    );
    t.equal(await readFile(other, 'utf8').catch(() => 'GONE'), before, "alpha's secret is still there, unchanged");
  }
  t.same(await registered(), [], 'no bot registered');
});

t.test('a new --secret-out file gets the secret, mode 0600; a bot id taken leaves no file behind', async (t) => {
  const out = path.join(dir, 'beta.secret');
  const r = await kguardInProcess(['bots', 'add', 'beta', '--account', '5012345678', '--secret-out', out, '--lang', 'en', ...dd]);
  t.equal(r.code, 0, r.stderr);
  t.match(await readFile(out, 'latin1'), /^[A-Za-z0-9_-]{43}$/, 'the secret');
  t.equal((await stat(out)).mode & 0o777, 0o600);
  t.same(await registered(), ['beta.json']);
  const again = path.join(dir, 'beta-again.secret');
  const dup = await kguardInProcess(['bots', 'add', 'beta', '--account', '5012345678', '--secret-out', again, '--lang', 'en', ...dd]);
  t.equal(dup.code, 1, 'the id is taken');
  t.equal(await stat(again).catch(() => 'absent'), 'absent', 'no file left for a bot not created');
});
