// What every part of the responder shares: its options, the webhook notifier,
// background-task tracking (so flush() can wait for deliveries) and the small
// helpers more than one part needs. Built once per responder.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Auditor } from '../audit/types.js';
import { GuardError, type Language } from '../common/errors.js';
export { maskAccount } from '../common/logger.js';
import { ALERT_TEXT, type AlertText } from './alert-text.js';
import type { Store } from '../state/types.js';
import { K } from './keys.js';
import type { ResponseConfig } from './config.js';
import type { LockdownScope } from './incident.js';
import type {
  BrokerGateway,
  BrokerTokenControl,
  ConditionSubscriber,
  CredentialControl,
  SessionControl,
  TradingStateControl,
  TradingStateScope,
} from './types.js';
import { createWebhookNotifier, type WebhookNotifier } from './webhooks.js';

/** What a lockdown stopped on one replica: calls (and realtime sessions) ended before they were sent, queued calls refused. */
export interface StoppedCalls {
  readonly ended: number;
  readonly refused: number;
}

export interface ResponderOptions {
  readonly config: ResponseConfig;
  readonly gateway: BrokerGateway;
  readonly store: Store;
  readonly vault: CredentialControl;
  readonly sessions: SessionControl;
  readonly policy: TradingStateControl;
  readonly tokens: BrokerTokenControl;
  readonly conditions?: readonly ConditionSubscriber[];
  /**
   * Told on every replica (this one included) of each lockdown as it is issued: ends the locked bots' calls there,
   * and says what it stopped, which the incident records per replica (what was in flight when the lockdown landed).
   */
  readonly onLockdown?: (e: { readonly incidentId: string; readonly scope: LockdownScope }) => Promise<StoppedCalls> | Promise<void> | StoppedCalls | void;
  /** This replica's name in the incident's record of what each replica stopped (a random one when absent). */
  readonly replicaId?: string;
  /** Told of each bot an unlock frees (the risk engine forgets its escalation); a failure is recorded, not thrown. */
  readonly onUnlocked?: (botId: string) => Promise<void>;
  readonly auditor: Auditor;
  /**
   * The admins now (admins.json): an unlock approval counts while its admin exists with the admin role and was given
   * since that admin's token was made, so removing an admin voids what they approved. Without it every approval counts.
   */
  readonly admins?: { enrolledAt(name: string, role: 'admin'): Promise<string | undefined> };
  readonly registry: Registry;
  readonly logger: Logger;
  /** Replaces the webhook notifier built from config (tests). */
  readonly notifier?: WebhookNotifier;
  /** The language of the alerts' titles and lines (config `language`; Korean by default). */
  readonly language?: Language;
  readonly now?: () => number;
}

export interface ResponseContext {
  readonly opts: ResponderOptions;
  readonly cfg: ResponseConfig;
  readonly store: Store;
  readonly logger: Logger;
  readonly now: () => number;
  readonly notifier: WebhookNotifier;
  /** The alerts' words in the sidecar's language. */
  readonly text: AlertText;
  /** Runs p in the background: a failure is logged, and flush() waits for it. */
  track<T>(p: Promise<T>): Promise<T>;
  flush(): Promise<void>;
  /** Whether an unlock of incident `id` has started (on any replica): its cancel-alls send no further cancel. */
  unlockStarted(id: string): Promise<boolean>;
  /** Appends an audit event without ever throwing; returns the failure to record in the incident. */
  auditSafe(event: Parameters<Auditor['append']>[0]): Promise<string | undefined>;
}

const ACTOR = /^[A-Za-z0-9._@:-]{1,64}$/;

export function checkActor(actor: string): string {
  if (typeof actor !== 'string' || !ACTOR.test(actor)) throw new GuardError('KG3016', `actor must match ${ACTOR}`);
  return actor;
}

/** The policy engine's trading-state scope for a lockdown scope (HALTED on lockdown, ACTIVE on unlock). */
export function tradingScope(scope: LockdownScope): TradingStateScope {
  return scope.all ? { global: true as const } : scope.account ? { account: scope.account } : { botId: scope.botId! };
}

export function createContext(opts: ResponderOptions): ResponseContext {
  const { config: cfg, store, logger } = opts;
  const now = opts.now ?? Date.now;
  const notifier = opts.notifier ?? createWebhookNotifier({ webhooks: cfg.webhooks, ...cfg.webhook, logger, registry: opts.registry, now });
  const pending = new Set<Promise<unknown>>();

  const track = <T>(p: Promise<T>): Promise<T> => {
    const q = p.catch((err: unknown) => {
      logger.error({ err: (err as Error).message }, 'background response task failed');
    });
    pending.add(q);
    void q.finally(() => pending.delete(q));
    return p;
  };

  async function auditSafe(event: Parameters<Auditor['append']>[0]): Promise<string | undefined> {
    // An emergency stop is never blocked by the audit sink; the failure is recorded in the incident.
    try {
      await opts.auditor.append(event);
      return undefined;
    } catch (err) {
      logger.error({ err: (err as Error).message, type: event.type }, 'audit append failed during response');
      return `audit failed: ${(err as Error).message.slice(0, 120)}`;
    }
  }

  async function flush(): Promise<void> {
    while (pending.size > 0) await Promise.all([...pending]);
  }

  const unlockStarted = async (id: string): Promise<boolean> => (await store.get(K.unlocking(id))) !== null;

  return { opts, cfg, store, logger, now, notifier, text: ALERT_TEXT[opts.language ?? 'ko'], track, flush, auditSafe, unlockStarted };
}
