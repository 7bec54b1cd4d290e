// kguard bots import --secrets-out names a file it creates (0600, never
// replacing one). Pointed at a file that already exists (yesterday's: the
// only copy of the bot secrets it generated then), it refused, said "cannot
// read (EEXIST)", and then shredded that file as if it were its own. Now the
// file is left as it was, nothing is registered, and the message says the
// file exists and is never replaced.
import t from 'tap';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/vault-fixtures.js';
import { kguardInProcess } from './run-cli.js';

const dir = await tempDir(t, 'kguard-secrets-out-');
const dd = ['--data-dir', dir, '--lang', 'en'];
const file = path.join(dir, 'batch.jsonl');
await writeFile(
  file,
  `${JSON.stringify({ id: 'kept-a', owner: 'desk', account: '5012345601' })}\tappKey=KEPTappKEY1abcdefghij\tsecretKey=KEPTsecretKEY1abcdefghijkl\n`,
  { mode: 0o600 },
);

t.test('an existing --secrets-out file is neither replaced nor destroyed', async (t) => {
  const yesterday = path.join(dir, 'yesterday.tsv');
  const before = 'old-bot-1\tSECRETofYESTERDAYthatNOoneELSEhas0123456789abcd\n';
  await writeFile(yesterday, before, { mode: 0o600 });
  const r = await kguardInProcess(['bots', 'import', '--from-file', file, '--secrets-out', yesterday, ...dd]);
  t.equal(r.code, 1, 'refused');
  t.equal(await readFile(yesterday, 'utf8').catch(() => 'GONE'), before, "yesterday's secrets are still there, unchanged");
  t.match(r.stderr, /--secrets-out .*yesterday\.tsv: the file exists and is never replaced/, 'the message says the file exists');
  t.notMatch(r.stderr, 'cannot read', 'not a read failure');
  t.same(
    (await readdir(path.join(dir, 'bots')).catch(() => [])).filter((n) => n.endsWith('.json')),
    [],
    'nothing registered',
  );
});
