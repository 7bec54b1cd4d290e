// Review regression: closing the Redis store while its subscriber connection was re-subscribing after a reconnect
// failed as an unhandled rejection ("Connection is closed."): ioredis re-subscribed the channels itself (its
// autoResubscribe) with a promise nobody awaited, and the close rejected it. `kguard serve` logged it as an error
// and a test process failed on it. Now the store re-subscribes its channels itself on each reconnect, every
// failure caught, and a channel re-subscribed moves subscriberEpoch (reads before it may have missed a message).
// The window is made certain here: a proxy in front of Redis holds the answers of a connection once it sends
// SUBSCRIBE, so the close lands while the re-subscribe waits.
import net from 'node:net';
import { Registry } from 'prom-client';
import t from 'tap';
import { createRedisStore } from '../../proxy/state/index.js';
import { waitFor } from '../helpers/harness.js';
import { captureLogger } from '../helpers/log-capture.js';
import { startRedis } from '../helpers/redis.js';

/** A loopback proxy to Redis that, once told to, stops answering any connection that sends SUBSCRIBE. */
async function subscribeHoldingProxy(target: number) {
  let holding = false;
  const held: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    let quiet = false;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined).on('close', () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(s);
      });
    }
    client.on('data', (chunk) => {
      if (holding && /subscribe/i.test(chunk.toString('latin1'))) {
        quiet = true;
        held.push(chunk.toString('latin1'));
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!quiet) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    held,
    /** Drops every connection; from now on a connection that sends SUBSCRIBE gets no more answers. */
    dropAndHold() {
      holding = true;
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

t.test('closing the store while its subscriber re-subscribes after a reconnect: no unhandled rejection', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const proxy = await subscribeHoldingProxy(redis.port);
  t.teardown(() => proxy.close());
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  const { logger } = captureLogger();
  const store = await createRedisStore({ url: `redis://127.0.0.1:${proxy.port}`, logger, registry: new Registry(), maxReconnectDelayMs: 50 });
  const got: string[] = [];
  await store.subscribe('lockdown', (m) => got.push(m));
  await store.publish('lockdown', 'before');
  await waitFor(() => got.includes('before'), 10_000, 'a message before the reconnect');
  const epoch = store.subscriberEpoch();

  proxy.dropAndHold();
  await waitFor(() => proxy.held.some((c) => c.includes('lockdown')), 20_000, 'the subscriber re-subscribing its channel after the reconnect');
  await store.close();
  // A rejection nobody handles is reported on a later turn.
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.same(
    unhandled.map((r) => String((r as Error)?.message ?? r)),
    [],
    'no unhandled rejection',
  );
  t.ok(store.subscriberEpoch() > epoch, 'the reconnect moved the subscriber epoch');
});

t.test('after a reconnect the store re-subscribes its channels itself: messages flow again, the epoch moves once more', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const { logger } = captureLogger();
  const store = await createRedisStore({ url: redis.url, logger, registry: new Registry(), maxReconnectDelayMs: 50 });
  t.teardown(() => store.close());
  const got: string[] = [];
  await store.subscribe('lockdown', (m) => got.push(m));
  await store.subscribe('sessions', (m) => got.push(`s:${m}`));
  const epoch = store.subscriberEpoch();
  await redis.restart();
  // Both channels again (not only the one asked for last), through the store's own re-subscribe.
  await waitFor(
    async () => {
      await store.publish('lockdown', 'after').catch(() => undefined);
      await store.publish('sessions', 'after').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      return got.includes('after') && got.includes('s:after');
    },
    20_000,
    'both channels delivering after the restart',
  );
  t.pass('both channels deliver after the reconnect');
  t.ok(store.subscriberEpoch() >= epoch + 2, `the connection and the re-subscribed channels each moved the epoch (${epoch} -> ${store.subscriberEpoch()})`);
});
