// Review regression: `kguard audit verify | receipt | keygen` printed English
// only to a Korean compliance officer (every other kguard command prints in
// --lang or the configured language, Korean unless set). Now they do too; the
// verdict leads the line as it is (VERIFIED, FAILED, VALID, INVALID), paths,
// seqs and key ids as they are, --json unchanged.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildReceipt } from '../../proxy/audit/index.js';
import { buildLog, editRecord, logFilePaths } from '../helpers/audit-log.js';
import { kguardInProcess } from './run-cli.js';

t.test('verify and receipt --verify print Korean by default, English with --lang en', async (t) => {
  const log = await buildLog(30);
  t.teardown(log.env.cleanup);
  const args = ['audit', 'verify', log.dir, '--public-key', log.publicKeyFile, '--checkpoints', log.mirrorDir];

  const ko = await kguardInProcess(args);
  t.equal(ko.code, 0, ko.stderr);
  t.match(ko.stdout, /^VERIFIED .*: 검증 통과, 레코드 30개 \(seq 1\.\.30\), 파일 1개, 서명된 체크포인트 \d+개$/m);
  t.match(ko.stdout, /^ {2}서명 키 [0-9a-f]+ /m);
  t.notMatch(ko.stdout, /records|signing key|signed checkpoint/, 'no English frame in the Korean output');

  const en = await kguardInProcess([...args, '--lang', 'en']);
  t.match(en.stdout, /^VERIFIED .*: 30 records \(seq 1\.\.30\) in 1 file\(s\), \d+ signed checkpoint\(s\)$/m);
  const json = await kguardInProcess([...args, '--json']);
  t.equal(JSON.parse(json.stdout).records, 30, '--json is not translated');

  const dir = await mkdtemp(path.join(tmpdir(), 'kg-audit-lang-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const receipt = path.join(dir, 'r.json');
  await writeFile(receipt, JSON.stringify(await buildReceipt(log.dir, 7)));
  const valid = await kguardInProcess(['audit', 'receipt', '--verify', receipt, '--public-key', log.publicKeyFile]);
  t.equal(valid.code, 0, valid.stderr);
  t.match(valid.stdout, /^VALID seq 7의 영수증이 유효합니다 \(체크포인트 \d+\.\.\d+\)$/m);

  const [file] = await logFilePaths(log.dir);
  await editRecord(file!, 9, (r) => {
    r.data.body.ord_qty = '9999';
  });
  const bad = await kguardInProcess(args);
  t.equal(bad.code, 1);
  t.match(bad.stdout, /^FAILED .*: 감사 로그 검증 실패$/m);
  t.match(bad.stdout, /^ {2}첫 번째 잘못된 레코드: seq 10 audit-0+1\.jsonl:10$/m);
  t.match(bad.stdout, /^ {2}사유: /m);
  t.notMatch(bad.stdout, /first bad record|reason:/);
});

t.test('keygen prints Korean by default', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kg-audit-keygen-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const r = await kguardInProcess(['audit', 'keygen', '--data-dir', dataDir]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^서명 키 .*: 만들었습니다 \(키 ID [0-9a-f]+\)$/m);
  t.match(r.stdout, /감사인에게 전달하십시오/);
  const again = await kguardInProcess(['audit', 'keygen', '--data-dir', dataDir, '--lang', 'en']);
  t.match(again.stdout, /^signing key .*: exists, kept \(key id [0-9a-f]+\)$/m);
});
