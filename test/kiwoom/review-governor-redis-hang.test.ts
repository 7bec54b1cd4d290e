// The governor on a real Redis that hangs (SIGSTOP) and comes back: a slot
// taken while Redis was not answering timed out here and its call was refused,
// but Redis still runs the queued script when it wakes. No call used that slot,
// so it must not keep the key's window full once Redis answers again.
import t from 'tap';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Governor, KIWOOM_LIMITS, type Permit } from '../../proxy/kiwoom/governor.js';
import { createStore, parseStateConfig } from '../../proxy/state/index.js';
import { isGuardError } from '../../proxy/common/errors.js';
import { redisCli, startRedis } from '../helpers/redis.js';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

t.test('slots whose take timed out during a Redis hang do not hold the window once Redis is back', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const registry = new Registry();
  const store = await createStore(parseStateConfig({ backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 200 } }), { logger, registry });
  // A long hold: a slot stamped "in flight" stays counted for two minutes unless settled.
  const gov = new Governor({ ...KIWOOM_LIMITS, holdMs: 120_000, queryMaxWaitMs: 5_000 }, { store, registry, logger });
  t.teardown(async () => {
    gov.close();
    await store.close();
  });
  const req = { key: 'hang', cls: 'query' as const, priority: 'normal' as const, botId: 'b' };
  redis.pause();
  let refused = 0;
  try {
    for (let i = 0; i < KIWOOM_LIMITS.queriesPerSecond; i++) {
      const err = await gov.admit(req).then(
        (p) => {
          p.settle();
          return undefined;
        },
        (e: unknown) => e,
      );
      if (isGuardError(err) && err.code === 'KG7001') refused++;
    }
  } finally {
    redis.resume();
  }
  t.equal(refused, KIWOOM_LIMITS.queriesPerSecond, 'every call refused while Redis hung (fail closed)');
  // Redis answers again (and has run what was queued on the connection).
  for (let i = 0; ; i++) {
    if (
      (await store.health().then(
        () => true,
        () => false,
      )) &&
      i > 0
    )
      break;
    await sleep(50);
  }
  const outcome = await gov.admit(req).then(
    (p: Permit) => {
      p.settle();
      return 'granted';
    },
    (e: unknown) => (isGuardError(e) ? `${e.code} ${e.message}` : String(e)),
  );
  const stamps = await redisCli(redis.port, 'ZRANGE', 'kguard:{gov:hang}:query', '0', '-1', 'WITHSCORES');
  t.equal(outcome, 'granted', `a call after Redis came back gets a slot (window: ${stamps.replace(/\n/g, ' ')})`);
});
