// The `vault` config section: which key provider wraps new data keys, the
// settings of each provider, and the vault's own limits. Validated here (the
// core config loader keeps the section raw) with defaults and clear errors.
import path from 'node:path';
import { GuardError } from '../common/errors.js';
import { DEFAULT_CACHE_CONFIG, type DataKeyCacheConfig } from './cache.js';
import { DEFAULT_RECORD_CACHE_CONFIG, type RecordCacheConfig } from './record-cache.js';
import { DEFAULT_CREDENTIAL_LIMITS, type CredentialLimits } from './secret-input.js';

export const PROVIDER_NAMES = ['local', 'aws-kms', 'pkcs11'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export interface AwsKmsConfig {
  keyId: string;
  region: string;
  endpoint?: string;
  /** SDK attempts per request, first try included; throttling retries back off with jitter. */
  maxAttempts: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
}

export interface Pkcs11Config {
  module: string;
  slot?: number;
  tokenLabel?: string;
  pinFile: string;
  keyLabel: string;
}

export interface VaultConfig {
  provider: ProviderName;
  /** Providers that may still unwrap older records (during a migration); new records use `provider`. */
  readProviders: ProviderName[];
  local: { masterKeyFile: string };
  awsKms?: AwsKmsConfig;
  pkcs11?: Pkcs11Config;
  cache: DataKeyCacheConfig;
  limits: CredentialLimits;
  lock: { timeoutMs: number; staleMs: number };
  /** In-memory copies of the encrypted records, so calls do no file I/O. */
  records: RecordCacheConfig;
  /** /readyz asks the key provider at most this often (a KMS probe costs quota); an outage's end shows within it. */
  healthProbeMs: number;
}

type Obj = Record<string, unknown>;

function fail(where: string, what: string): never {
  throw new GuardError('KG4005', `vault.${where}: ${what}`);
}

function obj(v: unknown, where: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(where, 'must be a mapping');
  return v as Obj;
}

function onlyKeys(o: Obj, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(where ? `${where}.${k}` : k, `unknown key (allowed: ${allowed.join(', ')})`);
}

function str(o: Obj, key: string, where: string, required: true): string;
function str(o: Obj, key: string, where: string, required?: false): string | undefined;
function str(o: Obj, key: string, where: string, required = false): string | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) fail(`${where}.${key}`, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048) fail(`${where}.${key}`, 'must be a non-empty string');
  return v;
}

function int(o: Obj, key: string, where: string, dflt: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(where ? `${where}.${key}` : key, `must be an integer from ${min} to ${max}`);
  return v;
}

function providerName(v: unknown, where: string): ProviderName {
  if (typeof v !== 'string' || !(PROVIDER_NAMES as readonly string[]).includes(v)) fail(where, `must be one of ${PROVIDER_NAMES.join(', ')}`);
  return v as ProviderName;
}

export function parseVaultConfig(raw: unknown, dataDir: string): VaultConfig {
  const o = obj(raw, '(section)');
  onlyKeys(o, '', ['provider', 'readProviders', 'local', 'awsKms', 'pkcs11', 'cache', 'limits', 'lock', 'records', 'healthProbeMs']);
  const provider = o.provider === undefined ? 'local' : providerName(o.provider, 'provider');
  const rp = o.readProviders ?? [];
  if (!Array.isArray(rp)) fail('readProviders', 'must be a list');
  const readProviders = [...new Set(rp.map((p, i) => providerName(p, `readProviders[${i}]`)))].filter((p) => p !== provider);

  const local = obj(o.local, 'local');
  onlyKeys(local, 'local', ['masterKeyFile']);
  const masterKeyFile = path.resolve(dataDir, str(local, 'masterKeyFile', 'local') ?? 'master.key');

  let awsKms: AwsKmsConfig | undefined;
  if (o.awsKms !== undefined) {
    const a = obj(o.awsKms, 'awsKms');
    onlyKeys(a, 'awsKms', ['keyId', 'region', 'endpoint', 'maxAttempts', 'requestTimeoutMs', 'connectTimeoutMs']);
    const endpoint = str(a, 'endpoint', 'awsKms');
    if (endpoint !== undefined && !/^https?:\/\/[^\s/]+(\/.*)?$/.test(endpoint)) fail('awsKms.endpoint', 'must be an http(s) URL');
    awsKms = {
      keyId: str(a, 'keyId', 'awsKms', true),
      region: str(a, 'region', 'awsKms', true),
      ...(endpoint !== undefined ? { endpoint } : {}),
      maxAttempts: int(a, 'maxAttempts', 'awsKms', 3, 1, 10),
      requestTimeoutMs: int(a, 'requestTimeoutMs', 'awsKms', 2_000, 50, 60_000),
      connectTimeoutMs: int(a, 'connectTimeoutMs', 'awsKms', 1_000, 50, 60_000),
    };
  }

  let pkcs11: Pkcs11Config | undefined;
  if (o.pkcs11 !== undefined) {
    const p = obj(o.pkcs11, 'pkcs11');
    onlyKeys(p, 'pkcs11', ['module', 'slot', 'tokenLabel', 'pinFile', 'keyLabel']);
    const slot = p.slot === undefined ? undefined : int(p, 'slot', 'pkcs11', 0, 0, 2 ** 32 - 1);
    const tokenLabel = str(p, 'tokenLabel', 'pkcs11');
    if ((slot === undefined) === (tokenLabel === undefined)) fail('pkcs11', 'set exactly one of slot or tokenLabel');
    pkcs11 = {
      module: str(p, 'module', 'pkcs11', true),
      ...(slot !== undefined ? { slot } : {}),
      ...(tokenLabel !== undefined ? { tokenLabel } : {}),
      pinFile: path.resolve(dataDir, str(p, 'pinFile', 'pkcs11', true)),
      keyLabel: str(p, 'keyLabel', 'pkcs11', true),
    };
  }

  const c = obj(o.cache, 'cache');
  onlyKeys(c, 'cache', ['enabled', 'maxAgeMs', 'maxUses', 'maxEntries']);
  if (c.enabled !== undefined && typeof c.enabled !== 'boolean') fail('cache.enabled', 'must be true or false');
  const cache: DataKeyCacheConfig = {
    enabled: (c.enabled as boolean | undefined) ?? DEFAULT_CACHE_CONFIG.enabled,
    maxAgeMs: int(c, 'maxAgeMs', 'cache', DEFAULT_CACHE_CONFIG.maxAgeMs, 1, 3_600_000),
    maxUses: int(c, 'maxUses', 'cache', DEFAULT_CACHE_CONFIG.maxUses, 1, 1_000_000),
    maxEntries: int(c, 'maxEntries', 'cache', DEFAULT_CACHE_CONFIG.maxEntries, 1, 100_000),
  };

  const l = obj(o.limits, 'limits');
  onlyKeys(l, 'limits', ['minKeyBytes', 'maxKeyBytes']);
  const limits: CredentialLimits = {
    minKeyBytes: int(l, 'minKeyBytes', 'limits', DEFAULT_CREDENTIAL_LIMITS.minKeyBytes, 1, 4096),
    maxKeyBytes: int(l, 'maxKeyBytes', 'limits', DEFAULT_CREDENTIAL_LIMITS.maxKeyBytes, 1, 4096),
  };
  if (limits.minKeyBytes > limits.maxKeyBytes) fail('limits', 'minKeyBytes is larger than maxKeyBytes');

  const k = obj(o.lock, 'lock');
  onlyKeys(k, 'lock', ['timeoutMs', 'staleMs']);
  const lock = { timeoutMs: int(k, 'timeoutMs', 'lock', 5_000, 1, 600_000), staleMs: int(k, 'staleMs', 'lock', 30_000, 1_000, 3_600_000) };

  const rc = obj(o.records, 'records');
  onlyKeys(rc, 'records', ['enabled', 'watch', 'revalidateMs', 'maxStaleMs']);
  for (const key of ['enabled', 'watch'] as const) {
    if (rc[key] !== undefined && typeof rc[key] !== 'boolean') fail(`records.${key}`, 'must be true or false');
  }
  const records: RecordCacheConfig = {
    enabled: (rc.enabled as boolean | undefined) ?? DEFAULT_RECORD_CACHE_CONFIG.enabled,
    watch: (rc.watch as boolean | undefined) ?? DEFAULT_RECORD_CACHE_CONFIG.watch,
    revalidateMs: int(rc, 'revalidateMs', 'records', DEFAULT_RECORD_CACHE_CONFIG.revalidateMs, 10, 60_000),
    maxStaleMs: int(rc, 'maxStaleMs', 'records', DEFAULT_RECORD_CACHE_CONFIG.maxStaleMs, 20, 600_000),
  };
  // The sweep must get round to an entry before it goes stale, or calls would fall back to the disk.
  if (records.revalidateMs * 2 > records.maxStaleMs) fail('records', 'maxStaleMs must be at least twice revalidateMs');

  for (const name of [provider, ...readProviders]) {
    if (name === 'aws-kms' && !awsKms) fail('awsKms', `is required when provider ${name} is used`);
    if (name === 'pkcs11' && !pkcs11) fail('pkcs11', `is required when provider ${name} is used`);
  }
  const healthProbeMs = int(o, 'healthProbeMs', '', 10_000, 100, 600_000);
  return {
    provider,
    readProviders,
    local: { masterKeyFile },
    ...(awsKms ? { awsKms } : {}),
    ...(pkcs11 ? { pkcs11 } : {}),
    cache,
    limits,
    lock,
    records,
    healthProbeMs,
  };
}
