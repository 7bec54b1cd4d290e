// Review regression: the redis-stream sink's chain against a real
// redis-server. Two writers on one stream (two sidecars on one host, whose
// replica id is the host name, or one started while its predecessor still
// drains) each chained on their own head and XADD appended both: every record
// was acknowledged and the stream forked at every seq. And when Redis came
// back empty (a restart without persistence), the sink started a fresh chain
// at seq 1 from the genesis hash, as if nothing had been written before.
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import type { RawLine } from '../../proxy/audit/logfiles.js';
import { chainRecord, GENESIS_HASH } from '../../proxy/audit/record.js';
import { parseAuditConfig } from '../../proxy/audit/config.js';
import { ChainWalker } from '../../proxy/audit/walker.js';
import { auditEnv } from '../helpers/audit-env.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { waitFor } from '../helpers/harness.js';

interface StreamRecord {
  seq: number;
  prev: string;
  hash: string;
  type: string;
  data: Record<string, unknown>;
}

function client(t: Test, redisProc: RedisProcess): Redis {
  const redis = new Redis(redisProc.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // the test stops Redis on purpose
  t.teardown(() => redis.disconnect());
  return redis;
}

async function streamLines(redis: Redis, key: string): Promise<string[]> {
  return (await redis.xrange(key, '-', '+')).map(([, fields]) => fields[fields.indexOf('r') + 1]!);
}

/** Walks a stream as verify walks a log file: one chain, seq +1 and prev links, from wherever it starts. */
function walkStream(lines: string[]): ChainWalker {
  const walker = new ChainWalker({ expectGenesis: false, fromSeq: 0 });
  lines.forEach((line, i) => {
    const raw: RawLine = { bytes: Buffer.from(line), offset: 0, terminated: true };
    walker.line(raw, { file: 'stream', line: i + 1, offset: 0 });
  });
  return walker;
}

t.test('two writers on one stream do not fork it: every acknowledged record is in one chain', async (t) => {
  const redisProc = await startRedis();
  t.teardown(() => redisProc.cleanup());
  const env = await auditEnv({ sinks: [{ type: 'redis-stream', stream: 'kg:audit' }], sinkRetryMs: 0 });
  t.teardown(env.cleanup);
  const a = await env.open({ redis: client(t, redisProc) });
  const b = await env.open({ redis: client(t, redisProc) });
  const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append({ type: 'call.intent', requestId: `r${i}` })));
  const acked = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  t.ok(acked.length > 0, `${acked.length} of 40 acknowledged`);

  const lines = await streamLines(client(t, redisProc), 'kg:audit:test-replica');
  const walker = walkStream(lines);
  t.equal(walker.error, undefined, `one chain: ${walker.error?.reason ?? 'ok'} at line ${walker.error?.line}`);
  t.equal(walker.records, lines.length, `${lines.length} entries, every one chained`);
  const inStream = new Set(lines.map((l) => (JSON.parse(l) as StreamRecord).hash));
  t.ok(
    acked.every((ack) => inStream.has(ack.hash)),
    'every acknowledged record is in the stream',
  );
});

t.test('Redis back empty after an outage: the chain continues after the last acknowledged record, and says so', async (t) => {
  const redisProc = await startRedis();
  t.teardown(() => redisProc.cleanup());
  const redis = client(t, redisProc);
  const env = await auditEnv({ sinks: [{ type: 'redis-stream', stream: 'kg:audit' }], sinkRetryMs: 0, sinkTimeoutMs: 500 });
  t.teardown(env.cleanup);
  const a = await env.open({ redis });
  let last = { seq: 0, hash: '' };
  for (let i = 0; i < 5; i++) last = await a.append({ type: 'call.intent', requestId: `q${i}` });
  t.equal(last.seq, 5);

  await redisProc.kill();
  await t.rejects(a.append({ type: 'call.intent', requestId: 'while-down' }), { code: 'KG6001' }, 'refused while Redis is down');
  await redisProc.restart();
  let after: Awaited<ReturnType<typeof a.append>> | undefined;
  await waitFor(
    async () => {
      after = await a.append({ type: 'call.intent', requestId: 'after' }).catch(() => undefined);
      return after !== undefined;
    },
    10_000,
    'the sink takes records again',
  );

  const lines = await streamLines(redis, 'kg:audit:test-replica');
  const records = lines.map((l) => JSON.parse(l) as StreamRecord);
  t.not(records[0]?.seq, 1, `no fresh chain at seq 1 (stream: ${records.map((r) => `${r.seq}:${r.type}`).join(' ')})`);
  t.equal(records[0]?.prev, last.hash, 'the first record after the loss links to the last acknowledged one');
  t.equal(records[0]?.type, 'recovery', 'a recovery record says records were lost');
  t.match(records[0]?.data, { reason: 'stream-lost-records', streamSeq: 0, lostThrough: 5 });
  t.equal(after?.seq, (records[0]?.seq ?? 0) + 1, 'then the call record');
  t.equal(walkStream(lines).error, undefined, 'one chain from there');
});

t.test('a stream whose last entry holds the record alone (written before entries carried s and h) is continued', async (t) => {
  const redisProc = await startRedis();
  t.teardown(() => redisProc.cleanup());
  const redis = client(t, redisProc);
  const env = await auditEnv({ sinks: [{ type: 'redis-stream', stream: 'kg:audit' }] });
  t.teardown(env.cleanup);
  const { record, line } = chainRecord({ ts: new Date().toISOString(), replica: 'test-replica', type: 'admin', data: { action: 'old' } }, 'redis', {
    seq: 0,
    hash: GENESIS_HASH,
  });
  await redis.xadd('kg:audit:test-replica', '*', 'r', line.slice(0, -1));
  const a = await env.open({ redis });
  const ack = await a.append({ type: 'call.intent', requestId: 'new' });
  t.equal(ack.seq, 2);
  const lines = await streamLines(redis, 'kg:audit:test-replica');
  t.equal((JSON.parse(lines[1]!) as StreamRecord).prev, record.hash, 'linked to the old entry');
  t.equal(walkStream(lines).error, undefined);
});

t.test("a replica's stream expires once nothing is appended to it for idleExpiryDays (a retired pod leaves none behind)", async (t) => {
  const redisProc = await startRedis();
  t.teardown(() => redisProc.cleanup());
  const redis = client(t, redisProc);
  const env = await auditEnv({ sinks: [{ type: 'redis-stream', stream: 'kg:audit' }], sinkRetryMs: 0 });
  t.teardown(env.cleanup);
  const a = await env.open({ redis: client(t, redisProc) });
  await a.append({ type: 'call.intent', requestId: 'r1' });
  const ninety = 90 * 86_400_000;
  const first = await redis.pttl('kg:audit:test-replica');
  t.ok(first > ninety - 60_000 && first <= ninety, `expires in ${first} ms: 90 days by default`);
  await redis.pexpire('kg:audit:test-replica', 5_000);
  await a.append({ type: 'call.intent', requestId: 'r2' });
  t.ok((await redis.pttl('kg:audit:test-replica')) > ninety - 60_000, 'each append renews it');

  const never = await auditEnv({ sinks: [{ type: 'redis-stream', stream: 'kg:keep', idleExpiryDays: 0 }], sinkRetryMs: 0 });
  t.teardown(never.cleanup);
  await (await never.open({ redis: client(t, redisProc) })).append({ type: 'call.intent', requestId: 'r3' });
  t.equal(await redis.pttl('kg:keep:test-replica'), -1, 'idleExpiryDays: 0 keeps it for ever');
  t.throws(() => parseAuditConfig({ sinks: [{ type: 'redis-stream', idleExpiryDays: -1 }] }, '/tmp'), /idleExpiryDays/);
});
