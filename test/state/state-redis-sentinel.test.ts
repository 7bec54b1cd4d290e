// Sentinel failover: the master dies, Sentinel promotes the replica, the
// store fails closed meanwhile and then serves from the new master on its own.
import t from 'tap';
import { Registry } from 'prom-client';
import pino from 'pino';
import { createRedisStore } from '../../proxy/state/index.js';
import { isGuardError } from '../../proxy/common/errors.js';
import { startSentinelSetup, untilHealthy } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('sentinel: failover to the replica without restarting the store', async (t) => {
  const setup = await startSentinelSetup('kguard');
  t.teardown(() => setup.cleanup());
  const store = await createRedisStore({
    sentinels: [{ host: '127.0.0.1', port: setup.sentinel.port }],
    name: setup.name,
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    commandTimeoutMs: 200,
    maxReconnectDelayMs: 100,
  });
  t.teardown(() => store.close());
  const lim = { key: '{bot:s}:rl', limit: 1000, windowMs: 120_000, mode: 'fixed' as const };
  for (let i = 0; i < 10; i++) await store.consume([lim]);
  await sleep(300); // let the replica catch up (asynchronous replication)

  await setup.master.kill();
  const start = Date.now();
  let failedClosed = 0;
  const otherErrors: string[] = [];
  let recoveredAfter = -1;
  while (Date.now() - start < 45_000) {
    // elections take longer on a loaded 2-core machine
    try {
      const r = await store.consume([lim]);
      if (r.allowed) {
        recoveredAfter = Date.now() - start;
        break;
      }
    } catch (err) {
      if (isGuardError(err) && err.code === 'KG7001') failedClosed++;
      else otherErrors.push((err as Error).message);
    }
    await sleep(50);
  }
  t.ok(recoveredAfter >= 0, `serving from the promoted replica after ${recoveredAfter} ms (${failedClosed} calls failed closed meanwhile)`);
  t.same(otherErrors, [], 'every failure during the failover was KG7001');
  t.equal(await setup.masterPort(), setup.replica.port, 'Sentinel promoted the replica');
  const [usage] = await store.peek([lim]);
  t.ok(usage! >= 10, `replicated usage survived the failover (${usage})`);
  t.equal(store.flushDetected(), false, 'a failover to a replica with the data is not a flush');
  await untilHealthy(store);
});
