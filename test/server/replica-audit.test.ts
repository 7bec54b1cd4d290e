// With Redis as shared state, the sidecar's audit records also go to a Redis
// Stream (and checkpoints to a Redis copy) over the state connection.
import t from 'tap';
import { Redis } from 'ioredis';
import { startHarness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

t.test('audit records reach the Redis stream through the sidecar', async (t) => {
  const redisProc = await startRedis();
  t.teardown(() => redisProc.cleanup());
  const h = await startHarness({
    config: {
      state: { backend: 'redis', redis: { url: `redis://127.0.0.1:${redisProc.port}` } },
      audit: {
        replicaId: 'replica-a',
        sinks: [{ type: 'file' }, { type: 'redis-stream', stream: 'kguard:audit', maxLen: 10000 }],
        checkpoint: { everyRecords: 5, mirrorRedisKey: 'kguard:audit:checkpoints' },
      },
    },
  });
  t.teardown(() => h.close());
  const r = await h.call('ka10001', { stk_cd: '005930' });
  t.equal(r.json.return_code, 0, r.text);
  await h.waitNoLiveTokens();
  const requestId = String(r.headers['x-kguard-request-id']);
  const redis = new Redis(redisProc.port, '127.0.0.1');
  t.teardown(() => redis.disconnect());
  const keys = await redis.keys('kguard:audit*');
  const stream = keys.find((k) => k.startsWith('kguard:audit:replica-a'));
  t.ok(stream, `a per-replica stream exists (${keys.join(', ')})`);
  const entries = await redis.xrange(stream!, '-', '+');
  const text = JSON.stringify(entries);
  t.ok(text.includes(requestId), "the call's records are in the stream");
  t.match(text, /call\.intent/);
  t.match(text, /call\.outcome/);
  t.notMatch(text, /CANARY/, 'no canary secret in the stream');
});
