// ioredis client construction for the Redis store: standalone, Sentinel or
// Cluster, TLS and password files, and the reconnect behaviour fail-closed
// needs. Kept apart so the store itself never deals with connection options.
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import type { RedisStateConfig } from './config.js';
import { readPrivateFile } from '../common/fsutil.js';

export type RedisClient = Redis | Cluster;
export type RetryStrategy = (times: number) => number;

/** Password files may end with a newline; anything else is kept byte for byte. */
/** Longest password file read. */
const MAX_SECRET_FILE_BYTES = 4096;

/**
 * A password file as every secret file is read: a regular file (no symlink followed), 0600 or tighter and owned by
 * the sidecar's user (common/fsutil.ts); whoever could read a looser one could write Redis, where lockdown flags,
 * revocations and approvals live.
 */
async function readSecretFile(file: string, what: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readPrivateFile(file, `${what} file ${file}`, MAX_SECRET_FILE_BYTES);
  } catch (err) {
    if (err instanceof GuardError) throw err;
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
      // The client key is a secret file like the password; the CA and certificate are public.
      return what === 'key' ? await readPrivateFile(f, `Redis TLS key file ${f}`, 64 * 1024) : await readFile(f);
    } catch (err) {
      if (err instanceof GuardError) throw err;
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
export function describeRedis(cfg: Partial<RedisStateConfig>): string {
  if (cfg.nodes) return `cluster ${cfg.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (cfg.sentinels) return `sentinel ${cfg.name} via ${cfg.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
  try {
    const u = new URL(cfg.url ?? 'redis://127.0.0.1:6379');
    return `${u.protocol}//${u.hostname}:${u.port || 6379}`;
  } catch {
    return 'redis';
  }
}

export function checkEndpoints(cfg: Partial<RedisStateConfig>): void {
  if ([cfg.url, cfg.sentinels, cfg.nodes].filter((x) => x !== undefined).length !== 1) {
    // Never fall back to ioredis' default of localhost:6379.
    throw new GuardError('KG7004', 'give exactly one of url, sentinels (+ name) or nodes');
  }
  if (cfg.sentinels && !cfg.name) throw new GuardError('KG7004', 'sentinels need the master group name');
}

type ConnectConfig = Partial<RedisStateConfig> & Pick<RedisStateConfig, 'commandTimeoutMs' | 'connectTimeoutMs' | 'maxReconnectDelayMs' | 'autoPipelining'>;

/** Builds the command connection (not connected yet: lazyConnect). Reads the password and TLS files first (KG7004). */
export async function createRedisClient(cfg: ConnectConfig): Promise<{ client: RedisClient; retryStrategy: RetryStrategy }> {
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

  let client: RedisClient;
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
    client = new Cluster(
      cfg.nodes.map((n) => ({ host: n.host, port: n.port })),
      clusterOpts,
    );
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
  return { client, retryStrategy };
}

/** One 'error' listener for all connections of a store: without one ioredis would print them; this logs them at a bounded rate. */
export function connectionErrorLogger(log: Logger): (err: Error) => void {
  let lastErrorLog = 0;
  return (err: Error): void => {
    const now = Date.now();
    if (now - lastErrorLog > 5_000) {
      lastErrorLog = now;
      log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'redis state connection error');
    }
  };
}

/**
 * ioredis can give a connection up for good without consulting retryStrategy
 * (e.g. SentinelConnector.connect rejecting "Connection is closed" sends the
 * client to 'end'). Until close() we always want the store back, so an 'end'
 * we did not cause starts a new connect with the same backoff (subscriptions
 * come back with it).
 */
export function keepConnecting(c: RedisClient, what: string, retryStrategy: RetryStrategy, isClosed: () => boolean, log: Logger): void {
  if (!(c instanceof Redis)) return; // Cluster reconnects through clusterRetryStrategy
  let attempts = 0;
  c.on('ready', () => {
    attempts = 0;
  });
  c.on('end', () => {
    if (isClosed()) return;
    const delay = retryStrategy(++attempts);
    if (attempts === 1) log.warn({ connection: what }, 'redis client ended on its own; connecting again');
    setTimeout(() => {
      if (isClosed() || c.status !== 'end') return;
      c.connect().catch(() => undefined); // a failure ends it again and comes back here
    }, delay).unref();
  });
}

/** QUIT lets in-flight replies arrive; bounded so close() never hangs. */
export async function quitConnection(c: RedisClient): Promise<void> {
  if (c.status === 'ready') {
    await Promise.race([c.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000))]);
  }
  // Always disconnect as well: it also stops any reconnect in progress.
  c.disconnect();
}
