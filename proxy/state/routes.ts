// Admin API routes for the shared state: what operators look at after a
// Redis flush alert, and the audited confirmation that lets calls flow again.
// Also the readiness check that makes /readyz name an unconfirmed flush.
import type { AdminRoute, ReadinessCheck } from '../common/admin-route.js';
import { GuardError, isGuardError } from '../common/errors.js';
import { readClock } from './clock.js';
import type { RedisStore } from './redis.js';
import type { Store } from './types.js';

/** Longest accepted confirmation reason (characters). */
export const MAX_REASON_LENGTH = 500;

export type AuditFn = (fields: Record<string, unknown>) => Promise<unknown>;

export interface StateStatus {
  readonly backend: Store['kind'];
  readonly up: boolean;
  /** Why the store is not up (error code and operator-facing detail; never a secret). */
  readonly reason?: string;
  /** The Redis generation marker this replica trusts; null for the memory store or before first contact. */
  readonly generation: string | null;
  readonly flushDetected: boolean;
  /** Redis up: this replica's clock minus Redis' (ms, rounded) and the reading's uncertainty (clock.ts). */
  readonly clock?: { readonly skewMs: number; readonly uncertaintyMs: number };
}

function isRedisStore(store: Store): store is RedisStore {
  return store.kind === 'redis' && typeof (store as Partial<RedisStore>).refreshGeneration === 'function';
}

function reasonOf(err: unknown): string {
  if (isGuardError(err)) return `${err.code}${err.detail ? `: ${err.detail}` : ''}`;
  return 'failed';
}

export async function stateStatus(store: Store): Promise<StateStatus> {
  let up = true;
  let reason: string | undefined;
  try {
    await store.health();
  } catch (err) {
    up = false;
    reason = reasonOf(err);
  }
  const clock = up ? await readClock(store) : undefined;
  return {
    backend: store.kind,
    up,
    ...(reason !== undefined ? { reason } : {}),
    generation: isRedisStore(store) ? (store.generation() ?? null) : null,
    flushDetected: store.flushDetected(),
    ...(clock ? { clock: { skewMs: Math.round(clock.skewMs), uncertaintyMs: Math.ceil(clock.uncertaintyMs) } } : {}),
  };
}

/** The confirmation's reason: required, one line of readable text, bounded. */
export function parseConfirmReason(body: Record<string, unknown>): string {
  const raw = body.reason;
  if (raw === undefined || raw === null) throw new GuardError('KG7006', 'reason is required: say why the loss of shared state is accepted');
  if (typeof raw !== 'string') throw new GuardError('KG7006', 'reason must be a string');
  const reason = raw.trim();
  if (reason.length === 0) throw new GuardError('KG7006', 'reason must not be empty');
  if (reason.length > MAX_REASON_LENGTH) throw new GuardError('KG7006', `reason must be at most ${MAX_REASON_LENGTH} characters`);
  // Control characters would let a reason forge extra lines in logs and terminals.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(reason)) throw new GuardError('KG7006', 'reason must be one line without control characters');
  return reason;
}

/** Routes for the admin listener (shape in proxy/admin/server.ts); `prefix` defaults to /admin/v1. */
export function stateRoutes(store: Store, audit: AuditFn, prefix = '/admin/v1'): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: `${prefix}/state`,
      role: 'viewer',
      handler: async () => ({ body: await stateStatus(store) }),
    },
    {
      method: 'POST',
      path: `${prefix}/state/confirm-flush`,
      role: 'admin',
      async handler({ body, principal }) {
        const reason = parseConfirmReason(body);
        // This replica may not have seen a peer's detection yet: look now rather than refuse wrongly.
        if (!store.flushDetected() && isRedisStore(store)) await store.refreshGeneration();
        if (!store.flushDetected()) throw new GuardError('KG7005', `${store.kind} state: nothing to confirm`);
        const generation = isRedisStore(store) ? (store.generation() ?? null) : null;
        // Audited before acting: no audit record, no confirmation (fail closed).
        await audit({ action: 'state.confirm-flush', actor: principal.name, reason, backend: store.kind, generation });
        try {
          await store.confirmFlush();
        } catch (err) {
          await audit({
            action: 'state.confirm-flush.failed',
            actor: principal.name,
            backend: store.kind,
            generation,
            code: isGuardError(err) ? err.code : 'KG9001',
          }).catch(() => undefined);
          throw err;
        }
        return { body: { confirmed: true, ...(await stateStatus(store)) } };
      },
    },
  ];
}

/**
 * Readiness entry naming an unconfirmed flush on /readyz. Severity 'warn':
 * calls are already refused (KG7003) and kguard_state_flush_detected alerts;
 * a shared Redis flush turning every replica unready at once would add
 * nothing but stalled rollouts.
 */
export function stateFlushReadiness(store: Store): ReadinessCheck {
  return {
    name: 'state-flush',
    severity: 'warn',
    // Still said plainly: /readyz `serving: false` and kguard_serving 0 while every call is refused.
    refusesCalls: true,
    check: () => {
      if (store.flushDetected()) throw new GuardError('KG7003', 'shared state was lost; confirm with `kguard state confirm-flush --reason TEXT`');
    },
  };
}
