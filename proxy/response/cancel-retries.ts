// Step 3's cancel-all, tried again until Kiwoom confirms it. A cancel-all that
// could not confirm (Kiwoom down or refusing during the lockdown, a listing
// that failed, orders still open after its rounds) leaves orders live at the
// broker, where they can still fill while the bot is locked. So every
// response.cancel.retryIntervalMs the accounts not confirmed are tried again
// (a fresh listing, cancels, a confirming listing) for at most
// response.cancel.retryForMs, until each is confirmed or the incident is
// unlocked; the key's token is let go after each try. Each account's last try,
// its counts added to the earlier tries', lives in a hash beside the incident
// (never a rewrite of the incident itself, which the lockdown and an unlock
// save meanwhile); a report on any replica merges it with the lockdown's own
// counts, so step 3 turns done once every account is confirmed and the
// incident still counts every order cancelled since the lockdown.
// One replica follows an incident at a time, under a lease in the Store that
// it renews every try; the incidents followed are listed with their deadline
// (response:cancel-pending), and every replica's sweep takes over one whose
// lease was given back (shutdown) or lapsed (crash, Store lost). Each try
// reads from the Store what is still unconfirmed, so the follower sees the
// accounts any replica added.
// An order Kiwoom accepted for a bot already locked down (written before the
// lock flags were set, placed after the cancel-all listed its account: on the
// wire, in Kiwoom's intake, sent by another replica) is caught by the replica
// that forwarded it, from Kiwoom's answer, or from its answer lost (it may be
// placed): its account's cancel-all runs again at once, followed like the
// others, and the incident's timeline names it.
import { randomBytes } from 'node:crypto';
import { maskAccount } from '../common/logger.js';
import { counter, gauge } from '../common/metrics.js';
import { cancelAll, MAX_NAMED_CANCELS, notConfirmedText, type CancelAllReport } from './cancel-all.js';
import { cancelRecorder, type CancelRun } from './cancel-audit.js';
import type { ResponseContext } from './context.js';
import { cancelTotals, type AccountCancel, type Incident, type StepTiming } from './incident.js';
import { K } from './keys.js';

export const CANCEL_STEP = '3 cancel all open orders';

/** One account's cancel-all as it stands after a retry. */
export interface CancelRetry extends AccountCancel {
  /** Tries after the lockdown's own. */
  readonly retries: number;
  readonly at: string;
  /** Cancel records a try could not write to the audit chain (kept once seen; the report's timeline names it). */
  readonly auditError?: string;
}

/**
 * An order or modify Kiwoom accepted, as the replica that forwarded it read the answer, or one written to Kiwoom
 * whose answer was lost (no order number: it may or may not have been placed).
 */
export interface AcceptedOrder {
  readonly botId: string;
  readonly account: string;
  readonly apiId: string;
  /** Kiwoom's order number; absent when the answer was lost. */
  readonly ordNo?: string;
  /** The sidecar's request id, naming an order whose answer was lost. */
  readonly requestId?: string;
}

export interface LateOrder {
  readonly at: string;
  readonly account: string;
  readonly viaBot: string;
  readonly apiId: string;
  /** Kiwoom's order number; absent when the answer was lost. */
  readonly ordNo?: string;
  /** The request whose answer was lost. */
  readonly requestId?: string;
  readonly confirmed: boolean;
}

export interface CancelRetries {
  /** After step 3: follows the accounts whose cancel-all was not confirmed (in the background). */
  follow(inc: Incident): void;
  /** An order Kiwoom accepted (or whose answer was lost) for a bot locked down by incident `id`: its account's cancel-all again, now; what is recorded. */
  acceptedWhileLocked(id: string, o: AcceptedOrder): Promise<LateOrder>;
  /** Step 3, the accounts' cancel records and the timeline as the report shows them. */
  merge(inc: Incident): Promise<Pick<Incident, 'steps' | 'timeline' | 'cancels' | 'damage'>>;
  /** Stops retrying here (shutdown) and gives the leases back, resolving once they are (before the Store closes); what is recorded stays. */
  close(): Promise<void>;
}

/** A step 3 error about one account: it names the bot the cancel-all went through, so a retry can replace it. */
export function cancelError(c: Pick<AccountCancel, 'account' | 'viaBot'>, detail: string): string {
  return `${c.account} (via ${c.viaBot}): ${detail}`;
}

const unconfirmed = (c: AccountCancel): boolean => c.confirmed !== true;

function errorOf(c: AccountCancel): string {
  return c.error ?? notConfirmedText(c);
}

export function createCancelRetries(ctx: ResponseContext): CancelRetries {
  const { opts, cfg, store, logger, now } = ctx;
  const { retryIntervalMs, retryForMs, followLeaseMs } = cfg.cancel;
  // This replica's name on the leases it holds: only for telling its own lease from another's.
  const me = randomBytes(8).toString('hex');
  /** The incidents this replica follows: the next try's timer and how many accounts are still unconfirmed. */
  const loops = new Map<string, { timer?: NodeJS.Timeout; open: number }>();
  let sweeper: NodeJS.Timeout | undefined;
  let closed = false;
  const leasing = new Map<Promise<boolean>, string>(); // lease takes and renewals in flight, by incident: close() awaits them
  const unconfirmedGauge = gauge(
    opts.registry,
    'kguard_lockdown_cancels_unconfirmed',
    "Accounts whose lockdown cancel-all this replica is still retrying (open orders not confirmed cancelled at Kiwoom); see the incident's step 3",
  );
  const takeovers = counter(
    opts.registry,
    'kguard_lockdown_cancel_takeovers_total',
    'Incidents whose cancel-all retries this replica took over after the replica following them stopped (its lease lapsed or was given back)',
  );
  const showOpen = () => unconfirmedGauge.set([...loops.values()].reduce((a, l) => a + l.open, 0));

  /**
   * One more try on the account whose record (the lockdown's own or the last try's) is `c`. The retry record adds
   * this try's counts to the earlier retries' (merge adds the lockdown's own), so the incident says what was cancelled
   * there since the lockdown, not only what the last try found; an order still open at `c`'s end is not listed twice.
   */
  async function once(id: string, c: AccountCancel, run: CancelRun = 'retry', account?: string): Promise<CancelRetry> {
    const at = () => new Date(now()).toISOString();
    const counted = new Set((c.notCancelled ?? []).map((o) => o.ordNo));
    let tried: Partial<CancelAllReport> = {};
    const { vias, account: held } = await viaBots(id, c);
    let sentVia = c.viaBot;
    let auditError: string | undefined;
    for (const via of vias) {
      sentVia = via;
      let through = false;
      const audit = cancelRecorder(ctx, { incidentId: id, run, viaBot: via, account: held ?? account, maskedAccount: c.account });
      try {
        tried = await opts.gateway.withSession(via, (s) => cancelAll(s, cfg.cancel, counted, () => ctx.unlockStarted(id), audit.onSent));
        through = true;
      } catch (err) {
        // Nothing was cancelled (no session, or its first listing failed): the account's next bot may get through.
        const message = (err as Error).message.slice(0, 200);
        tried = { error: vias.length > 1 ? `${via}: ${message}` : message };
      }
      // The token this try used goes now, as after the lockdown's own calls.
      await opts.tokens.revokeOutstanding(via).catch(() => undefined);
      auditError = (await audit.done()) ?? auditError;
      if (through) break;
    }
    // Read after the cancels, which must not wait on (or fail with) the Store.
    const raw = await store.hget(K.cancelRetries(id), c.viaBot).catch(() => null);
    const before = raw ? (JSON.parse(raw) as CancelRetry) : undefined;
    const rec: CancelRetry = {
      account: c.account,
      viaBot: c.viaBot,
      ...(sentVia !== c.viaBot ? { sentVia } : {}),
      ...tried,
      ...sumOf(before, tried),
      retries: (before?.retries ?? 0) + 1,
      at: at(),
      ...((auditError ?? before?.auditError) ? { auditError: auditError ?? before?.auditError } : {}),
    };
    await store.hset(K.cancelRetries(id), c.viaBot, JSON.stringify(rec), cfg.incidentRetentionMs);
    return rec;
  }

  /**
   * The bots a cancel-all on `c`'s account can go through: the one it first went through, then the incident's other
   * bots on that account (one whose key was reissued or record removed during recovery cannot cancel any more).
   */
  async function viaBots(id: string, c: AccountCancel): Promise<{ vias: string[]; account?: string }> {
    const json = await store.get(K.incident(id)).catch(() => null);
    const targets = json ? (JSON.parse(json) as Incident).targets : [];
    const account = targets.find((t) => t.botId === c.viaBot)?.account;
    const others = account ? targets.filter((t) => t.account === account && t.botId !== c.viaBot).map((t) => t.botId) : [];
    return { vias: [c.viaBot, ...others], ...(account ? { account } : {}) };
  }

  async function acceptedWhileLocked(id: string, o: AcceptedOrder): Promise<LateOrder> {
    const c = { account: maskAccount(o.account), viaBot: o.botId };
    logger.error(
      { incidentId: id, botId: o.botId, apiId: o.apiId, ordNo: o.ordNo, requestId: o.requestId },
      o.ordNo
        ? 'Kiwoom accepted an order after the lockdown; cancelling its account again'
        : 'an order written to Kiwoom around the lockdown lost its answer and may be live; cancelling its account again',
    );
    const before = await store.hget(K.cancelRetries(id), o.botId).catch(() => null);
    const rec = await once(id, before ? { ...(JSON.parse(before) as CancelRetry), ...c } : c, 'late-order', o.account);
    const late: LateOrder = {
      at: new Date(now()).toISOString(),
      ...c,
      apiId: o.apiId,
      ...(o.ordNo ? { ordNo: o.ordNo } : { requestId: o.requestId ?? 'unknown' }),
      confirmed: !unconfirmed(rec),
    };
    await store.hset(K.lateOrders(id), o.ordNo ?? `request:${late.requestId}`, JSON.stringify(late), cfg.incidentRetentionMs);
    // Followed like the lockdown's own accounts: here, or by the replica already following the incident.
    if (unconfirmed(rec)) await pend(id, undefined, 1);
    return late;
  }

  /** The lease on following incident `id`: renewed when this replica holds it, taken when nobody does (not once closed). */
  async function holdLease(id: string): Promise<boolean> {
    if (closed) return false;
    const taking = (async () => {
      const holder = await store.get(K.cancelFollower(id));
      if (holder === me) return store.expire(K.cancelFollower(id), followLeaseMs);
      return holder === null && store.setIfAbsent(K.cancelFollower(id), me, followLeaseMs);
    })();
    leasing.set(taking, id);
    return taking.finally(() => leasing.delete(taking));
  }

  async function releaseLease(id: string): Promise<void> {
    if ((await store.get(K.cancelFollower(id))) === me) await store.del(K.cancelFollower(id));
  }

  function stopHere(id: string): void {
    const loop = loops.get(id);
    if (loop?.timer) clearTimeout(loop.timer);
    loops.delete(id);
    showOpen();
  }

  /**
   * Records incident `id` as having accounts to follow (until its deadline, kept in the Store so a replica taking
   * over keeps it) and follows it here unless another replica already does. `local` is the incident as the lockdown
   * that has just run holds it, before it is saved.
   */
  async function pend(id: string, local: Incident | undefined, open: number): Promise<void> {
    if (closed || retryIntervalMs === 0 || loops.has(id)) return;
    loops.set(id, { open });
    showOpen();
    try {
      const known = await store.hget(K.cancelPending, id);
      const until = known !== null && Number.isFinite(Number(known)) ? Number(known) : now() + retryForMs;
      // The lease before the listing: another replica's sweep reading the list in between would take a fresh
      // incident over from the replica just starting to follow it.
      const mine = await holdLease(id);
      await store.hset(K.cancelPending, id, String(until), retryForMs + followLeaseMs);
      if (mine) return schedule(id, until, retryIntervalMs, local);
    } catch (err) {
      logger.error(
        { incidentId: id, err: (err as Error).message },
        'lockdown cancel-all retries not recorded; another replica takes them over once the Store answers',
      );
    }
    stopHere(id);
  }

  function schedule(id: string, until: number, delayMs: number, local?: Incident): void {
    const loop = loops.get(id);
    if (closed || !loop) return;
    loop.timer = setTimeout(() => {
      void tick(id, until, local)
        .catch((err: unknown): 'lost' => {
          logger.warn({ incidentId: id, err: (err as Error).message }, 'lockdown cancel-all retry interrupted (Store); resumed by the sweep');
          return 'lost';
        })
        .then(async (outcome) => {
          if (outcome === 'again') return schedule(id, until, retryIntervalMs, local);
          stopHere(id);
          if (outcome === 'done') await Promise.all([store.hdel(K.cancelPending, id), releaseLease(id)]).catch(() => undefined);
        });
    }, delayMs);
    loop.timer.unref();
  }

  /** One round of retries for incident `id`, if this replica still holds its lease. */
  async function tick(id: string, until: number, local?: Incident): Promise<'again' | 'done' | 'lost'> {
    if (closed || !(await holdLease(id))) return 'lost';
    const json = await store.get(K.incident(id));
    // Before the lockdown has saved it, the incident is the one in hand; a late order's retry may come before the
    // lockdown has saved it at all, so an incident not there yet is looked for again (until the deadline).
    const inc = json ? (JSON.parse(json) as Incident) : local;
    if (!inc) return now() < until ? 'again' : 'done';
    if (inc.status !== 'locked' || (await ctx.unlockStarted(id))) return 'done';
    const left = (await merge(inc)).cancels.filter(unconfirmed);
    if (left.length === 0) return 'done';
    if (now() >= until) {
      logger.error(
        { incidentId: id, accounts: left.map((c) => c.account) },
        'lockdown cancel-all still not confirmed; retries given up (response.cancel.retryForMs): cancel the open orders at Kiwoom by hand',
      );
      return 'done';
    }
    const next = await Promise.all(left.map((c) => once(id, c).catch(() => c)));
    for (const r of next)
      if (unconfirmed(r)) logger.warn({ incidentId: id, account: r.account, viaBot: r.viaBot, error: errorOf(r) }, 'lockdown cancel-all retry not confirmed');
      else logger.warn({ incidentId: id, account: r.account, viaBot: r.viaBot }, 'lockdown cancel-all retry confirmed');
    const open = next.filter(unconfirmed).length;
    const loop = loops.get(id);
    if (loop) loop.open = open;
    showOpen();
    return open > 0 ? 'again' : 'done';
  }

  /** Every replica looks for followed incidents nobody follows any more (lease lapsed or given back) and takes one over. */
  async function sweep(): Promise<void> {
    const pending = await store.hgetall(K.cancelPending);
    for (const [id, until] of Object.entries(pending)) {
      if (closed || loops.has(id) || !Number.isFinite(Number(until))) continue;
      loops.set(id, { open: 0 });
      if (!(await holdLease(id).catch(() => false))) {
        loops.delete(id);
        continue;
      }
      takeovers.inc();
      logger.warn({ incidentId: id }, 'taking over the lockdown cancel-all retries of an incident: the replica following them stopped');
      schedule(id, Number(until), 0);
    }
  }

  function follow(inc: Incident): void {
    const open = inc.cancels.filter(unconfirmed).length;
    if (open > 0) void pend(inc.id, inc, open);
  }

  if (retryIntervalMs > 0) {
    const sweepLater = (): void => {
      sweeper = setTimeout(() => {
        void sweep()
          .catch(() => undefined)
          .finally(() => {
            if (!closed) sweepLater();
          });
      }, retryIntervalMs);
      sweeper.unref();
    };
    sweepLater();
  }

  async function merge(inc: Incident): Promise<Pick<Incident, 'steps' | 'timeline' | 'cancels' | 'damage'>> {
    const [raw, lateRaw] = await Promise.all([store.hgetall(K.cancelRetries(inc.id)), store.hgetall(K.lateOrders(inc.id))]);
    const retried = new Map(Object.values(raw).map((v) => [(JSON.parse(v) as CancelRetry).viaBot, JSON.parse(v) as CancelRetry]));
    if (retried.size === 0) return { steps: inc.steps, timeline: inc.timeline, cancels: inc.cancels, ...(inc.damage ? { damage: inc.damage } : {}) };
    // An account first cancelled for a late order (through another bot than the lockdown's) is added.
    const cancels = [
      ...inc.cancels.map((c) => {
        const r = retried.get(c.viaBot);
        return r ? { ...r, ...sumOf(c, r) } : c;
      }),
      ...[...retried.values()].filter((r) => !inc.cancels.some((c) => c.viaBot === r.viaBot)),
    ];
    const late = Object.values(lateRaw).map((v) => JSON.parse(v) as LateOrder);
    const events = [
      ...[...retried.values()]
        .filter((r) => !unconfirmed(r))
        .map((r) => ({
          at: r.at,
          event: 'cancel-all retried: confirmed',
          detail: `${r.account} (via ${r.viaBot}), try ${r.retries}, ${r.cancelled ?? 0} cancelled by the retries`,
        })),
      ...[...retried.values()].flatMap((r) => (r.auditError ? [{ at: r.at, event: 'audit', detail: r.auditError }] : [])),
      ...late.map((l) => ({
        at: l.at,
        event: l.ordNo ? `order ${l.ordNo} accepted after the lockdown` : `order answer lost after the lockdown (request ${l.requestId})`,
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
    async close() {
      closed = true;
      if (sweeper) clearTimeout(sweeper);
      // Given back at once, so another replica's next sweep takes the retries over (a rolling restart). Awaited, with
      // any take in flight: the Store closes after this, and a lease still held then stays until it lapses.
      const inFlight = [...leasing];
      const ids = new Set([...loops.keys(), ...inFlight.map(([, id]) => id)]);
      for (const id of ids) stopHere(id);
      unconfirmedGauge.set(0);
      await Promise.allSettled(inFlight.map(([taking]) => taking));
      await Promise.all([...ids].map((id) => releaseLease(id).catch(() => undefined)));
    },
  };
}

/** Two runs' counts and cancelled orders on one account added up (either may be absent: a first try, a listing that failed). */
function sumOf(
  a: Partial<CancelAllReport> | undefined,
  b: Partial<CancelAllReport> | undefined,
): Pick<CancelAllReport, 'listed' | 'cancelled' | 'cancelledOrders' | 'rounds' | 'attempts'> {
  const add = (k: 'listed' | 'cancelled' | 'rounds' | 'attempts') => (a?.[k] ?? 0) + (b?.[k] ?? 0);
  const cancelledOrders = [...(a?.cancelledOrders ?? []), ...(b?.cancelledOrders ?? [])].slice(0, MAX_NAMED_CANCELS);
  return { listed: add('listed'), cancelled: add('cancelled'), cancelledOrders, rounds: add('rounds'), attempts: add('attempts') };
}

/** Step 3 with each retried account's error replaced by its last try's: done once nothing else failed. */
function stepWith(s: StepTiming, retried: readonly CancelRetry[]): Pick<StepTiming, 'ok' | 'status' | 'errors'> {
  const mine = (e: string) => retried.some((r) => e.startsWith(`${r.account} (via ${r.viaBot}): `));
  const errors = [...s.errors.filter((e) => !mine(e)), ...retried.filter(unconfirmed).map((r) => cancelError(r, `${errorOf(r)} (after ${r.retries} retries)`))];
  const status = errors.length ? 'failed' : 'done';
  return { ok: status === 'done', status, errors };
}
