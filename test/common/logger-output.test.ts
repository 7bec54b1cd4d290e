// The log output: lines are gathered before they are written (one write per
// line cost as much CPU as the rest of a request's line), yet a line never
// waits past log.flushMs, and nothing gathered is lost when the process
// exits. The per-request line's cheap redaction still censors secret names.
import { execFile } from 'node:child_process';
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import t from 'tap';
import { createSanitizer } from '../../proxy/audit/redact.js';
import { createLogger, flatLineLogger } from '../../proxy/common/logger.js';
import { ROOT, waitFor } from '../helpers/harness.js';

const run = promisify(execFile);

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-logout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const read = (file: string) => readFile(file, 'utf8').catch(() => '');

t.test('a gathered line reaches the output within flushMs, not only once the buffer fills', async (t) => {
  const file = path.join(await tempDir(t), 'out.log');
  const logger = createLogger({ file, bufferBytes: 16_000, flushMs: 20 });
  logger.info({ n: 1 }, 'first');
  // Waits for the event; the bound is only a safety net for a hung run.
  await waitFor(async () => (await read(file)).includes('"msg":"first"'), 30_000, 'the flushed line');
  logger.info({ n: 2 }, 'second');
  await waitFor(async () => (await read(file)).includes('"msg":"second"'), 30_000, 'the next flush');
  const lines = (await read(file)).trim().split('\n');
  t.same(
    lines.map((l) => JSON.parse(l).msg),
    ['first', 'second'],
    'each line once, whole, in order',
  );
});

t.test('lines still gathered on stdout are written when the process exits', async (t) => {
  const loggerUrl = new URL('../../dist/proxy/common/logger.js', import.meta.url).href;
  // A long flush interval: only the exit flush can write these lines.
  const script = `import { createLogger } from ${JSON.stringify(loggerUrl)};
    const l = createLogger({ bufferBytes: 16000, flushMs: 60000 });
    for (let i = 0; i < 50; i++) l.info({ i }, 'line');
    process.exit(0);`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
  const lines = stdout.trim().split('\n');
  t.equal(lines.length, 50, 'all 50 lines');
  t.same(JSON.parse(lines[49]!).i, 49);
});

t.test('the per-request line logger censors secret names like the base logger', async (t) => {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  const line = flatLineLogger(createLogger({ destination: sink }));
  line.info({ requestId: 'r1', secretKey: 'CANARY-SK-1', token: 'CANARY-TOK-2', authorization: 'Bearer CANARY-3', route: 'tr' }, 'request');
  await new Promise((r) => setImmediate(r));
  const text = out.join('');
  t.notMatch(text, /CANARY/, 'no canary in the line');
  const rec = JSON.parse(text) as Record<string, unknown>;
  t.equal(rec.secretKey, '[REDACTED]');
  t.equal(rec.token, '[REDACTED]');
  t.equal(rec.route, 'tr', 'the other fields stay');
});

t.test("the audit sanitizer's hash cache gives every value its own keyed hash, also past its bound", async (t) => {
  const key = randomBytes(32);
  const sanitize = createSanitizer({ hmacFields: ['account'], hmacKey: createSecretKey(key), maxStringLength: 256, maxRecordBytes: 65_536 });
  const expected = (v: string) => `hmac:${createHmac('sha256', key).update(v).digest('hex')}`;
  const hashOf = (v: string) => sanitize({ type: 'call.intent', account: v }).data.account;
  t.equal(hashOf('5012345678'), expected('5012345678'));
  t.equal(hashOf('5012345678'), expected('5012345678'), 'the same value again, from the cache');
  // 5,000 distinct values, twice over: more than the cache holds, so it is dropped on the way.
  let wrong = 0;
  for (let round = 0; round < 2; round++) for (let i = 0; i < 5_000; i++) if (hashOf(`acct-${i}`) !== expected(`acct-${i}`)) wrong++;
  t.equal(wrong, 0, 'every hash is the reference HMAC');
});

t.test('account numbers are masked to their last four characters wherever a line carries one', async (t) => {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ destination: sink, level: 'debug' });
  logger.warn({ scope: { account: '8888000011' } }, 'LOCKDOWN issued');
  logger.info({ account: '5000000001', botId: 'bot-a' }, 'flat');
  logger.info({ bot: { accountNo: '1234-5678-90', acctNo: '9999000022' } }, 'nested');
  logger.info({ account: '******0011' }, 'already masked');
  flatLineLogger(logger).info({ account: '7777000033', secretkey: 'x' }, 'request');
  const text = out.join('');
  for (const a of ['8888000011', '5000000001', '1234-5678-90', '9999000022', '7777000033']) t.notOk(text.includes(a), `${a} not in the log`);
  const lines = out.map((l) => JSON.parse(l) as Record<string, any>);
  t.equal(lines[0]!.scope.account, '******0011', 'masked like the incident report');
  t.equal(lines[1]!.account, '******0001');
  t.equal(lines[1]!.botId, 'bot-a', 'other fields untouched');
  t.equal(lines[2]!.bot.accountNo, '********8-90');
  t.equal(lines[3]!.account, '******0011', 'a masked number is left as it is');
  t.equal(lines[4]!.account, '******0033');
  t.equal(lines[4]!.secretkey, '[REDACTED]', 'secrets are still censored');
});
