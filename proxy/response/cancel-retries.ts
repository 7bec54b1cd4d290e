// Step 3's cancel-all, tried again until Kiwoom confirms it. A cancel-all that
// could not confirm (Kiwoom down or refusing during the lockdown, a listing
// that failed, orders still open after its rounds) leaves orders live at the
// broker, where they can still fill while the bot is locked. So every
// response.cancel.retryIntervalMs the accounts not confirmed are tried again
// (a fresh listing, cancels, a confirming listing) for at most
// response.cancel.retryForMs, until each is confirmed or the incident is
// unlocked; the key's token is let go after each try. Each account's last try
// lives in a hash beside the incident (never a rewrite of the incident itself,
// which the lockdown and an unlock save meanwhile); a report on any replica
// merges it, so step 3 turns done once every account is confirmed.
// An order Kiwoom accepted for a bot already locked down (written before the
// lock flags were set, placed after the cancel-all listed its account: on the
// wire, in Kiwoom's intake, sent by another replica) is caught by the replica
// that forwarded it, from Kiwoom's answer: its account's cancel-all runs again
// at once, followed like the others, and the incident's timeline names it.
import { maskAccount } from '../common/logger.js';
import { gauge } from '../common/metrics.js';
import { cancelAll } from './cancel-all.js';
import type { ResponseContext } from './context.js';
import { cancelTotals, type AccountCancel, type Incident, type StepTiming } from './incident.js';
import { K } from './keys.js';

export const CANCEL_STEP = '3 cancel all open orders';

/** One account's cancel-all as it stands after a retry. */
export interface CancelRetry extends AccountCancel {
  /** Tries after the lockdown's own. */
  readonly retries: number;
  readonly at: string;
}

/** An order or modify Kiwoom accepted, as the replica that forwarded it read the answer. */
export interface AcceptedOrder {
  readonly botId: string;
  readonly account: string;
  readonly apiId: string;
  readonly ordNo: string;
}

interface LateOrder {
  readonly at: string;
  readonly account: string;
  readonly viaBot: string;
  readonly apiId: string;
  readonly ordNo: string;
  readonly confirmed: boolean;
}

export interface CancelRetries {
  /** After step 3: follows the accounts whose cancel-all was not confirmed (in the background). */
  follow(inc: Pick<Incident, 'id' | 'cancels'>): void;
  /** An order Kiwoom accepted for a bot locked down by incident `id`: its account's cancel-all again, now. */
  acceptedWhileLocked(id: string, o: AcceptedOrder): Promise<void>;
  /** Step 3, the accounts' cancel records and the timeline as the report shows them. */
  merge(inc: Incident): Promise<Pick<Incident, 'steps' | 'timeline' | 'cancels' | 'damage'>>;
  /** Stops retrying (shutdown); what is recorded stays. */
  close(): void;
}

/** A step 3 error about one account: it names the bot the cancel-all went through, so a retry can replace it. */
export function cancelError(c: Pick<AccountCancel, 'account' | 'viaBot'>, detail: string): string {
  return `${c.account} (via ${c.viaBot}): ${detail}`;
}

const unconfirmed = (c: AccountCancel): boolean => c.confirmed !== true;

function errorOf(c: AccountCancel): string {
  return c.error ?? `${c.notCancelled?.length ?? 0} order(s) could not be cancelled`;
}

export function createCancelRetries(ctx: ResponseContext): CancelRetries {
  const { opts, cfg, store, logger, now } = ctx;
  const timers = new Set<NodeJS.Timeout>();
  const following = new Map<object, number>();
  let closed = false;
  const unconfirmedGauge = gauge(
    opts.registry,
    'kguard_lockdown_cancels_unconfirmed',
    "Accounts whose lockdown cancel-all this replica is still retrying (open orders not confirmed cancelled at Kiwoom); see the incident's step 3",
  );
  const setFollowing = (loop: object, n: number) => {
    if (n > 0) following.set(loop, n);
    else following.delete(loop);
    unconfirmedGauge.set([...following.values()].reduce((a, b) => a + b, 0));
  };

  async function stillLocked(id: string): Promise<boolean> {
    const json = await store.get(K.incident(id));
    return json !== null && json !== undefined && (JSON.parse(json) as Incident).status === 'locked';
  }

  async function once(id: string, c: AccountCancel, retries: number): Promise<CancelRetry> {
    const at = () => new Date(now()).toISOString();
    let rec: CancelRetry;
    try {
      const r = await opts.gateway.withSession(c.viaBot, (s) => cancelAll(s, cfg.cancel));
      rec = { account: c.account, viaBot: c.viaBot, ...r, retries, at: at() };
    } catch (err) {
      rec = { account: c.account, viaBot: c.viaBot, error: (err as Error).message.slice(0, 200), retries, at: at() };
    }
    // The token this try used goes now, as after the lockdown's own calls.
    await opts.tokens.revokeOutstanding(c.viaBot).catch(() => undefined);
    await store.hset(K.cancelRetries(id), c.viaBot, JSON.stringify(rec), cfg.incidentRetentionMs);
    return rec;
  }

  async function acceptedWhileLocked(id: string, o: AcceptedOrder): Promise<void> {
    const c = { account: maskAccount(o.account), viaBot: o.botId };
    logger.error(
      { incidentId: id, botId: o.botId, apiId: o.apiId, ordNo: o.ordNo },
      'Kiwoom accepted an order after the lockdown; cancelling its account again',
    );
    const before = await store.hget(K.cancelRetries(id), o.botId).catch(() => null);
    const rec = await once(id, c, before ? (JSON.parse(before) as CancelRetry).retries + 1 : 1);
    const late: LateOrder = { at: new Date(now()).toISOString(), ...c, apiId: o.apiId, ordNo: o.ordNo, confirmed: !unconfirmed(rec) };
    await store.hset(K.lateOrders(id), o.ordNo, JSON.stringify(late), cfg.incidentRetentionMs);
    if (unconfirmed(rec)) follow({ id, cancels: [rec] });
  }

  function follow(inc: Pick<Incident, 'id' | 'cancels'>): void {
    const open = inc.cancels.filter(unconfirmed);
    if (closed || open.length === 0 || cfg.cancel.retryIntervalMs === 0) return;
    const until = now() + cfg.cancel.retryForMs;
    const loop = {};
    const schedule = (left: AccountCancel[], retries: number) => {
      setFollowing(loop, closed ? 0 : left.length);
      if (closed || left.length === 0) return;
      if (now() >= until) {
        setFollowing(loop, 0);
        logger.error(
          { incidentId: inc.id, accounts: left.map((c) => c.account), retries },
          'lockdown cancel-all still not confirmed; retries given up (response.cancel.retryForMs): cancel the open orders at Kiwoom by hand',
        );
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        void (async () => {
          if (!(await stillLocked(inc.id).catch(() => true))) return [];
          const next = await Promise.all(left.map((c) => once(inc.id, c, retries + 1).catch(() => c)));
          for (const r of next)
            if (unconfirmed(r))
              logger.warn({ incidentId: inc.id, account: r.account, viaBot: r.viaBot, error: errorOf(r) }, 'lockdown cancel-all retry not confirmed');
            else logger.warn({ incidentId: inc.id, account: r.account, viaBot: r.viaBot }, 'lockdown cancel-all retry confirmed');
          return next.filter(unconfirmed);
        })()
          .catch(() => left)
          .then((next) => schedule(next, retries + 1));
      }, cfg.cancel.retryIntervalMs);
      timer.unref();
      timers.add(timer);
    };
    schedule(open, 0);
  }

  async function merge(inc: Incident): Promise<Pick<Incident, 'steps' | 'timeline' | 'cancels' | 'damage'>> {
    const [raw, lateRaw] = await Promise.all([store.hgetall(K.cancelRetries(inc.id)), store.hgetall(K.lateOrders(inc.id))]);
    const retried = new Map(Object.values(raw).map((v) => [(JSON.parse(v) as CancelRetry).viaBot, JSON.parse(v) as CancelRetry]));
    if (retried.size === 0) return { steps: inc.steps, timeline: inc.timeline, cancels: inc.cancels, ...(inc.damage ? { damage: inc.damage } : {}) };
    // An account first cancelled for a late order (through another bot than the lockdown's) is added.
    const cancels = [
      ...inc.cancels.map((c) => retried.get(c.viaBot) ?? c),
      ...[...retried.values()].filter((r) => !inc.cancels.some((c) => c.viaBot === r.viaBot)),
    ];
    const late = Object.values(lateRaw).map((v) => JSON.parse(v) as LateOrder);
    const events = [
      ...[...retried.values()]
        .filter((r) => !unconfirmed(r))
        .map((r) => ({
          at: r.at,
          event: 'cancel-all retried: confirmed',
          detail: `${r.account} (via ${r.viaBot}), try ${r.retries}, ${r.cancelled ?? 0} cancelled`,
        })),
      ...late.map((l) => ({
        at: l.at,
        event: `order ${l.ordNo} accepted after the lockdown`,
        detail: `${l.viaBot} ${l.apiId} on ${l.account}: ${l.confirmed ? "the account's open orders cancelled again and confirmed" : 'cancel-all not confirmed; retrying'}`,
      })),
    ];
    return {
      steps: inc.steps.map((s) => (s.step === CANCEL_STEP ? { ...s, ...stepWith(s, [...retried.values()]) } : s)),
      timeline: [...inc.timeline, ...events].sort((a, b) => a.at.localeCompare(b.at)),
      cancels,
      // The damage totals count what the retries cancelled and what is still open.
      ...(inc.damage ? { damage: { ...inc.damage, totals: { ...inc.damage.totals, ...cancelTotals(cancels) } } } : {}),
    };
  }

  return {
    follow,
    acceptedWhileLocked,
    merge,
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      following.clear();
      unconfirmedGauge.set(0);
    },
  };
}

/** Step 3 with each retried account's error replaced by its last try's: done once nothing else failed. */
function stepWith(s: StepTiming, retried: readonly CancelRetry[]): Pick<StepTiming, 'ok' | 'status' | 'errors'> {
  const mine = (e: string) => retried.some((r) => e.startsWith(`${r.account} (via ${r.viaBot}): `));
  const errors = [...s.errors.filter((e) => !mine(e)), ...retried.filter(unconfirmed).map((r) => cancelError(r, `${errorOf(r)} (after ${r.retries} retries)`))];
  const status = errors.length ? 'failed' : 'done';
  return { ok: status === 'done', status, errors };
}
