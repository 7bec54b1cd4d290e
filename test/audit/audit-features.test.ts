// Redaction with canary secrets, fail-closed behaviour, receipts, the
// redis-stream sink against a real redis-server, config errors and the CLI.
import { readFile, rm, symlink, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Redis } from 'ioredis';
import t from 'tap';
import audit from '../../proxy/cli/audit.js';
import type { CliIO } from '../../proxy/cli/types.js';
import { isGuardError } from '../../proxy/common/errors.js';
import { loadPublicKey, parseAuditConfig, verifyReceipt } from '../../proxy/audit/index.js';
import { listLogFiles } from '../../proxy/audit/logfiles.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { auditEnv } from '../helpers/audit-env.js';
import { buildLog, editRecord, logFilePaths } from '../helpers/audit-log.js';
import { startRedis } from '../helpers/redis.js';

function fakeIO(stdin = ''): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stdout = new PassThrough().on('data', (d: Buffer) => {
    out += d.toString();
  });
  const stderr = new PassThrough().on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { stdin: Readable.from([Buffer.from(stdin)]), stdout, stderr, env: {}, out: () => out, err: () => err };
}

async function allLogText(dir: string): Promise<string> {
  const files = await listLogFiles(dir);
  return (await Promise.all(files.map((f) => readFile(f.path, 'utf8')))).join('');
}

t.test('secrets never reach the log; sensitive fields are keyed hashes an investigator can search', async (t) => {
  const env = await auditEnv({ hmacFields: ['accountNo', 'clientIp'] });
  t.teardown(env.cleanup);
  const a = await env.open();
  const token = Buffer.from('CANARY-BROKER-TOKEN-0001');
  const fp = a.fingerprint(token);
  await a.append({
    type: 'broker_token.issued',
    botId: 'bot-a',
    tokenFingerprint: fp,
    appkey: Buffer.from('CANARY-APPKEY-0002'),
    secretkey: 'CANARY-SECRET-0003',
    headers: { authorization: 'Bearer CANARY-JWT-0004', 'api-id': 'au10001' },
    note: 'Bearer CANARY-TOKEN-0005',
    password: 'CANARY-PW-0006',
    nested: { deeper: { accessToken: 'CANARY-0007' } },
    accountNo: '5012345678',
    clientIp: '10.1.2.3',
  });
  await a.close();
  const text = await allLogText(env.logDir);
  t.notMatch(text, /CANARY/, 'no canary secret in the log');
  t.notMatch(text, /5012345678|10\.1\.2\.3/, 'sensitive values only as keyed hashes');
  const record = JSON.parse(text.trim().split('\n')[0]!) as { data: Record<string, any> };
  t.equal(record.data.tokenFingerprint, fp, 'a caller-made fingerprint passes');
  t.match(record.data.accountNo, /^hmac:[0-9a-f]{64}$/);
  t.same(record.data._stripped.sort(), ['appkey', 'headers.authorization', 'nested.deeper.accessToken', 'password', 'secretkey'].sort());
  t.equal(record.data.note, '[stripped:bearer]');
  t.equal(record.data.headers['api-id'], 'au10001');

  const io = fakeIO('5012345678\n');
  t.equal(await audit(['hash', '--hmac-key', env.config.hmacKeyFile], io), 0);
  t.equal(io.out().trim(), record.data.accountNo, 'kguard audit hash finds the account');
  const io2 = fakeIO('CANARY-BROKER-TOKEN-0001');
  await audit(['hash', '--hmac-key', env.config.hmacKeyFile], io2);
  t.equal(io2.out().trim(), fp, 'and the token fingerprint');
  await t.rejects(audit(['hash', 'on-argv', '--hmac-key', env.config.hmacKeyFile], fakeIO()), /stdin/);
  // Review regression (a security engineer's): the key's mode was checked by path and the file read after, so a
  // symlink to a 0600 file passed; the key is judged on its opened descriptor now, no link followed.
  const link = path.join(path.dirname(env.config.hmacKeyFile), 'hmac-link.key');
  await symlink(env.config.hmacKeyFile, link);
  await t.rejects(audit(['hash', '--hmac-key', link], fakeIO('5012345678\n')), 'a symlink to the key is not followed');
});

t.test('fails closed when no sink can write (disk full), recovers when it can', async (t) => {
  const env = await auditEnv();
  t.teardown(env.cleanup);
  await mkdir(env.logDir, { recursive: true });
  const full = path.join(env.logDir, 'audit-0000000000000001.jsonl');
  await symlink('/dev/full', full);
  const a = await env.open({});
  const err = await a.append({ type: 'call.intent', requestId: 'x' }).catch((e: unknown) => e);
  t.ok(isGuardError(err) && err.code === 'KG6001', 'append is refused with KG6001');
  await t.rejects(a.health(), { code: 'KG6001' }, 'health fails (readyz red)');
  const metrics = await env.registry.getSingleMetricAsString('kguard_audit_healthy');
  t.match(metrics, /kguard_audit_healthy 0/);
  t.match(await env.registry.getSingleMetricAsString('kguard_audit_refused_total'), /kguard_audit_refused_total 1/);

  await rm(full);
  await new Promise((r) => setTimeout(r, 1100)); // sinkRetryMs
  await a.health();
  const ack = await a.append({ type: 'call.intent', requestId: 'y' });
  t.equal(ack.seq, 2, 'after the recovery record that marks the outage');
  await a.close();
  const r = await verifyLog(env.logDir, { publicKeyFile: path.join(env.dataDir, 'audit-signing.pub') });
  t.ok(r.ok, r.failure?.reason ?? 'the log verifies');
  t.match(await allLogText(env.logDir), /sink-resumed/);
});

t.test('a second sink keeps calls flowing when the first fails', async (t) => {
  const env = await auditEnv({ sinks: [{ type: 'file' }, { type: 'stdout' }] });
  t.teardown(env.cleanup);
  await mkdir(env.logDir, { recursive: true });
  await symlink('/dev/full', path.join(env.logDir, 'audit-0000000000000001.jsonl'));
  const out = new PassThrough();
  let lines = '';
  out.on('data', (d: Buffer) => {
    lines += d.toString();
  });
  const a = await env.open({ stdout: out });
  const ack = await a.append({ type: 'decision', requestId: 'z', decision: 'allow' });
  t.equal(ack.sink, 'stdout');
  await a.health();
  t.same(
    a.status().map((s) => [s.id, s.up]),
    [
      ['file', false],
      ['stdout', true],
    ],
  );
  t.match(lines, /"type":"decision"/);
});

t.test('receipts prove one record against a signed checkpoint', async (t) => {
  const env = await auditEnv({ checkpoint: { everyRecords: 1000, everyMs: 60_000 } });
  t.teardown(env.cleanup);
  const a = await env.open();
  const acks = await Promise.all(Array.from({ length: 37 }, (_, i) => a.append({ type: 'call.intent', requestId: `o${i}`, apiId: 'kt10000' })));
  const key = await loadPublicKey(path.join(env.dataDir, 'audit-signing.pub'));
  for (const seq of [1, 2, 17, 36, 37]) {
    const receipt = await a.receipt(seq);
    t.ok(receipt, `receipt ${seq} (checkpointed on demand)`);
    t.same(verifyReceipt(receipt!, key), { ok: true });
    t.equal(receipt!.recordHash, acks.find((x) => x.seq === seq)!.hash);
  }
  const r = (await a.receipt(17))!;
  t.notOk(verifyReceipt({ ...r, proof: [...r.proof].reverse() }, key).ok, 'a wrong proof fails');
  t.notOk(verifyReceipt({ ...r, recordHash: acks[3]!.hash }, key).ok, 'another record fails');
  // Event fields live in record.data; edit one so the tamper is a real change.
  t.equal(r.record!.data.apiId, 'kt10000', 'the receipt carries the record as written');
  t.notOk(verifyReceipt({ ...r, record: { ...r.record!, data: { ...r.record!.data, apiId: 'kt10001' } } }, key).ok, 'an edited record fails');
  t.equal(await a.receipt(999), undefined);
  await a.close();

  const file = path.join(env.dataDir, 'r.json');
  const io = fakeIO();
  t.equal(await audit(['receipt', '17', '--dir', env.logDir], io), 0);
  await writeFile(file, io.out());
  const io2 = fakeIO();
  t.equal(await audit(['receipt', '--verify', file, '--lang', 'en', '--public-key', path.join(env.dataDir, 'audit-signing.pub')], io2), 0);
  t.match(io2.out(), /VALID receipt for seq 17/);
});

t.test('redis-stream sink chains records in Redis, bounded, and resumes', async (t) => {
  const redisProc = await startRedis();
  t.teardown(() => redisProc.cleanup());
  const redis = new Redis(redisProc.port, '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: false });
  redis.on('error', () => undefined); // the test kills Redis on purpose
  t.teardown(() => redis.disconnect());
  const env = await auditEnv({
    sinks: [{ type: 'file' }, { type: 'redis-stream', stream: 'kg:audit', maxLen: 1000 }],
    checkpoint: { everyRecords: 5, mirrorRedisKey: 'kg:audit:checkpoints' },
    sinkTimeoutMs: 500,
    sinkRetryMs: 0,
  });
  t.teardown(env.cleanup);
  const a = await env.open({ redis });
  for (let i = 0; i < 12; i++) await a.append({ type: 'call.intent', requestId: `q${i}` });
  await a.close();
  const b = await env.open({ redis });
  await b.append({ type: 'call.outcome', requestId: 'q12' });
  const entries = await redis.xrange('kg:audit:test-replica', '-', '+');
  t.equal(entries.length, 13);
  const records = entries.map(([, f]) => JSON.parse(f[1]!) as { seq: number; prev: string; hash: string; sink: string });
  t.same(
    records.map((r) => r.seq),
    Array.from({ length: 13 }, (_, i) => i + 1),
  );
  for (let i = 1; i < records.length; i++) t.equal(records[i]!.prev, records[i - 1]!.hash);
  t.ok((await redis.xlen('kg:audit:checkpoints')) >= 2, 'checkpoints mirrored to Redis');

  await redisProc.kill();
  const ack = await b.append({ type: 'call.intent', requestId: 'while-redis-down' });
  t.equal(ack.sink, 'file', 'the file sink still takes records');
  t.same(b.status().find((s) => s.id === 'redis')?.up, false);
});

t.test('config: defaults and clear errors', async (t) => {
  const c = parseAuditConfig(undefined, '/data');
  t.equal(c.sinks.length, 1);
  t.match(c.sinks[0], { type: 'file', dir: '/data/audit', fsync: 'group', groupCommitMs: 0, write: 'inline' });
  t.throws(() => parseAuditConfig({ sinks: [{ type: 'file', write: 'async' }] }, '/d'), /audit\.sinks\[0\]\.write: must be one of inline, pool/);
  t.equal(c.signingKeyFile, '/data/audit-signing.key');
  t.equal(c.checkpoint.everyRecords, 1000);
  t.throws(() => parseAuditConfig({ sinks: [{ type: 'file', fsync: 'sometimes' }] }, '/d'), /audit\.sinks\[0\]\.fsync: must be one of group, always, none/);
  t.throws(() => parseAuditConfig({ sink: [] }, '/d'), /unknown key 'sink'/);
  t.throws(() => parseAuditConfig({ sinks: [{ type: 'kafka' }] }, '/d'), /audit\.sinks\[0\]\.type/);
  t.throws(() => parseAuditConfig({ checkpoint: { mirrorDir: 'audit' } }, '/d'), /mirrorDir/);
  t.throws(() => parseAuditConfig({ sinks: [{ type: 'file' }, { type: 'file', dir: 'b' }] }, '/d'), /used by another sink/);
  t.throws(() => parseAuditConfig({ checkpoint: { everyRecords: 0 } }, '/d'), /everyRecords: must be an integer/);
});

t.test('kguard audit verify: verdict and exit code', async (t) => {
  const log = await buildLog(50);
  t.teardown(log.env.cleanup);
  const ok = fakeIO();
  t.equal(await audit(['verify', '--lang', 'en', '--public-key', log.publicKeyFile, '--checkpoints', log.mirrorDir, log.dir], ok), 0);
  t.match(ok.out(), /^VERIFIED .*50 records \(seq 1\.\.50\)/);
  const [file] = await logFilePaths(log.dir);
  await editRecord(file!, 9, (r) => {
    r.data.botId = 'bot-b';
  });
  const bad = fakeIO();
  t.equal(await audit(['verify', '--lang', 'en', '--public-key', log.publicKeyFile, log.dir], bad), 1);
  t.match(bad.out(), /FAILED[\s\S]*first bad record: seq 10 at audit-0000000000000001\.jsonl:10/);
  const json = fakeIO();
  await audit(['verify', '--json', '--public-key', log.publicKeyFile, log.dir], json);
  t.match(JSON.parse(json.out()), { ok: false, failure: { seq: 10 } });
  t.equal(await audit(['nope'], fakeIO()), 2);
});
