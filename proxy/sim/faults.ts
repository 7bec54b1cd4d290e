// Fault knobs for tests. Counters are consumed one per matching request.

import type { SimFaultSettings, SimFaults } from './types.js';
import { SimError } from './responses.js';

const COUNTERS = [
  'fail5xxNext',
  'dropNext',
  'nextKeyLostNext',
  'dropAnswerNext',
  'revokeFailNext',
  'revokeInvalidNext',
  'tokenFailNext',
  'issueRateLimitNext',
  'rateLimitNext',
  'gatewayRateLimitNext',
  'hangNext',
] as const;
type Counter = (typeof COUNTERS)[number];
const MAX_LATENCY_MS = 120_000;

export class FaultState implements SimFaults {
  private settings: { -readonly [K in keyof SimFaultSettings]: SimFaultSettings[K] } = {};

  set(input: SimFaultSettings): void {
    if (typeof input !== 'object' || input === null) throw new SimError('faults must be an object');
    const known = new Set<string>([...COUNTERS, 'latencyMs', 'revokeLatencyMs', 'fail5xxApiIds']);
    for (const k of Object.keys(input)) if (!known.has(k)) throw new SimError(`unknown fault knob: ${k}`);
    const next = { ...this.settings };
    for (const k of COUNTERS) {
      const v = input[k];
      if (v === undefined) continue;
      if (!Number.isSafeInteger(v) || v < 0) throw new SimError(`${k} must be a non-negative integer`);
      next[k] = v;
    }
    for (const k of ['latencyMs', 'revokeLatencyMs'] as const) {
      const v = input[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_LATENCY_MS) throw new SimError(`${k} must be 0..${MAX_LATENCY_MS}`);
      next[k] = v;
    }
    if (input.fail5xxApiIds !== undefined) {
      if (!Array.isArray(input.fail5xxApiIds) || !input.fail5xxApiIds.every((s) => typeof s === 'string'))
        throw new SimError('fail5xxApiIds must be a list of api-ids');
      next.fail5xxApiIds = [...input.fail5xxApiIds];
    }
    this.settings = next;
  }

  clear(): void {
    this.settings = {};
  }

  current(): SimFaultSettings {
    return { ...this.settings, ...(this.settings.fail5xxApiIds ? { fail5xxApiIds: [...this.settings.fail5xxApiIds] } : {}) };
  }

  /** Delay before answering a request on this path (revokeLatencyMs applies to /oauth2/revoke only). */
  latencyMs(path?: string): number {
    const base = this.settings.latencyMs ?? 0;
    return path === '/oauth2/revoke' ? base + (this.settings.revokeLatencyMs ?? 0) : base;
  }

  /** True (and one consumed) when the counter is above zero. */
  take(counter: Counter): boolean {
    const n = this.settings[counter] ?? 0;
    if (n <= 0) return false;
    if (n === 1) delete this.settings[counter];
    else this.settings[counter] = n - 1;
    return true;
  }

  failsApiId(apiId: string | undefined): boolean {
    return apiId !== undefined && (this.settings.fail5xxApiIds?.includes(apiId) ?? false);
  }
}
