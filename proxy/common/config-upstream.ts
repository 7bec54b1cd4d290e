// The upstream section of the configuration: where Kiwoom is, its time-outs,
// and the governor's limits for it; checked at load (config.ts).
import { ConfigError } from './config.js';
import { KIWOOM_LIMITS, type GovernorLimits } from './kiwoom-limits.js';

export type UpstreamTarget = 'sim' | 'mock' | 'production' | 'custom';

export interface UpstreamConfig {
  /** sim: built-in simulator on loopback; mock/production: Kiwoom's hosts; custom: `url`. */
  target: UpstreamTarget;
  url?: string;
  /** Plain HTTP is refused except to loopback unless this is set. */
  allowInsecureHttp: boolean;
  /** PEM CA bundle file added to the system store (private Kiwoom gateways, tests). */
  caFile?: string;
  connections: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** The whole answer, from the call's start to its last byte (bodyTimeoutMs is per pause): an order is cut off by nothing else. */
  answerTimeoutMs: number;
  /**
   * A token revoke's whole answer (au10002). Calls for the key wait while its token is being revoked (issuing now
   * would return that same token), so a revoke Kiwoom does not answer holds them this long, not headersTimeoutMs.
   * A revoke cut off counts as failed: the token serves on until a retry ends it (an [8005] is re-issued once).
   */
  revokeTimeoutMs: number;
  /** Below the upstream's idle timeout so we never reuse a socket the far end is closing. */
  keepAliveTimeoutMs: number;
  maxResponseBytes: number;
  /**
   * Kiwoom's per-key call limits, kept by the governor before a call leaves
   * (`off` only for benchmarks against `kguard sim --ideal`). `mock` overrides
   * apply when the target is Kiwoom's mock host.
   */
  limits: 'off' | (Partial<GovernorLimits> & { mock?: Partial<GovernorLimits> });
  /** Built-in simulator only: `ideal` hands out a fresh token per issue and has no limits (benchmarks). */
  sim: { ideal: boolean };
}

export const KIWOOM_HOSTS = {
  production: 'https://api.kiwoom.com',
  mock: 'https://mockapi.kiwoom.com',
} as const;

/** Resolves the upstream base URL; refuses plain HTTP off loopback unless explicitly allowed. */
export function upstreamUrl(u: UpstreamConfig): string | undefined {
  if (u.target === 'production' || u.target === 'mock') return KIWOOM_HOSTS[u.target];
  return u.url;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/;

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

export function checkUpstream(u: UpstreamConfig): void {
  if (u.target === 'custom' && !u.url) throw new ConfigError('upstream.url is required when upstream.target is custom');
  if (u.target === 'sim') {
    if (u.url) throw new ConfigError('upstream.url is set but upstream.target is sim; set target: custom to use it');
    return;
  }
  const url = new URL(upstreamUrl(u)!);
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !u.allowInsecureHttp) {
    throw new ConfigError(
      `upstream ${url.origin} is plain HTTP off loopback; credentials would cross the wire in clear. Use https or set upstream.allowInsecureHttp`,
    );
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new ConfigError('upstream.url must be an origin only (scheme://host[:port]), without path, query or credentials');
  }
}

/** The governor's limits for this upstream: Kiwoom's defaults, the configured overrides, then the mock host's. */
export function governorLimits(u: UpstreamConfig, sessionWaitMs: number): GovernorLimits | 'off' {
  if (u.limits === 'off') return 'off';
  const { mock, ...base } = u.limits;
  // A slot counts until its call is answered, or for holdMs at most: the longest a call can hold it unanswered.
  // It is taken before the call waits for its key's token (brokerTokens.sessionWaitMs), then the call may take
  // answerTimeoutMs: a shorter hold would lapse while a call still waits to go out, and let it go out uncounted.
  const limits = { ...KIWOOM_LIMITS, holdMs: sessionWaitMs + u.answerTimeoutMs, ...base, ...(u.target === 'mock' ? mock : {}) };
  return limits;
}
