// kguard bots import spoke English only to a Korean operator: the per-line
// refusal ("line 2 (x): ..."), "... and N more", "the batch was refused;
// nothing was changed" and the summary; and it ignored --lang (the problems'
// own messages followed the configured language). Now the command prints in
// --lang, else the configured language, Korean unless set; --json as before.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../proxy/common/errors.js';
import { tempDir } from '../helpers/vault-fixtures.js';
import { kguardInProcess } from './run-cli.js';

const dir = await tempDir(t, 'kguard-import-language-');
const dd = ['--data-dir', dir];
const file = path.join(dir, 'batch.jsonl');
const line = (id: string, n: number) =>
  `${JSON.stringify({ id, owner: 'desk', account: `50123456${String(n).padStart(2, '0')}` })}\tappKey=LANGappKEY${n}abcdefghij\tsecretKey=LANGsecretKEY${n}abcdefghijkl\n`;
await writeFile(file, line('lang-a', 1) + line('lang-b', 2), { mode: 0o600 });

t.test('a batch imported, then refused as already registered: Korean by default, English by --lang', async (t) => {
  const ok = await kguardInProcess(['bots', 'import', '--from-file', file, '--secrets-out', path.join(dir, 's1.tsv'), ...dd]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, `봇 2개를 등록하고 자격 증명 2개를 가져왔습니다. 생성된 시크릿은 ${path.join(dir, 's1.tsv')}에 있습니다 (권한 0600)\n`);
  const ko = await kguardInProcess(['bots', 'import', '--from-file', file, '--secrets-out', path.join(dir, 's2.tsv'), ...dd]);
  t.equal(ko.code, 1);
  t.match(ko.stderr, `줄 2 (lang-b): KG2011 ${errorMessage('KG2011', 'ko')}`, 'each problem named by line, in Korean');
  t.match(ko.stderr, '일괄 등록이 거부되었습니다. 아무것도 바뀌지 않았습니다\n');
  t.notMatch(ko.stderr, 'the batch was refused');
  const en = await kguardInProcess(['bots', 'import', '--from-file', file, '--secrets-out', path.join(dir, 's3.tsv'), '--lang', 'en', ...dd]);
  t.equal(en.code, 1);
  t.match(en.stderr, `line 2 (lang-b): KG2011 ${errorMessage('KG2011', 'en')}`, '--lang en: the problems in English too');
  t.match(en.stderr, 'the batch was refused; nothing was changed\n');
});
