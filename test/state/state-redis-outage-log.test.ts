// During a Redis outage ioredis closes once per reconnect attempt (every
// maxReconnectDelayMs). The log got "redis state connection lost" each time:
// a line a second per replica for as long as the outage lasted. Now the loss
// is logged once, the recovery once with the outage's length and the number
// of failed attempts, and a reminder with the count at most every
// log.outageReminderMs in between; kguard_state_up says the state all along.
import { Registry } from 'prom-client';
import t from 'tap';
import { captureLogger } from '../helpers/log-capture.js';
import { createRedisStore } from '../../proxy/state/index.js';
import { waitFor } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

const named = (lines: Record<string, unknown>[], re: RegExp) => lines.filter((l) => re.test(String(l.msg)));

t.test('a Redis outage: one line when lost, reminders with a count, one line when back', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const { lines, logger } = captureLogger();
  const reminderMs = 1_500;
  const store = await createRedisStore({ url: redis.url, logger, registry: new Registry(), maxReconnectDelayMs: 100, outageReminderMs: reminderMs });
  t.teardown(() => store.close());
  await store.health();
  let closes = 0;
  store.client.on('close', () => closes++);

  await redis.kill();
  // Wait for the event that used to flood the log: many reconnect attempts, and a reminder past reminderMs.
  await waitFor(() => closes >= 25 && named(lines, /still lost/).length >= 1, 60_000, 'reconnect attempts and a reminder');
  const lost = named(lines, /redis state connection lost/);
  t.equal(lost.length, 1, `one "lost" line for ${closes} failed reconnect attempts`);
  t.equal(lost[0]!.level, 40, 'a warning');
  const errors = named(lines, /redis state connection error/);
  t.ok(errors.length <= 1, `connection errors during the outage feed the reminders, not the log (${errors.length} logged)`);
  const reminders = named(lines, /redis state connection still lost/);
  t.ok(reminders.length < closes / 2, `${reminders.length} reminders for ${closes} attempts`);
  t.match(reminders[0], { failures: Number, downForMs: Number, err: { message: String } }, 'a reminder counts the attempts and names the last error');
  for (let i = 1; i < reminders.length; i++) {
    const gap = Date.parse(String(reminders[i]!.time)) - Date.parse(String(reminders[i - 1]!.time));
    t.ok(gap >= reminderMs, `reminders at least outageReminderMs apart (${gap} ms)`);
  }

  const subscriberReady = store.subscriberEpoch();
  await redis.restart();
  await waitFor(() => named(lines, /redis state connection restored/).length > 0, 60_000, 'the recovery logged');
  // The subscriber connection reconnects on its own schedule: closing the store while it is between its ready
  // check and ioredis's re-subscribe makes that re-subscribe fail unhandled (ioredis), a failure of this file.
  await waitFor(() => store.subscriberEpoch() > subscriberReady, 60_000, 'the subscriber connection back');
  const back = named(lines, /redis state connection restored/);
  t.equal(back.length, 1, 'one "restored" line');
  t.match(back[0], { level: 30, downForMs: Number, failures: Number }, 'with the outage length and the failed attempts');
  t.ok((back[0]!.failures as number) >= 25, `failures counted: ${String(back[0]!.failures)}`);
  t.equal(named(lines, /redis state connection lost/).length, 1, 'still one "lost" line');
});

t.test('unavailable at start: the first connection says how long it took', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  await redis.kill();
  const { lines, logger } = captureLogger();
  const store = await createRedisStore({ url: redis.url, logger, registry: new Registry(), maxReconnectDelayMs: 100, connectTimeoutMs: 300 });
  t.teardown(() => store.close());
  let closes = 0;
  store.client.on('close', () => closes++);
  await waitFor(() => closes >= 10, 60_000, 'reconnect attempts');
  await redis.restart();
  await waitFor(() => named(lines, /restored|connected/).length > 0, 60_000, 'connected');
  t.equal(named(lines, /unavailable at start/).length, 1, 'the start-up line');
  t.equal(named(lines, /connection lost/).length, 0, 'no "lost" line: it never had a connection');
  t.match(named(lines, /redis state connection restored/)[0], { downForMs: Number, failures: Number }, 'the first connection ends the outage, with its length');
  const errors = named(lines, /redis state connection error/).length;
  t.ok(errors <= 1, `the first error says why; the failed attempts after it are counted, not logged (${errors} logged)`);
});
