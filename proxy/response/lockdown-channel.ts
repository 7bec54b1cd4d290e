// The lockdown channel. A lockdown publishes {incidentId, scope} as its lock
// flags are set (lockdown.ts step 1); every replica, this one included, hears
// it and ends the locked bots' calls and realtime sessions there at once
// (ResponderOptions.onLockdown: the sidecar's is server/bot-calls.ts). The
// flags stay what stops calls: a replica that missed the message (pub/sub
// down) still refuses them at the lockdown stage and before an order is
// written, only later. An unlock needs nothing of the other replicas (they
// read the flags on every call), so it publishes nothing.
import { randomBytes } from 'node:crypto';
import { messageObject } from '../common/json.js';
import type { ResponseContext, StoppedCalls } from './context.js';
import type { LockdownScope } from './incident.js';
import { CHANNEL, K } from './keys.js';

export interface LockdownMessage {
  readonly incidentId: string;
  readonly scope: LockdownScope;
}

const ID = /^[0-9a-f-]{36}$/;

/** The message, or undefined when it is not a lockdown's (malformed, or an older replica's unlock notice). */
export function parseLockdownMessage(raw: string): LockdownMessage | undefined {
  const m = messageObject(raw);
  if (!m) return undefined;
  const { incidentId, scope } = m;
  if (typeof incidentId !== 'string' || !ID.test(incidentId) || typeof scope !== 'object' || scope === null) return undefined;
  const s = scope as Record<string, unknown>;
  if (s.all === true) return { incidentId, scope: { all: true } };
  if (typeof s.account === 'string' && s.account) return { incidentId, scope: { account: s.account } };
  if (typeof s.botId === 'string' && s.botId) return { incidentId, scope: { botId: s.botId } };
  return undefined;
}

/** One replica's part of what was in flight when a lockdown landed, as the incident's report shows it. */
export interface StoppedHere extends StoppedCalls {
  readonly replica: string;
  readonly at: string;
}

export function subscribeLockdowns(
  ctx: ResponseContext,
  onLockdown: (m: LockdownMessage) => Promise<StoppedCalls> | Promise<void> | StoppedCalls | void,
): { close(): Promise<void> } {
  const { store, logger, cfg, now } = ctx;
  const replica = ctx.opts.replicaId ?? randomBytes(8).toString('hex');
  let closed = false;
  // Beside the incident (its record may not be saved yet), one field per replica: what it stopped there.
  const record = async (incidentId: string, stopped: StoppedCalls): Promise<void> => {
    const here: StoppedHere = { replica, at: new Date(now()).toISOString(), ended: stopped.ended, refused: stopped.refused };
    await store.hset(K.stopped(incidentId), replica, JSON.stringify(here), cfg.incidentRetentionMs);
  };
  const handle = (raw: string): void => {
    const m = parseLockdownMessage(raw);
    if (!m || closed) return;
    // Called in this message's own turn, not a later one: a realtime push relayed to this replica on the same
    // subscriber connection right after it must find the locked bot's socket already closed.
    let applied: Promise<StoppedCalls | undefined>;
    try {
      applied = Promise.resolve(onLockdown(m)).then((stopped) => stopped ?? undefined);
    } catch (err) {
      applied = Promise.reject(err);
    }
    void applied
      .then((stopped) => (stopped ? record(m.incidentId, stopped) : undefined))
      .catch((err: unknown) => logger.error({ incidentId: m.incidentId, err: (err as Error).message }, "lockdown not applied to this replica's calls"));
  };
  const subscribed = store.subscribe(CHANNEL, handle).catch((err: unknown) => {
    // ioredis re-subscribes by itself after a reconnect; a refusal here leaves the lock flags to do it, later.
    logger.error({ err: (err as Error).message }, "lockdown channel not subscribed: other replicas' lockdowns reach calls here only at their next check");
    return undefined;
  });
  return {
    async close() {
      closed = true;
      const unsubscribe = await subscribed;
      await unsubscribe?.().catch(() => undefined);
    },
  };
}
