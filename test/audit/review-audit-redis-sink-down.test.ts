// Review regression: a redis-stream audit sink that went down was reopened
// from append() itself whenever sinkRetryMs had passed since its last open
// attempt, and that attempt waited for Redis up to the sink timeout. With
// Redis hung and the attempt outlasting the retry interval, every append (so
// every bot call, though the file sink beside it was up) waited for Redis.
// Now a down sink is skipped at once and reopened in the background on its
// retry interval; once Redis answers it resumes and its stream chain goes on.
import { AsyncLocalStorage } from 'node:async_hooks';
import t from 'tap';
import { Redis } from 'ioredis';
import type { RawLine } from '../../proxy/audit/logfiles.js';
import { ChainWalker } from '../../proxy/audit/walker.js';
import { createRedisClient } from '../../proxy/state/redis-connect.js';
import { auditEnv } from '../helpers/audit-env.js';
import { waitFor } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

const STREAM = 'kg:audit:test-replica';

t.test('Redis hung: appends skip the down stream sink at once; it is reopened in the background and its chain continues', async (t) => {
  const redisProc = await startRedis();
  t.teardown(() => redisProc.cleanup());
  // The sidecar's own client settings (no offline queue); its command timeout outlasts the sink's.
  const { client } = await createRedisClient({
    url: redisProc.url,
    commandTimeoutMs: 60_000,
    connectTimeoutMs: 2_000,
    maxReconnectDelayMs: 200,
    autoPipelining: false,
  });
  client.on('error', () => undefined);
  await (client as Redis).connect();
  t.teardown(() => client.disconnect());

  // Every command the client sends from inside a marked append (AsyncLocalStorage follows it through
  // the auditor and the sink): Redis work an append started itself, not the sink's own retries.
  const insideAppend = new AsyncLocalStorage<true>();
  const sentByAppends: string[] = [];
  const sendCommand = client.sendCommand.bind(client);
  client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    if (insideAppend.getStore()) sentByAppends.push(command.name);
    return (sendCommand as (...a: unknown[]) => unknown)(command, ...rest);
  }) as typeof client.sendCommand;

  const env = await auditEnv({ sinks: [{ type: 'file' }, { type: 'redis-stream', stream: 'kg:audit' }], sinkTimeoutMs: 300, sinkRetryMs: 50 });
  t.teardown(env.cleanup);
  const a = await env.open({ redis: client });
  const redisUp = () => a.status().find((s) => s.id === 'redis')?.up === true;
  for (let i = 0; i < 3; i++) await a.append({ type: 'call.intent', requestId: `before-${i}` });
  t.ok(redisUp(), 'the stream sink is up');

  redisProc.pause();
  const first = await a.append({ type: 'call.intent', requestId: 'redis-stops' });
  t.equal(first.sink, 'file', 'the record that found Redis hung is acknowledged by the file sink');
  t.notOk(redisUp(), 'the stream sink is down');

  const acks = [];
  for (let i = 0; i < 10; i++) acks.push(await insideAppend.run(true, () => a.append({ type: 'call.intent', requestId: `while-down-${i}` })));
  t.same(
    acks.map((ack) => ack.sink),
    Array(10).fill('file'),
    'appends while Redis is down are acknowledged by the file sink',
  );
  t.same(sentByAppends, [], 'and none of them sent anything to Redis (the down sink was skipped, not retried per append)');

  redisProc.resume();
  await waitFor(redisUp, 20_000, 'the stream sink to come back by itself');
  const after = await a.append({ type: 'call.intent', requestId: 'after' });
  t.equal(after.sink, 'file');

  const reader = new Redis(redisProc.port, '127.0.0.1');
  t.teardown(() => reader.disconnect());
  const lines = (await reader.xrange(STREAM, '-', '+')).map(([, fields]) => fields[fields.indexOf('r') + 1]!);
  const walker = new ChainWalker({ expectGenesis: true, fromSeq: 0 });
  lines.forEach((line, i) => {
    const raw: RawLine = { bytes: Buffer.from(line), offset: 0, terminated: true };
    walker.line(raw, { file: 'stream', line: i + 1, offset: 0 });
  });
  t.equal(walker.error, undefined, `one chain in the stream: ${walker.error?.reason ?? 'ok'}`);
  const records = lines.map((l) => JSON.parse(l) as { seq: number; data: { requestId?: string } });
  t.same(
    records.slice(0, 3).map((r) => r.data.requestId),
    ['before-0', 'before-1', 'before-2'],
  );
  t.equal(records.at(-1)?.data.requestId, 'after', 'the record after Redis came back is in the stream, chained on what was there');
});
