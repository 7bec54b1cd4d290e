// Redis-backed Store for several replicas (ioredis: standalone, Sentinel or
// Cluster). Fail closed: every command has a deadline, nothing is queued
// while disconnected, and any failure becomes KG7001. Reconnection is
// automatic; a generation marker detects a Redis that came back empty.
// This file composes the parts (redis-connect, redis-call, redis-generation,
// redis-pubsub, redis-ops, redis-coordination) and owns the lifecycle.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { GuardError } from '../common/errors.js';
import { outageLog } from '../common/outage-log.js';
import type { RedisStateConfig } from './config.js';
import { REDIS_DEFAULTS } from './config.js';
import { opRunner, stateMetrics } from './redis-call.js';
import { checkEndpoints, connectionErrorLogger, createRedisClient, describeRedis, keepConnecting, quitConnection } from './redis-connect.js';
import { redisCoordination } from './redis-coordination.js';
import { createGeneration } from './redis-generation.js';
import { redisOps } from './redis-ops.js';
import { createPubSub } from './redis-pubsub.js';
import type { Store } from './types.js';

export interface RedisStoreDeps {
  logger: Logger;
  registry: Registry;
  /** log.outageReminderMs: while Redis stays down, the loss is logged again at most this often (with a count). */
  outageReminderMs?: number;
}

/** A parsed `state.redis` section (or parts of it: the rest defaults) plus the dependencies. */
export type RedisStoreOptions = Partial<RedisStateConfig> & RedisStoreDeps;

export interface RedisStore extends Store {
  readonly kind: 'redis';
  /** The generation marker this store currently trusts (undefined before the first contact). */
  generation(): string | undefined;
  /** Re-reads the generation marker now (instead of at the next periodic check); updates flushDetected(). */
  refreshGeneration(): Promise<void>;
  /** The command connection, for parts that speak Redis themselves (the audit stream sink). */
  readonly client: Redis | Cluster;
  /** How many times the pub/sub connection became ready: a change means messages published meanwhile were missed. */
  subscriberEpoch(): number;
}

export async function createRedisStore(opts: RedisStoreOptions): Promise<RedisStore> {
  const cfg = { ...REDIS_DEFAULTS, ...opts };
  const { logger, registry } = opts;
  const log = logger.child({ part: 'state', redis: describeRedis(cfg) });
  const m = stateMetrics(registry);
  checkEndpoints(cfg);
  const prefix = cfg.keyPrefix;
  if (/[{}\s]/.test(prefix)) throw new GuardError('KG7004', 'keyPrefix must not contain braces or spaces');

  const { client, retryStrategy } = await createRedisClient(cfg);
  let closed = false;
  const isClosed = (): boolean => closed;
  const op = opRunner(m, cfg.commandTimeoutMs, isClosed);
  const generation = createGeneration({
    client,
    prefix,
    ttlMs: cfg.generationTtlMs,
    checkMs: cfg.generationCheckMs,
    log,
    flushGauge: m.flush,
  });
  const ops = redisOps({ client, prefix, op, generation });
  const coordination = redisCoordination({ client, prefix, op, generation });
  // A replica that detects or confirms a flush tells the others at once.
  let subscriberEpoch = 0;
  const pubsub = createPubSub({
    client,
    prefix,
    op,
    log,
    generationChannel: generation.channel,
    onGenerationMessage: () => {
      void generation.ensure().catch(() => undefined);
    },
    // As a reconnect: what was read before the channel was really subscribed may have missed a message.
    onLateSubscribe: () => {
      subscriberEpoch++;
    },
  });
  const { subscriber } = pubsub;
  subscriber.on('ready', () => {
    subscriberEpoch++;
  });

  let wasReady = false;
  // One line when the connection is lost, one when it is back (with the outage's length), a reminder at most every
  // outageReminderMs in between: ioredis closes once per reconnect attempt, and a line each would flood the log
  // pipeline during a long outage while kguard_state_up and /readyz say it all along.
  const connection = outageLog({
    logger: log,
    lost: 'redis state connection lost; state operations fail closed until it returns',
    still: 'redis state connection still lost; state operations fail closed',
    back: 'redis state connection restored',
    reminderMs: opts.outageReminderMs,
  });
  let lastError: { message: string; code?: string } | undefined;
  client.on('ready', () => {
    m.up.set(1);
    if (connection.isDown()) connection.ok();
    else if (!wasReady) log.info('redis state connected');
    wasReady = true;
    lastError = undefined;
    void generation.ensure().catch(() => undefined);
  });
  client.on('close', () => {
    m.up.set(0);
    // Redis may come back empty: re-check the marker before counters are trusted again.
    generation.markStale();
    if (!closed && (wasReady || connection.isDown())) connection.failed(lastError ? { err: lastError } : {});
  });
  // Errors while the outage is already logged only feed its reminders (ECONNREFUSED once per attempt).
  const logError = connectionErrorLogger(log);
  const onError = (err: Error): void => {
    lastError = { message: err.message, ...((err as { code?: string }).code ? { code: (err as { code?: string }).code as string } : {}) };
    if (!connection.isDown()) logError(err);
  };
  client.on('error', onError);
  subscriber.on('error', onError);
  keepConnecting(client, 'commands', retryStrategy, isClosed, log);
  keepConnecting(subscriber, 'subscriber', retryStrategy, isClosed, log);

  const store: RedisStore = {
    kind: 'redis',
    client,

    generation: () => generation.known(),
    subscriberEpoch: () => subscriberEpoch,

    async refreshGeneration() {
      return op('generation', () => generation.ensure());
    },

    ...ops,
    ...coordination,
    publish: pubsub.publish,
    subscribe: pubsub.subscribe,

    flushDetected: () => generation.flushDetected(),

    async confirmFlush() {
      return op('generation', () => generation.confirm());
    },

    async health() {
      return op('health', async () => {
        if (client.status !== 'ready') throw new GuardError('KG7001', 'not connected');
        if (subscriber.status !== 'ready') throw new GuardError('KG7001', 'pub/sub not connected');
        await client.ping();
        if (generation.isStale()) await generation.ensure();
      });
    },

    async time() {
      return op('time', async () => {
        const [seconds, micros] = await client.time();
        return Number(seconds) * 1000 + Number(micros) / 1000;
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      generation.stop();
      m.up.set(0);
      await Promise.all([quitConnection(client), quitConnection(subscriber)]);
      pubsub.clear();
    },
  };

  // First contact: wait up to connectTimeoutMs. If Redis is not there yet the
  // store still starts (fail closed per call, /readyz red) and connects later.
  const connectBoth = Promise.all([client.connect(), subscriber.connect()]);
  const started = await Promise.race([
    connectBoth.then(
      () => true,
      () => false,
    ),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), cfg.connectTimeoutMs).unref()),
  ]);
  if (started) {
    await generation.ensure().catch((err: unknown) => log.warn({ err: { message: (err as Error).message } }, 'generation check failed'));
  } else {
    log.error('redis state unavailable at start; state operations fail closed until it connects');
    if (client.status !== 'ready') connection.begin();
  }
  return store;
}
