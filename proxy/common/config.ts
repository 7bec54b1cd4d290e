// Configuration: an optional YAML/JSON file, then KGUARD_* environment
// overrides, validated once at start. Core sections are checked with the JSON
// Schema in config-schema.ts; the sections owned by other parts (vault, policy,
// audit, state, risk, approval, response) stay raw and each part validates its own.
import { REALTIME_DEFAULTS, type RealtimeConfig } from './config-realtime.js';
import { TRANSPARENT_DEFAULTS, transparentProblem, type TransparentConfig } from './config-transparent.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkUpstream, type UpstreamConfig } from './config-upstream.js';
import { describeErrors, validateConfig } from './config-schema.js';
import { GuardError, type Language } from './errors.js';
import { DEFAULT_MAX_BODY_DEPTH } from './json.js';
import { DEFAULT_TLS_RELOAD_INTERVAL_MS, type TlsFilesConfig } from './tls-server.js';
import { LOG_BUFFER_DEFAULTS } from './logger.js';
import { OUTAGE_REMINDER_DEFAULT_MS } from './outage-log.js';
import { isServiceLink } from './service-links.js';

export { KIWOOM_HOSTS, governorLimits, isLoopbackHost, upstreamUrl, type UpstreamConfig, type UpstreamTarget } from './config-upstream.js';
export type { RealtimeConfig } from './config-realtime.js';
export type { TransparentConfig } from './config-transparent.js';
export { realtimeUrl } from './config-realtime.js';

export interface Config {
  configFile?: string;
  dataDir: string;
  language: Language;
  /** `tls` (optional): serve bots over HTTPS with this certificate and key, reloaded on change. */
  listen: { host: string; port: number; tls?: TlsFilesConfig };
  admin: {
    host: string;
    port: number;
    enabled: boolean;
    tls?: TlsFilesConfig;
    authFailures: AdminAuthFailureLimits;
    /** Host names served besides IP addresses and localhost: checked on a loopback listener, elsewhere once listed. */
    allowedHosts: string[];
    /** The dashboard's reads of the audit log: its newest auditTailBytes (recent calls, risk per bot, chain status). */
    dashboard: { auditTailBytes: number };
    /** POST /admin/v1/bots/batch: body size and entries per batch. */
    batch: { maxBytes: number; maxEntries: number };
  };
  upstream: UpstreamConfig;
  limits: {
    maxBodyBytes: number;
    /** How deep a bot body's objects and arrays may nest; deeper is refused (KG1001). */
    maxBodyDepth: number;
    maxHeaderBytes: number;
    /** Header fields per request; more are refused (KG1012), where Node would drop them unread. */
    maxHeaderCount: number;
    /** Whole-request deadline from first byte to response. */
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    keepAliveTimeoutMs: number;
    /** Connections open at once; at the cap a new one closes the longest-idle connection without a request in flight. */
    maxConnections: number;
    /** Connections open at once from one remote address; past it a new one is refused unread (0: no cap). */
    maxConnectionsPerSource: number;
    /** A refusal with a retry-after is answered no sooner than it, at most this long after (0: at once). */
    refusalHoldMs: number;
    /** Refusals held at once for one bot (or source address); past it, answered at once and the connection closed. */
    refusalHoldPerBot: number;
    /** Bot-call authentication failures past afterFailures in windowMs, per source (or bot id), are held holdMs. */
    authFailureHold: { afterFailures: number; windowMs: number; holdMs: number; maxSources: number };
  };
  tokens: {
    ttlSeconds: number;
    issuer: string;
    audience: string;
    clockToleranceSeconds: number;
    /** Session tokens whose signature was checked, remembered by digest until they expire (0: check every call). */
    verifiedCacheSize?: number;
    /** HS256 key shared by replicas; default <dataDir>/jwt.key created on first run. */
    keyFile?: string;
    /** Wrong bot secrets (token, revoke) per (source address, bot id) before that pair cools down; admin.authFailures' defaults (maxSources: pairs tracked). */
    authFailures?: Partial<AdminAuthFailureLimits>;
  };
  /** Realtime WebSocket relay (see proxy/kiwoom/realtime and proxy/server/realtime.ts). */
  realtime: RealtimeConfig;
  /** One broker session per app key (see proxy/kiwoom/broker-sessions.ts). */
  brokerTokens: {
    /** Linger after the last call before the key's token is revoked; 0 revokes as soon as Kiwoom's issue limit allows a re-issue. */
    idleRevokeMs: number;
    /**
     * A key whose calls keep coming faster than this keeps its token between them: after the last
     * call it lingers 1.5 x the key's recent gap between calls, at most this long, and is revoked
     * once that passes with no call. A key called now and then still loses its token at once. 0: off.
     */
    cadenceLingerMs?: number;
    /** A token this close to expires_dt is revoked and issued afresh before it is handed out. */
    renewBeforeMs: number;
    /** A replica's shared lease on a token lapses this long after its last refresh (dead replica). */
    leaseTtlMs: number;
    issueLockTtlMs: number;
    /** Longest a call waits for its key's token while another replica issues or revokes it. */
    sessionWaitMs: number;
    revokeAttempts: number;
    revokeBaseDelayMs: number;
    revokeMaxDelayMs: number;
    /** How often each replica sweeps for tokens nobody holds (dead replicas, unfinished issues). */
    sweepIntervalMs: number;
    /** At start (memory state) and in each sweep, how many keys' leftover tokens are revoked at once (keys are independent). */
    recoverConcurrency?: number;
    /** How long a query keeps retrying after Kiwoom refused it for rate. */
    queryRetryBudgetMs: number;
    /**
     * At shutdown, after the calls drained, how long to wait for this replica's broker tokens to be revoked
     * (keep it inside the pod's grace period); a token still live then is logged and left to a peer's sweep or expiry.
     */
    shutdownRevokeMs?: number;
    /**
     * A key with no token and no call for this long (and twice sessionWaitMs) is forgotten by the sweeper: its
     * state here and its governor lanes, which otherwise grew with every app key ever served (customers gone).
     */
    forgetIdleMs?: number;
  };
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /** Log lines gathered before one write to stdout (0: a write per line); they wait at most flushMs. */
    bufferBytes: number;
    flushMs: number;
    /** While a dependency stays down (Redis, a key provider, an audit sink), its failure is logged again at most this often, with a count. */
    outageReminderMs: number;
  };
  /** Creates a demo bot + demo credentials on first start when the upstream is the simulator. */
  demo: { enabled: boolean };
  /** Bots that hard-code https://api.kiwoom.com (CONNECT / name override); see proxy/server/transparent. */
  transparent: TransparentConfig;
  vault: unknown;
  policy: unknown;
  audit: unknown;
  state: unknown;
  risk: unknown;
  approval: unknown;
  response: unknown;
}

/** Failed admin logins (401) and role refusals (403) per source address, and the cool-down that follows. */
export interface AdminAuthFailureLimits {
  /** Failures from one source within windowMs after which it is refused (429) for blockMs, correct token or not. */
  maxFailures: number;
  windowMs: number;
  blockMs: number;
  /** Sources tracked at once; past this the one whose last failure is oldest is forgotten. */
  maxSources: number;
}

/** KG9003: the configuration is invalid. `detail` names the key or file; never a value that may be secret. */
export class ConfigError extends GuardError {
  constructor(detail: string) {
    super('KG9003', detail);
    this.name = 'ConfigError';
  }
}

export function defaultConfig(): Config {
  return {
    dataDir: '.kguard',
    language: 'ko',
    listen: { host: '127.0.0.1', port: 8080 },
    admin: {
      host: '127.0.0.1',
      port: 9090,
      enabled: true,
      authFailures: { maxFailures: 10, windowMs: 60_000, blockMs: 300_000, maxSources: 10_000 },
      allowedHosts: [],
      dashboard: { auditTailBytes: 512 * 1024 },
      batch: { maxBytes: 16 * 1024 * 1024, maxEntries: 10_000 },
    },
    upstream: {
      target: 'sim',
      allowInsecureHttp: false,
      connections: 32,
      connectTimeoutMs: 3_000,
      headersTimeoutMs: 10_000,
      bodyTimeoutMs: 10_000,
      answerTimeoutMs: 30_000,
      revokeTimeoutMs: 3_000,
      keepAliveTimeoutMs: 4_000,
      maxResponseBytes: 4 * 1024 * 1024,
      limits: {},
      sim: { ideal: false },
    },
    limits: {
      maxBodyBytes: 64 * 1024,
      maxBodyDepth: DEFAULT_MAX_BODY_DEPTH,
      maxHeaderBytes: 16 * 1024,
      maxHeaderCount: 100,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 1_024,
      maxConnectionsPerSource: 0,
      refusalHoldMs: 1_000,
      refusalHoldPerBot: 256,
      authFailureHold: { afterFailures: 10, windowMs: 10_000, holdMs: 1_000, maxSources: 10_000 },
    },
    tokens: { ttlSeconds: 300, issuer: 'kiwoom-guard', audience: 'kiwoom-guard:bots', clockToleranceSeconds: 5, verifiedCacheSize: 10_000 },
    realtime: { ...REALTIME_DEFAULTS },
    brokerTokens: {
      idleRevokeMs: 0,
      cadenceLingerMs: 1_000,
      renewBeforeMs: 300_000,
      leaseTtlMs: 15_000,
      issueLockTtlMs: 15_000,
      sessionWaitMs: 10_000,
      revokeAttempts: 8,
      revokeBaseDelayMs: 100,
      revokeMaxDelayMs: 10_000,
      sweepIntervalMs: 5_000,
      recoverConcurrency: 16,
      queryRetryBudgetMs: 3_000,
      shutdownRevokeMs: 5_000,
      forgetIdleMs: 600_000,
    },
    log: { level: 'info', ...LOG_BUFFER_DEFAULTS, outageReminderMs: OUTAGE_REMINDER_DEFAULT_MS },
    demo: { enabled: true },
    transparent: {
      ...TRANSPARENT_DEFAULTS,
      hosts: [...TRANSPARENT_DEFAULTS.hosts],
      ports: [...TRANSPARENT_DEFAULTS.ports],
      names: [...TRANSPARENT_DEFAULTS.names],
      listen: [],
      proxyListen: [],
    },
    vault: {},
    policy: {},
    audit: {},
    state: {},
    risk: {},
    approval: {},
    response: {},
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * KGUARD_LISTEN__PORT=8081 sets listen.port; `__` separates levels and
 * UPPER_SNAKE becomes camelCase (KGUARD_DATA_DIR -> dataDir). Values that
 * parse as JSON (numbers, booleans, arrays) are taken as such.
 * KGUARD_CONFIG (the config file) and the CLI's KGUARD_ADMIN_URL / KGUARD_ADMIN_TOKEN_FILE are not keys, nor
 * the addresses Kubernetes gives a pod of a Service named kguard or kguard-* (service-links.ts).
 */
/** KGUARD_* variables that are not config keys: the config file's name and the CLI's admin API settings. */
const NOT_CONFIG_KEYS = new Set(['KGUARD_CONFIG', 'KGUARD_ADMIN_URL', 'KGUARD_ADMIN_TOKEN_FILE']);

export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('KGUARD_') || NOT_CONFIG_KEYS.has(name) || raw === undefined || isServiceLink(name, raw)) continue;
    const keys = name.slice('KGUARD_'.length).split('__').map(camel);
    if (keys.some((k) => k.length === 0)) continue;
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    let node = out;
    for (const key of keys.slice(0, -1)) {
      node[key] = isPlainObject(node[key]) ? node[key] : {};
      node = node[key] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]!] = value;
  }
  return out;
}

const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Why a config file did not parse, without quoting it: JSON.parse messages carry a
 * snippet of the text and YAML's pretty errors the offending line, and the file may
 * hold secrets (a Redis URL with a password, webhook tokens).
 */
function parseFailure(err: unknown): string {
  const linePos = (err as { linePos?: readonly { line: number; col: number }[] }).linePos;
  if (err instanceof Error && err.name === 'YAMLParseError') {
    const first = err.message.split('\n', 1)[0]!.replace(/:$/, '');
    const where = linePos?.[0] ? ` at line ${linePos[0].line}, column ${linePos[0].col}` : '';
    return `not valid YAML (${first.replace(/ at line \d+, column \d+$/, '')})${where}`;
  }
  if (err instanceof SyntaxError) {
    const at = /at position (\d+)/.exec(err.message);
    return `not valid JSON${at ? ` (at position ${at[1]})` : ''}`;
  }
  // Other parser errors (e.g. YAML's alias limit) describe the document, not quote it.
  return `cannot be parsed (${err instanceof Error ? err.message.split('\n', 1)[0]!.slice(0, 200) : 'error'})`;
}

export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_CONFIG_BYTES) throw new ConfigError(`${file}: larger than ${MAX_CONFIG_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100, prettyErrors: true });
  } catch (err) {
    throw new ConfigError(`${file}: ${parseFailure(err)}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) throw new ConfigError(`${file}: the top level must be a mapping`);
  return parsed;
}

export interface LoadConfigOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Programmatic overrides applied last (tests, CLI flags). */
  overrides?: Record<string, unknown>;
  cwd?: string;
}

export async function loadConfig(opts: LoadConfigOptions = {}): Promise<Config> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = opts.file ?? env.KGUARD_CONFIG;
  let merged = defaultConfig() as unknown as Record<string, unknown>;
  if (file) merged = deepMerge(merged, await readConfigFile(path.resolve(cwd, file)));
  merged = deepMerge(merged, envOverrides(env));
  if (opts.overrides) merged = deepMerge(merged, opts.overrides);
  if (file) merged.configFile = path.resolve(cwd, file);
  const bt = merged.brokerTokens as Record<string, unknown> | undefined;
  for (const gone of ['maxUses', 'maxAgeMs', 'maxOutstanding', 'ledger']) {
    if (bt && gone in bt)
      throw new ConfigError(
        `brokerTokens.${gone} was replaced by one broker session per app key (Kiwoom shares one token per key); use brokerTokens.idleRevokeMs to keep a token between calls`,
      );
  }
  if (!validateConfig(merged)) throw new ConfigError(describeErrors(validateConfig.errors));
  const config = merged as unknown as Config;
  config.dataDir = path.resolve(cwd, config.dataDir);
  for (const l of [config.listen, config.admin]) {
    if (l.tls)
      l.tls = {
        certFile: path.resolve(cwd, l.tls.certFile),
        keyFile: path.resolve(cwd, l.tls.keyFile),
        reloadIntervalMs: l.tls.reloadIntervalMs ?? DEFAULT_TLS_RELOAD_INTERVAL_MS,
      };
  }
  checkUpstream(config.upstream);
  // Node refuses to start a listener whose header deadline is past its request deadline (a raw RangeError).
  if (config.limits.headersTimeoutMs > config.limits.requestTimeoutMs)
    throw new ConfigError(
      `limits.headersTimeoutMs (${config.limits.headersTimeoutMs}) must not exceed limits.requestTimeoutMs (${config.limits.requestTimeoutMs})`,
    );
  const tp = transparentProblem(config.transparent);
  if (tp) throw new ConfigError(tp);
  if (config.transparent.caDir) config.transparent.caDir = path.resolve(cwd, config.transparent.caDir);
  return config;
}

/** A copy safe to print: the config holds no secrets itself, only file names. */
export function describeConfig(config: Config): Record<string, unknown> {
  return JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
}
