// Redis-backed Store for several replicas (ioredis: standalone, Sentinel or
// Cluster). Fail closed: every command has a deadline, nothing is queued
// while disconnected, and any failure becomes KG7001. Reconnection is
// automatic; a generation marker detects a Redis that came back empty.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { GuardError, isGuardError } from '../common/errors.js';
import type { RedisStateConfig } from './config.js';
import { REDIS_DEFAULTS } from './config.js';
import {
  CONSUME_LUA, HSET_LUA, INCR_LUA, LEASE_DROP_LUA, LEASE_PEEK_LUA, LEASE_PUT_LUA, LEASE_RELEASE_LUA, LEASE_RETIRE_LUA,
  LEASE_TAKE_LUA, PAUSE_SLOTS_LUA, SETTLE_SLOT_LUA, TAKE_SLOT_LUA,
} from './redis-scripts.js';
import type { LeasedValue, LimitRequest, LimitResult, Store, Unsubscribe } from './types.js';
import {
  checkId, checkInteger, checkKey, checkLeaseLock, checkLeaseValue, checkList, checkOptionalTtl, checkString, checkTtl,
  hashTagOf, leaseKeys, normaliseLimits, normaliseSlot, type NormalisedLimit,
} from './validate.js';

export interface RedisStoreDeps {
  logger: Logger;
  registry: Registry;
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
}

type Client = Redis | Cluster;
// Scripts defined without numberOfKeys take the key count as their first argument.
type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;
type OpName =
  | 'get' | 'mget' | 'hmget' | 'set' | 'setIfAbsent' | 'del' | 'incr' | 'expire' | 'hget' | 'hset' | 'hdel' | 'hgetall'
  | 'consume' | 'peek' | 'takeSlot' | 'settleSlot' | 'pauseSlots'
  | 'leaseTake' | 'leaseRelease' | 'leasePut' | 'leaseRetire' | 'leaseDrop' | 'leasePeek'
  | 'publish' | 'subscribe' | 'health' | 'generation';

const OP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

function metrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    errors: get('kguard_state_errors_total', () => new Counter({
      name: 'kguard_state_errors_total', help: 'Shared state operations that failed (fail closed), by operation', labelNames: ['op'], registers: [registry],
    })),
    seconds: get('kguard_state_op_seconds', () => new Histogram({
      name: 'kguard_state_op_seconds', help: 'Shared state operation latency, by operation', labelNames: ['op'], buckets: OP_BUCKETS, registers: [registry],
    })),
    up: get('kguard_state_up', () => new Gauge({
      name: 'kguard_state_up', help: '1 while the Redis state connection is ready', registers: [registry],
    })),
    flush: get('kguard_state_flush_detected', () => new Gauge({
      name: 'kguard_state_flush_detected', help: '1 while a Redis flush/empty restart awaits operator confirmation', registers: [registry],
    })),
  };
}

/** Password files may end with a newline; anything else is kept byte for byte. */
async function readSecretFile(file: string, what: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new GuardError('KG7004', `cannot read ${what} file`, { cause: err });
  }
  try {
    let end = buf.length;
    while (end > 0 && (buf[end - 1] === 0x0a || buf[end - 1] === 0x0d)) end--;
    if (end === 0) throw new GuardError('KG7004', `${what} file is empty`);
    // ioredis needs the password as a string to re-authenticate on every reconnect.
    return buf.subarray(0, end).toString('utf8');
  } finally {
    buf.fill(0);
  }
}

async function tlsOptions(cfg: Partial<RedisStateConfig>): Promise<ConnectionOptions | undefined> {
  const wantTls = cfg.tls !== undefined || cfg.url?.startsWith('rediss:') === true;
  if (!wantTls) return undefined;
  const t = cfg.tls ?? {};
  const read = async (f: string | undefined, what: string): Promise<Buffer | undefined> => {
    if (f === undefined) return undefined;
    try {
      return await readFile(f);
    } catch (err) {
      throw new GuardError('KG7004', `cannot read TLS ${what} file`, { cause: err });
    }
  };
  const [ca, cert, key] = await Promise.all([read(t.caFile, 'CA'), read(t.certFile, 'certificate'), read(t.keyFile, 'key')]);
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(t.servername ? { servername: t.servername } : {}),
  };
}

/** host:port list for logs; never the URL (it could carry credentials). */
function describe(cfg: Partial<RedisStateConfig>): string {
  if (cfg.nodes) return `cluster ${cfg.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (cfg.sentinels) return `sentinel ${cfg.name} via ${cfg.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
  try {
    const u = new URL(cfg.url ?? 'redis://127.0.0.1:6379');
    return `${u.protocol}//${u.hostname}:${u.port || 6379}`;
  } catch {
    return 'redis';
  }
}

function classify(err: unknown): GuardError {
  if (isGuardError(err)) return err;
  const msg = err instanceof Error ? err.message : '';
  if (/^(WRONGTYPE|KGUARD_INVALID|ERR value is not an integer|ERR increment or decrement would overflow)/.test(msg)) {
    // A script's own refusal ('KGUARD_INVALID <detail>') keeps its detail.
    const detail = msg.startsWith('WRONGTYPE') ? 'WRONGTYPE: key holds another kind of value'
      : /^KGUARD_INVALID [^\n]+/.exec(msg)?.[0].slice('KGUARD_INVALID '.length) ?? 'value is not an integer';
    return new GuardError('KG7002', detail, { cause: err });
  }
  if (/CROSSSLOT/.test(msg)) return new GuardError('KG7002', 'keys of one call are in different cluster slots', { cause: err });
  return new GuardError('KG7001', /timed out|timeout/i.test(msg) ? 'timeout' : 'unavailable', { cause: err });
}

export async function createRedisStore(opts: RedisStoreOptions): Promise<RedisStore> {
  const cfg = { ...REDIS_DEFAULTS, ...opts };
  const { logger, registry } = opts;
  const log = logger.child({ part: 'state', redis: describe(cfg) });
  const m = metrics(registry);
  if ([cfg.url, cfg.sentinels, cfg.nodes].filter((x) => x !== undefined).length !== 1) {
    // Never fall back to ioredis' default of localhost:6379.
    throw new GuardError('KG7004', 'give exactly one of url, sentinels (+ name) or nodes');
  }
  if (cfg.sentinels && !cfg.name) throw new GuardError('KG7004', 'sentinels need the master group name');
  const prefix = cfg.keyPrefix;
  if (/[{}\s]/.test(prefix)) throw new GuardError('KG7004', 'keyPrefix must not contain braces or spaces');
  const commandTimeout = cfg.commandTimeoutMs;

  const password = cfg.passwordFile ? await readSecretFile(cfg.passwordFile, 'Redis password') : undefined;
  const sentinelPassword = cfg.sentinelPasswordFile ? await readSecretFile(cfg.sentinelPasswordFile, 'Sentinel password') : undefined;
  const tls = await tlsOptions(cfg);
  const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 10), cfg.maxReconnectDelayMs);

  const connection: RedisOptions = {
    ...(cfg.username ? { username: cfg.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(tls ? { tls } : {}),
    connectTimeout: cfg.connectTimeoutMs,
    commandTimeout,
    // Fail closed: never park commands while disconnected, never replay them
    // after a reconnect (a replayed consume could charge twice, or late).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
    lazyConnect: true,
    // Commands issued in the same tick share one write: fewer round trips under
    // concurrency, ~20 µs more per lone command (measured), hence a knob.
    enableAutoPipelining: cfg.autoPipelining,
  };

  let client: Client;
  if (cfg.nodes) {
    const clusterOpts: ClusterOptions = {
      redisOptions: {
        ...(cfg.username ? { username: cfg.username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(tls ? { tls } : {}),
        connectTimeout: cfg.connectTimeoutMs,
        commandTimeout,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
      },
      enableOfflineQueue: false,
      enableReadyCheck: true,
      lazyConnect: true,
      enableAutoPipelining: cfg.autoPipelining,
      scaleReads: 'master',
      clusterRetryStrategy: retryStrategy,
    };
    client = new Cluster(cfg.nodes.map((n) => ({ host: n.host, port: n.port })), clusterOpts);
  } else if (cfg.sentinels) {
    client = new Redis({
      ...connection,
      sentinels: cfg.sentinels.map((n) => ({ host: n.host, port: n.port })),
      name: cfg.name as string,
      ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
      ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
      sentinelRetryStrategy: retryStrategy,
      // No ioredis failover detector: on +switch-master it drops the connection
      // even when it already reached the new master, and if that lands while a
      // reconnect is asking Sentinel for the master the client ends for good.
      // A dead master is noticed by the connection itself; a demoted one that
      // stays up answers writes with READONLY, which reconnects through Sentinel
      // (1 = reconnect without resending: the failed call has already failed closed).
      failoverDetector: false,
      reconnectOnError: (err: Error) => (/\bREADONLY\b/.test(err.message) ? 1 : false),
      retryStrategy,
    });
  } else {
    client = new Redis(cfg.url as string, { ...connection, retryStrategy });
  }

  client.defineCommand('kguardConsume', { lua: CONSUME_LUA });
  client.defineCommand('kguardIncr', { numberOfKeys: 1, lua: INCR_LUA });
  client.defineCommand('kguardHset', { numberOfKeys: 1, lua: HSET_LUA });
  const script = (name: string): ScriptFn => {
    const fn = (client as unknown as Record<string, ScriptFn>)[name] as ScriptFn;
    return fn.bind(client);
  };
  const consumeScript = script('kguardConsume');
  const incrScript = script('kguardIncr');
  const hsetScript = script('kguardHset');
  const defineScript = (name: string, numberOfKeys: number, lua: string): ScriptFn => {
    client.defineCommand(name, { numberOfKeys, lua });
    return script(name);
  };
  const takeSlotScript = defineScript('kguardTakeSlot', 2, TAKE_SLOT_LUA);
  const settleSlotScript = defineScript('kguardSettleSlot', 1, SETTLE_SLOT_LUA);
  const pauseSlotsScript = defineScript('kguardPauseSlots', 1, PAUSE_SLOTS_LUA);
  const leaseTakeScript = defineScript('kguardLeaseTake', 2, LEASE_TAKE_LUA);
  const leasePeekScript = defineScript('kguardLeasePeek', 2, LEASE_PEEK_LUA);
  const leaseReleaseScript = defineScript('kguardLeaseRelease', 2, LEASE_RELEASE_LUA);
  const leasePutScript = defineScript('kguardLeasePut', 3, LEASE_PUT_LUA);
  const leaseRetireScript = defineScript('kguardLeaseRetire', 2, LEASE_RETIRE_LUA);
  const leaseDropScript = defineScript('kguardLeaseDrop', 2, LEASE_DROP_LUA);

  // Pub/sub needs its own connection (a subscribed connection can run nothing else).
  const subscriber: Client = client instanceof Cluster ? client.duplicate() : client.duplicate();
  const handlers = new Map<string, Set<(message: string) => void>>();
  // Internal channel: a replica that detects or confirms a flush tells the others at once.
  const generationChannel = `${prefix}generation`;
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === generationChannel) {
      void ensureGeneration().catch(() => undefined);
      return;
    }
    const set = handlers.get(channel);
    if (!set) return;
    for (const h of [...set]) {
      try {
        h(message);
      } catch (err) {
        log.error({ err, channel: channel.slice(prefix.length) }, 'state subscriber threw');
      }
    }
  });

  let closed = false;
  let wasReady = false;
  client.on('ready', () => {
    m.up.set(1);
    log.info(wasReady ? 'redis state connection restored' : 'redis state connected');
    wasReady = true;
    void ensureGeneration().catch(() => undefined);
  });
  client.on('close', () => {
    m.up.set(0);
    generationStale = true;
    if (wasReady && !closed) log.warn('redis state connection lost; state operations fail closed until it returns');
  });
  // Without a listener ioredis would print these; with one we log them at a bounded rate.
  let lastErrorLog = 0;
  const onError = (err: Error): void => {
    const now = Date.now();
    if (now - lastErrorLog > 5_000) {
      lastErrorLog = now;
      log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'redis state connection error');
    }
  };
  client.on('error', onError);
  subscriber.on('error', onError);

  // ioredis can give a connection up for good without consulting retryStrategy
  // (e.g. SentinelConnector.connect rejecting "Connection is closed" sends the
  // client to 'end'). Until close() we always want the store back, so an 'end'
  // we did not cause starts a new connect with the same backoff (subscriptions
  // come back with it).
  const keepConnecting = (c: Client, what: string): void => {
    if (!(c instanceof Redis)) return; // Cluster reconnects through clusterRetryStrategy
    let attempts = 0;
    c.on('ready', () => { attempts = 0; });
    c.on('end', () => {
      if (closed) return;
      const delay = retryStrategy(++attempts);
      if (attempts === 1) log.warn({ connection: what }, 'redis client ended on its own; connecting again');
      setTimeout(() => {
        if (closed || c.status !== 'end') return;
        c.connect().catch(() => undefined); // a failure ends it again and comes back here
      }, delay).unref();
    });
  };
  keepConnecting(client, 'commands');
  keepConnecting(subscriber, 'subscriber');
  // Subscribed once on first contact (ioredis re-subscribes after reconnects itself).
  let generationSubscribed = false;
  subscriber.on('ready', () => {
    if (generationSubscribed) return;
    subscriber.subscribe(generationChannel).then(
      () => { generationSubscribed = true; },
      (err: unknown) => log.warn({ err: { message: (err as Error).message } }, 'generation channel subscribe failed'),
    );
  });

  // ---- generation marker (detects a Redis that restarted empty or was flushed)
  const generationKey = `${prefix}generation`;
  const flushedKey = `${prefix}generation:flushed`;
  const confirmedKey = `${prefix}generation:confirmed`;
  let knownGeneration: string | undefined;
  let localFlush = false;
  let flushFlag = false;
  let generationStale = true;
  let generationCheck: Promise<void> | undefined;

  async function checkGeneration(): Promise<void> {
    const candidate = randomUUID();
    const ttl = cfg.generationTtlMs;
    await client.set(generationKey, candidate, 'PX', ttl, 'NX');
    const current = await client.get(generationKey);
    if (current === null) throw new GuardError('KG7001', 'generation marker vanished');
    await client.pexpire(generationKey, ttl);
    if (knownGeneration !== undefined && current !== knownGeneration) {
      localFlush = true;
      // Recorded in Redis so replicas that start later see it as well.
      await client.set(flushedKey, current, 'PX', ttl);
      await client.publish(generationChannel, 'flushed').catch(() => undefined);
      log.error('redis state was lost (restarted empty or flushed): daily counters are not trusted until an operator confirms');
    }
    knownGeneration = current;
    const [flushedGen, confirmedGen] = await Promise.all([client.get(flushedKey), client.get(confirmedKey)]);
    const unconfirmed = (localFlush || flushedGen === current) && confirmedGen !== current;
    if (!unconfirmed) localFlush = false;
    if (flushFlag && !unconfirmed) log.warn('redis state flush confirmed by an operator');
    flushFlag = unconfirmed;
    m.flush.set(flushFlag ? 1 : 0);
    generationStale = false;
  }

  function ensureGeneration(): Promise<void> {
    generationCheck ??= checkGeneration()
      .catch((err: unknown) => {
        generationStale = true;
        throw classify(err);
      })
      .finally(() => { generationCheck = undefined; });
    return generationCheck;
  }

  const generationTimer = setInterval(() => {
    if (client.status === 'ready') void ensureGeneration().catch(() => undefined);
  }, cfg.generationCheckMs);
  generationTimer.unref();

  // ---- op wrapper: deadline, metrics, error mapping
  async function op<T>(name: OpName, fn: () => Promise<T>): Promise<T> {
    if (closed) throw new GuardError('KG7001', 'store closed');
    const end = m.seconds.startTimer({ op: name });
    let timer: NodeJS.Timeout | undefined;
    try {
      // ioredis enforces commandTimeout per command; this bounds the whole op
      // (scripts loading, cluster redirections) by the same deadline.
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GuardError('KG7001', 'timeout')), commandTimeout);
      });
      const result = await Promise.race([fn(), deadline]);
      end();
      return result;
    } catch (err) {
      m.errors.inc({ op: name });
      throw classify(err);
    } finally {
      clearTimeout(timer);
    }
  }

  const k = (key: string): string => prefix + checkKey(key);

  // Counters and coordination state: like consume/peek, re-check the
  // generation marker first when it may be stale (after a reconnect), so a
  // Redis that came back empty is flagged (flushDetected) before it is used.
  async function fresh(): Promise<void> {
    if (generationStale) await ensureGeneration();
  }

  /** Prefixed value key and leases key (validated: one {hash tag}). */
  const lk = (key: string): [string, string] => {
    const keys = leaseKeys(key);
    return [prefix + keys.key, prefix + keys.leases];
  };

  function leasedValue(reply: unknown): LeasedValue | null {
    if (reply === null || reply === undefined) return null;
    const [version, value, state, leases] = reply as [string, string, string, number];
    return { version: String(version), value: String(value), state: state === 'retiring' ? 'retiring' : 'live', leases: Number(leases) };
  }

  async function runLimits(ls: NormalisedLimit[], charge: boolean): Promise<{ failed: number; retry: number; used: number[] }> {
    if (generationStale) await ensureGeneration();
    const args: (string | number)[] = [];
    for (const l of ls) {
      const full = prefix + l.key;
      // Companion sum key in the same cluster slot: keep the key's tag, or make the whole key the tag.
      args.push(full, hashTagOf(full) === undefined ? `{${full}}:~sum` : `${full}:~sum`);
    }
    args.push(charge ? '1' : '0', randomBytes(8).toString('hex'));
    for (const l of ls) args.push(l.limit, l.windowMs, l.mode === 'sliding' ? 's' : 'f', l.cost);
    const reply = (await consumeScript(ls.length * 2, ...args)) as number[];
    return { failed: Number(reply[0]), retry: Number(reply[1]), used: reply.slice(2).map(Number) };
  }

  const store: RedisStore = {
    kind: 'redis',
    client,

    generation: () => knownGeneration,

    async refreshGeneration() {
      return op('generation', () => ensureGeneration());
    },

    async get(key) {
      return op('get', () => client.get(k(key)));
    },

    async mget(keys) {
      const full = checkList(keys, 'keys', (key) => k(key as string));
      return op('mget', async () => {
        // One MGET where Redis can serve it: anywhere but a Cluster, or when
        // every key carries the same hash tag (one slot). Otherwise the GETs
        // go out together (auto-pipelined per node): still one wait.
        const tag = hashTagOf(full[0]!);
        if (!(client instanceof Cluster) || full.length === 1 || (tag !== undefined && full.every((f) => hashTagOf(f) === tag))) {
          return client.mget(...full);
        }
        return Promise.all(full.map((f) => client.get(f).catch((err: unknown) => {
          // As MGET: a key holding another kind of value reads as null.
          if (err instanceof Error && err.message.startsWith('WRONGTYPE')) return null;
          throw err;
        })));
      });
    },

    async set(key, value, ttlMs) {
      const full = k(key);
      checkString(value, 'value');
      const ttl = checkOptionalTtl(ttlMs);
      return op('set', async () => {
        if (ttl === undefined) await client.set(full, value);
        else await client.set(full, value, 'PX', ttl);
      });
    },

    async setIfAbsent(key, value, ttlMs) {
      const full = k(key);
      checkString(value, 'value');
      const ttl = checkTtl(ttlMs);
      return op('setIfAbsent', async () => (await client.set(full, value, 'PX', ttl, 'NX')) === 'OK');
    },

    async del(key) {
      const full = k(key);
      return op('del', async () => { await client.del(full); });
    },

    async incr(key, by = 1, ttlMs) {
      const full = k(key);
      checkInteger(by, 'by');
      const ttl = checkOptionalTtl(ttlMs);
      return op('incr', async () => Number(await incrScript(full, by, ttl ?? '')));
    },

    async expire(key, ttlMs) {
      const full = k(key);
      const ttl = checkTtl(ttlMs);
      return op('expire', async () => (await client.pexpire(full, ttl)) === 1);
    },

    async hget(key, field) {
      const full = k(key);
      checkString(field, 'field');
      return op('hget', () => client.hget(full, field));
    },

    async hmget(key, fields) {
      const full = k(key);
      const fs = checkList(fields, 'fields', (f) => checkString(f, 'field'));
      return op('hmget', () => client.hmget(full, ...fs));
    },

    async hset(key, field, value, ttlMs) {
      const full = k(key);
      checkString(field, 'field');
      checkString(value, 'value');
      const ttl = checkOptionalTtl(ttlMs);
      return op('hset', async () => { await hsetScript(full, field, value, ttl ?? ''); });
    },

    async hdel(key, field) {
      const full = k(key);
      checkString(field, 'field');
      return op('hdel', async () => { await client.hdel(full, field); });
    },

    async hgetall(key) {
      const full = k(key);
      return op('hgetall', () => client.hgetall(full));
    },

    async consume(limits: readonly LimitRequest[]): Promise<LimitResult> {
      const ls = normaliseLimits(limits);
      if (ls.length === 0) return { allowed: true, usage: [] };
      return op('consume', async () => {
        const { failed, retry, used } = await runLimits(ls, true);
        const usage = ls.map((l, i) => used[i]! + l.cost);
        return failed === 0
          ? { allowed: true, usage }
          : { allowed: false, failedIndex: failed - 1, usage, retryAfterMs: Math.max(1, retry) };
      });
    },

    async peek(limits) {
      const ls = normaliseLimits(limits);
      if (ls.length === 0) return [];
      return op('peek', async () => (await runLimits(ls, false)).used);
    },

    async takeSlot(req) {
      const r = normaliseSlot(req);
      return op('takeSlot', async () => {
        await fresh();
        const [granted, retry] = (await takeSlotScript(prefix + r.key, prefix + r.pauseKey, r.limit, r.windowMs, r.holdMs, r.id)) as [number, number];
        return Number(granted) === 1 ? { granted: true, retryAfterMs: 0 } : { granted: false, retryAfterMs: Math.max(1, Number(retry)) };
      });
    },

    async settleSlot(key, id, windowMs) {
      const full = k(key);
      checkId(id, 'id');
      const win = checkTtl(windowMs, 'windowMs');
      return op('settleSlot', async () => {
        await fresh();
        await settleSlotScript(full, id, win);
      });
    },

    async pauseSlots(pauseKey, ms) {
      const full = k(pauseKey);
      const ttl = checkTtl(ms, 'ms');
      return op('pauseSlots', async () => {
        await fresh();
        await pauseSlotsScript(full, ttl);
      });
    },

    async leaseTake(key, holder, leaseTtlMs) {
      const [full, leases] = lk(key);
      checkId(holder, 'holder');
      const ttl = checkTtl(leaseTtlMs, 'leaseTtlMs');
      return op('leaseTake', async () => {
        await fresh();
        return leasedValue(await leaseTakeScript(full, leases, holder, ttl));
      });
    },

    async leaseRelease(key, holder) {
      const [full, leases] = lk(key);
      checkId(holder, 'holder');
      return op('leaseRelease', async () => {
        await fresh();
        return Number(await leaseReleaseScript(full, leases, holder));
      });
    },

    async leasePut(key, version, value, ttlMs, lock, holder, leaseTtlMs) {
      const keys = leaseKeys(key);
      checkId(version, 'version');
      checkLeaseValue(value);
      const ttl = checkTtl(ttlMs);
      const l = checkLeaseLock(lock, keys);
      checkId(holder, 'holder');
      const leaseTtl = checkTtl(leaseTtlMs, 'leaseTtlMs');
      return op('leasePut', async () => {
        await fresh();
        const reply = await leasePutScript(prefix + keys.key, prefix + keys.leases, prefix + l.key, version, value, ttl, l.value, holder, leaseTtl);
        return Number(reply) === 1;
      });
    },

    async leaseRetire(key, version, claimTtlMs) {
      const [full, leases] = lk(key);
      checkId(version, 'version');
      const claimTtl = checkTtl(claimTtlMs, 'claimTtlMs');
      return op('leaseRetire', async () => {
        await fresh();
        const reply = String(await leaseRetireScript(full, leases, version, claimTtl));
        if (reply !== 'retiring' && reply !== 'held' && reply !== 'gone') throw new GuardError('KG7001', 'unexpected reply');
        return reply;
      });
    },

    async leaseDrop(key, version) {
      const [full, leases] = lk(key);
      checkId(version, 'version');
      return op('leaseDrop', async () => {
        await fresh();
        return Number(await leaseDropScript(full, leases, version)) === 1;
      });
    },

    async leasePeek(key) {
      const [full, leases] = lk(key);
      return op('leasePeek', async () => {
        await fresh();
        return leasedValue(await leasePeekScript(full, leases));
      });
    },

    async publish(channel, message) {
      const full = k(channel);
      checkString(message, 'message');
      return op('publish', async () => { await client.publish(full, message); });
    },

    async subscribe(channel, handler): Promise<Unsubscribe> {
      const full = k(channel);
      if (typeof handler !== 'function') throw new GuardError('KG7002', 'handler must be a function');
      await op('subscribe', async () => {
        if (!handlers.has(full)) await subscriber.subscribe(full);
      });
      let set = handlers.get(full);
      if (!set) handlers.set(full, (set = new Set()));
      const subscription = (msg: string): void => handler(msg);
      set.add(subscription);
      return async () => {
        const current = handlers.get(full);
        if (!current?.delete(subscription) || current.size > 0) return;
        handlers.delete(full);
        // Best effort: while disconnected ioredis forgets it on its own; an
        // orphaned subscription only delivers messages nobody listens to.
        await subscriber.unsubscribe(full).catch(() => undefined);
      };
    },

    flushDetected: () => flushFlag,

    async confirmFlush() {
      return op('generation', async () => {
        await ensureGeneration();
        const current = knownGeneration;
        if (current === undefined) throw new GuardError('KG7001', 'no generation marker yet');
        await client.set(confirmedKey, current, 'PX', cfg.generationTtlMs);
        await ensureGeneration();
        await client.publish(generationChannel, 'confirmed').catch(() => undefined);
        log.warn('operator confirmed the redis state flush');
      });
    },

    async health() {
      return op('health', async () => {
        if (client.status !== 'ready') throw new GuardError('KG7001', 'not connected');
        if (subscriber.status !== 'ready') throw new GuardError('KG7001', 'pub/sub not connected');
        await client.ping();
        if (generationStale) await ensureGeneration();
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(generationTimer);
      m.up.set(0);
      const quit = async (c: Client): Promise<void> => {
        // QUIT lets in-flight replies arrive; bounded so close() never hangs.
        if (c.status === 'ready') {
          await Promise.race([c.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000))]);
        }
        // Always disconnect as well: it also stops any reconnect in progress.
        c.disconnect();
      };
      await Promise.all([quit(client), quit(subscriber)]);
      handlers.clear();
    },
  };

  // First contact: wait up to connectTimeoutMs. If Redis is not there yet the
  // store still starts (fail closed per call, /readyz red) and connects later.
  const connectBoth = Promise.all([client.connect(), subscriber.connect()]);
  const started = await Promise.race([
    connectBoth.then(() => true, () => false),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), cfg.connectTimeoutMs).unref()),
  ]);
  if (started) {
    await ensureGeneration().catch((err: unknown) => log.warn({ err: { message: (err as Error).message } }, 'generation check failed'));
  } else {
    log.error('redis state unavailable at start; state operations fail closed until it connects');
  }
  return store;
}
