// The `state:` config section. Validated here so mistakes are named exactly
// ("state.redis.commandTimeoutMs must be ...") and every limit has a default.
import { GuardError } from '../common/errors.js';
import { MEMORY_DEFAULTS } from './memory.js';

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface RedisTlsConfig {
  /** PEM CA bundle to trust (private CAs). */
  readonly caFile?: string;
  /** Client certificate + key for mutual TLS. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** TLS server name when it differs from the host. */
  readonly servername?: string;
}

export interface RedisStateConfig {
  /** Standalone: redis:// or rediss:// URL. No password in it: use passwordFile. */
  readonly url?: string;
  /** Sentinel: the sentinels and the master group name. */
  readonly sentinels?: readonly RedisEndpoint[];
  readonly name?: string;
  /** Cluster: seed nodes. */
  readonly nodes?: readonly RedisEndpoint[];
  /** ACL user (Redis 6+). */
  readonly username?: string;
  /** File holding the password (trailing newline ignored); never put the password itself in config. */
  readonly passwordFile?: string;
  /** File holding the Sentinel password, when Sentinel itself requires AUTH. */
  readonly sentinelPasswordFile?: string;
  /** TLS to Redis; `{}` turns it on with the system CAs. rediss:// URLs turn it on too. */
  readonly tls?: RedisTlsConfig;
  /** Prepended to every key and channel; no braces (they would become a hash tag). */
  readonly keyPrefix: string;
  /** Deadline per command: a slower Redis fails the call closed (KG7001). */
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Longest pause between reconnection attempts. */
  readonly maxReconnectDelayMs: number;
  /** How often the generation marker is re-checked (flush / empty restart detection). */
  readonly generationCheckMs: number;
  /** TTL of the generation marker, refreshed on every check. */
  readonly generationTtlMs: number;
  /** ioredis auto-pipelining: batches commands issued in the same tick (helps under concurrency and with a distant Redis; costs ~20 µs per lone command). */
  readonly autoPipelining: boolean;
  /** What market-data and account queries do while Redis is down; orders always fail closed. */
  readonly readOnlyQueriesWhenDown: 'deny' | 'allow';
  /** With readOnlyQueriesWhenDown: allow, how many security keys' last values (sessions, flags) a replica keeps to judge those calls. */
  readonly readOnlyMirrorMaxKeys: number;
  /** This replica's clock further than this from Redis' (beyond the round trip's uncertainty) is a /readyz warning; 0: none. */
  readonly maxClockSkewMs: number;
  /** How often the clock is compared with Redis' (a /readyz probe and a metrics scrape share the reading). */
  readonly clockCheckMs: number;
}

export interface MemoryStateConfig {
  readonly sweepIntervalMs: number;
  readonly maxKeys: number;
}

export interface StateConfig {
  readonly backend: 'memory' | 'redis';
  readonly memory: MemoryStateConfig;
  readonly redis: RedisStateConfig;
}

export const REDIS_DEFAULTS = {
  keyPrefix: 'kguard:',
  commandTimeoutMs: 250,
  connectTimeoutMs: 2_000,
  maxReconnectDelayMs: 1_000,
  generationCheckMs: 1_000,
  generationTtlMs: 7 * 24 * 60 * 60 * 1000,
  readOnlyQueriesWhenDown: 'deny',
  readOnlyMirrorMaxKeys: 100_000,
  autoPipelining: false,
  maxClockSkewMs: 1_000,
  clockCheckMs: 10_000,
} as const;

function bad(detail: string): GuardError {
  return new GuardError('KG7004', detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function section(raw: unknown, where: string, allowed: readonly string[]): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw bad(`${where} must be a mapping`);
  for (const k of Object.keys(raw)) {
    if (!allowed.includes(k)) throw bad(`${where}.${k} is not a known setting (known: ${allowed.join(', ')})`);
  }
  return raw;
}

function optString(o: Record<string, unknown>, k: string, where: string): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw bad(`${where}.${k} must be a non-empty string`);
  return v;
}

function int(o: Record<string, unknown>, k: string, where: string, dflt: number, min: number, max: number): number {
  const v = o[k] ?? dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw bad(`${where}.${k} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function endpoints(v: unknown, where: string): RedisEndpoint[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) throw bad(`${where} must be a non-empty list of "host:port" or {host, port}`);
  return v.map((e, i) => {
    let host: unknown;
    let port: unknown;
    if (typeof e === 'string') {
      const at = e.lastIndexOf(':');
      host = at > 0 ? e.slice(0, at).replace(/^\[|\]$/g, '') : '';
      port = at > 0 ? Number(e.slice(at + 1)) : Number.NaN;
    } else if (isObject(e)) {
      ({ host, port } = e);
    }
    if (typeof host !== 'string' || host.length === 0 || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw bad(`${where}[${i}] must be "host:port" or {host, port}`);
    }
    return { host, port };
  });
}

export function parseStateConfig(raw: unknown): StateConfig {
  const where = 'state';
  const top = section(raw, where, ['backend', 'memory', 'redis']);
  const mem = section(top.memory, `${where}.memory`, ['sweepIntervalMs', 'maxKeys']);
  const memory: MemoryStateConfig = {
    sweepIntervalMs: int(mem, 'sweepIntervalMs', `${where}.memory`, MEMORY_DEFAULTS.sweepIntervalMs, 10, 3_600_000),
    maxKeys: int(mem, 'maxKeys', `${where}.memory`, MEMORY_DEFAULTS.maxKeys, 1, 100_000_000),
  };

  const rw = `${where}.redis`;
  const r = section(top.redis, rw, [
    'url',
    'sentinels',
    'name',
    'nodes',
    'username',
    'passwordFile',
    'sentinelPasswordFile',
    'tls',
    'keyPrefix',
    'commandTimeoutMs',
    'connectTimeoutMs',
    'maxReconnectDelayMs',
    'generationCheckMs',
    'generationTtlMs',
    'readOnlyQueriesWhenDown',
    'readOnlyMirrorMaxKeys',
    'autoPipelining',
    'maxClockSkewMs',
    'clockCheckMs',
  ]);
  const url = optString(r, 'url', rw);
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw bad(`${rw}.url is not a valid URL`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw bad(`${rw}.url must start with redis:// or rediss://`);
    // Never echo the URL: it is exactly where a password would be.
    if (parsed.password) throw bad(`${rw}.url must not contain a password; put it in ${rw}.passwordFile`);
  }
  const sentinels = endpoints(r.sentinels, `${rw}.sentinels`);
  const name = optString(r, 'name', rw);
  const nodes = endpoints(r.nodes, `${rw}.nodes`);
  const modes = [url, sentinels, nodes].filter((x) => x !== undefined).length;
  if (modes > 1) throw bad(`${rw}: set only one of url (standalone), sentinels (+ name) or nodes (cluster)`);
  if (sentinels && !name) throw bad(`${rw}.name (the Sentinel master group) is required with sentinels`);
  if (name && !sentinels) throw bad(`${rw}.name is only used with sentinels`);

  let tls: RedisTlsConfig | undefined;
  if (r.tls !== undefined) {
    const t = section(r.tls, `${rw}.tls`, ['caFile', 'certFile', 'keyFile', 'servername']);
    const certFile = optString(t, 'certFile', `${rw}.tls`);
    const keyFile = optString(t, 'keyFile', `${rw}.tls`);
    if ((certFile === undefined) !== (keyFile === undefined)) throw bad(`${rw}.tls.certFile and keyFile go together`);
    tls = {
      ...(optString(t, 'caFile', `${rw}.tls`) !== undefined ? { caFile: t.caFile as string } : {}),
      ...(certFile !== undefined ? { certFile, keyFile: keyFile as string } : {}),
      ...(optString(t, 'servername', `${rw}.tls`) !== undefined ? { servername: t.servername as string } : {}),
    };
  }

  const keyPrefix = r.keyPrefix ?? REDIS_DEFAULTS.keyPrefix;
  if (typeof keyPrefix !== 'string' || keyPrefix.length > 64 || /[{}\s]/.test(keyPrefix)) {
    throw bad(`${rw}.keyPrefix must be a string of at most 64 characters without braces or spaces`);
  }
  const readOnly = r.readOnlyQueriesWhenDown ?? REDIS_DEFAULTS.readOnlyQueriesWhenDown;
  if (readOnly !== 'deny' && readOnly !== 'allow') throw bad(`${rw}.readOnlyQueriesWhenDown must be deny or allow`);

  const autoPipelining = r.autoPipelining ?? REDIS_DEFAULTS.autoPipelining;
  if (typeof autoPipelining !== 'boolean') throw bad(`${rw}.autoPipelining must be true or false`);
  const redis: RedisStateConfig = {
    ...(url !== undefined ? { url } : {}),
    ...(sentinels ? { sentinels, name: name as string } : {}),
    ...(nodes ? { nodes } : {}),
    ...(optString(r, 'username', rw) !== undefined ? { username: r.username as string } : {}),
    ...(optString(r, 'passwordFile', rw) !== undefined ? { passwordFile: r.passwordFile as string } : {}),
    ...(optString(r, 'sentinelPasswordFile', rw) !== undefined ? { sentinelPasswordFile: r.sentinelPasswordFile as string } : {}),
    ...(tls ? { tls } : {}),
    keyPrefix,
    commandTimeoutMs: int(r, 'commandTimeoutMs', rw, REDIS_DEFAULTS.commandTimeoutMs, 1, 60_000),
    connectTimeoutMs: int(r, 'connectTimeoutMs', rw, REDIS_DEFAULTS.connectTimeoutMs, 10, 120_000),
    maxReconnectDelayMs: int(r, 'maxReconnectDelayMs', rw, REDIS_DEFAULTS.maxReconnectDelayMs, 10, 60_000),
    generationCheckMs: int(r, 'generationCheckMs', rw, REDIS_DEFAULTS.generationCheckMs, 50, 3_600_000),
    generationTtlMs: int(r, 'generationTtlMs', rw, REDIS_DEFAULTS.generationTtlMs, 60_000, 365 * 24 * 3_600_000),
    readOnlyQueriesWhenDown: readOnly,
    readOnlyMirrorMaxKeys: int(r, 'readOnlyMirrorMaxKeys', rw, REDIS_DEFAULTS.readOnlyMirrorMaxKeys, 100, 10_000_000),
    autoPipelining,
    maxClockSkewMs: int(r, 'maxClockSkewMs', rw, REDIS_DEFAULTS.maxClockSkewMs, 0, 3_600_000),
    clockCheckMs: int(r, 'clockCheckMs', rw, REDIS_DEFAULTS.clockCheckMs, 100, 3_600_000),
  };

  const backend = top.backend ?? (modes > 0 ? 'redis' : 'memory');
  if (backend !== 'memory' && backend !== 'redis') throw bad(`${where}.backend must be memory or redis`);
  if (backend === 'redis' && modes === 0) throw bad(`${rw}: backend redis needs url, sentinels (+ name) or nodes`);
  return { backend, memory, redis };
}
