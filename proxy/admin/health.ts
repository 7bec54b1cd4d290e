// Liveness and readiness. /healthz says the process serves; /readyz says it
// can do its job: every check must pass, and a failing one is named with its
// reason (no secrets: GuardError codes and operator-facing messages only).
import { GuardError } from '../common/errors.js';

import { Degraded, type ReadinessCheck } from '../common/admin-route.js';

export type { ReadinessCheck };

export interface ReadinessReport {
  /** Every check that is not a warning passes: the pod belongs in the Service (HTTP 200). */
  ready: boolean;
  /** Ready, and no warning means every bot call is refused (e.g. an unconfirmed Redis flush): calls are forwarded. */
  serving: boolean;
  checks: Record<string, { ok: boolean; reason?: string; severity?: 'warn'; degraded?: true; refusesCalls?: true }>;
}

/** Longest /readyz waits for one check before reporting it failed (a probe's timeoutSeconds must leave room for it). */
export const CHECK_TIMEOUT_MS = 1_000;

/** Longest reason shown: room for the calendar check's three lists (policy, risk, compensation) at once. */
const MAX_REASON_CHARS = 1_000;

function reasonOf(err: unknown): string {
  if (err instanceof GuardError) return `${err.code}${err.detail ? `: ${err.detail}` : ''}`;
  return err instanceof Error ? err.message.slice(0, MAX_REASON_CHARS) : 'failed';
}

export async function runReadiness(checks: readonly ReadinessCheck[]): Promise<ReadinessReport> {
  type Result = ReadinessReport['checks'][string];
  const results = await Promise.all(
    checks.map(async (c): Promise<readonly [string, Result]> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(c.check),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
          }),
        ]);
        return [c.name, { ok: true }] as const;
      } catch (err) {
        if (err instanceof Degraded)
          return [c.name, { ok: false, reason: err.message.slice(0, MAX_REASON_CHARS), severity: 'warn' as const, degraded: true as const }] as const;
        const warn = c.severity === 'warn' ? { severity: 'warn' as const, ...(c.refusesCalls ? { refusesCalls: true as const } : {}) } : {};
        return [c.name, { ok: false, reason: reasonOf(err), ...warn }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const ready = results.every(([, r]) => r.ok || r.severity === 'warn');
  const serving = ready && !results.some(([, r]) => !r.ok && r.refusesCalls);
  return { ready, serving, checks: Object.fromEntries(results) };
}
