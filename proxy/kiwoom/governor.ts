// The call governor: keeps every app key inside Kiwoom's per-key limits
// (5 queries/s, 5 orders/s, ~2 token issues/s) across all bots and replicas
// of that key, so Kiwoom never has to refuse. A slot is taken from a shared
// sliding window in the Store (memory or Redis, atomic, the backend's clock)
// and counts from when the call leaves until windowMs after its answer
// arrived, so network delay can never squeeze a sixth call into Kiwoom's
// window. Waiters queue per key and class: lockdown first, then cancels,
// then everything else, fair between bots (start-time fair queuing); a full
// queue refuses the newest place of a lower priority or of the bot holding the
// most places before it refuses a newcomer (governor-queue.ts).
import { randomBytes } from 'node:crypto';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { GuardError, toGuardError } from '../common/errors.js';
import type { SlotResult, Store } from '../state/types.js';
import type { GovernorLimits } from '../common/kiwoom-limits.js';
import type { AdmitRequest, CallClass, CallPriority, LimitsSetting, Permit } from './governor-types.js';
import { evictee, nextWaiter, type Waiter } from './governor-queue.js';

export { KIWOOM_LIMITS, type GovernorLimits } from '../common/kiwoom-limits.js';
export { classify, type AdmitRequest, type CallClass, type CallPriority, type LimitsSetting, type Permit } from './governor-types.js';

interface Lane {
  readonly key: string;
  readonly cls: CallClass;
  readonly slotKey: string;
  readonly pauseKey: string;
  waiters: Waiter[];
  /** Fair queuing: virtual time and each bot's last finish tag. */
  vtime: number;
  readonly lastTag: Map<string, number>;
  pumping: boolean;
  /** Ends the pump's wait: on a settle (a slot may be free sooner), a waiter with an earlier bound, or close. */
  wake?: (settled?: boolean) => void;
  /** When the sleeping pump looks again (undefined while it runs). */
  wakeAt?: number;
}

const RANK: Record<CallPriority, number> = { lockdown: 0, cancel: 1, normal: 2 };
const NOOP_PERMIT: Permit = {
  settle() {
    /* limits off */
  },
};

export interface GovernorDeps {
  store: Store;
  registry: Registry;
  logger: Logger;
}

export class Governor {
  private readonly lanes = new Map<string, Lane>();
  private seq = 0;
  private readonly slotIdPrefix = randomBytes(8).toString('hex');
  private slotCounter = 0;
  private closed = false;
  private readonly waitSeconds: Histogram<'class'>;
  private readonly refused: Counter<'class' | 'reason'>;
  private readonly pauses: Counter<'class'>;

  constructor(
    private readonly limits: LimitsSetting,
    private readonly deps: GovernorDeps,
  ) {
    const registers = [deps.registry];
    this.waitSeconds = new Histogram({
      name: 'kguard_governor_wait_seconds',
      help: "Time calls waited for a slot inside Kiwoom's per-key limits",
      labelNames: ['class'],
      registers,
      buckets: [0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30],
    });
    this.refused = new Counter({
      name: 'kguard_governor_refused_total',
      help: "Calls the governor refused (wait: no slot within the class's wait bound; queue: queue full; lockdown; store: state unavailable)",
      labelNames: ['class', 'reason'],
      registers,
    });
    this.pauses = new Counter({
      name: 'kguard_governor_pauses_total',
      help: "Times a key's class was paused after Kiwoom refused for rate",
      labelNames: ['class'],
      registers,
    });
    const self = this;
    new Gauge({
      name: 'kguard_governor_queued',
      help: 'Calls waiting for a slot',
      labelNames: ['class'],
      registers,
      collect() {
        this.reset();
        for (const l of self.lanes.values()) if (l.waiters.length) this.inc({ class: l.cls }, l.waiters.length);
      },
    });
  }

  get enabled(): boolean {
    return this.limits !== 'off';
  }

  /**
   * How long until Kiwoom's issue limit would allow another issue for the
   * key, judged from the issues this replica made (most recent first is
   * fine; any order). 0 when an issue would be allowed now.
   */
  issueRoomInMs(issuedAt: readonly number[], now = Date.now()): number {
    if (this.limits === 'off') return 0;
    const { windowMs, tokenIssuesPerSecond: limit } = this.limits;
    const recent = issuedAt.filter((t) => t > now - windowMs).sort((a, b) => a - b);
    if (recent.length < limit) return 0;
    return recent[recent.length - limit]! + windowMs - now;
  }

  /** Waits for a slot of the key's class; throws KG5006 (with retry-after) when none comes within the class's bound. */
  admit(req: AdmitRequest): Promise<Permit> {
    if (this.closed) return Promise.reject(new GuardError('KG9002'));
    if (this.limits === 'off') return Promise.resolve(NOOP_PERMIT);
    const limits = this.limits;
    if (req.signal?.aborted) return Promise.reject(new GuardError('KG5002', 'bot disconnected'));
    const lane = this.lane(req.key, req.cls);
    if (lane.waiters.length >= limits.maxQueuePerKey) {
      this.refused.inc({ class: req.cls, reason: 'queue' });
      // A lower-priority waiter, or one of a bot holding far more places, gives up its place instead.
      const victim = evictee(lane.waiters, req.botId, RANK[req.priority]);
      if (!victim) return Promise.reject(limitError(limits.windowMs, 'queue full'));
      this.refuse(lane, victim, limitError(limits.windowMs, 'queue full'));
      this.drop(lane, victim);
    }
    const now = Date.now();
    const start = Math.max(lane.vtime, lane.lastTag.get(req.botId) ?? 0);
    const tag = start + 1;
    lane.lastTag.set(req.botId, tag);
    return new Promise<Permit>((resolve, reject) => {
      const onAbort = () => {
        this.refuse(lane, w, new GuardError('KG5002', 'bot disconnected'));
        this.drop(lane, w);
      };
      const w: Waiter = {
        botId: req.botId,
        rank: RANK[req.priority],
        tag,
        seq: this.seq++,
        enqueuedAt: now,
        deadline: now + this.maxWait(req.cls, req.priority),
        done: false,
        sawFull: false,
        resolve: (p) => {
          if (w.done) return;
          w.done = true;
          req.signal?.removeEventListener('abort', onAbort);
          this.waitSeconds.observe({ class: req.cls }, (Date.now() - now) / 1000);
          resolve(p);
        },
        reject: (e) => {
          if (w.done) return;
          w.done = true;
          req.signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      lane.waiters.push(w);
      // A waiter whose bound ends before the pump's next look must be judged in time.
      if (lane.wakeAt !== undefined && w.deadline < lane.wakeAt) lane.wake?.(true);
      void this.pump(lane);
    });
  }

  /** Calls of this key waiting for a slot: they will need the key's token in a moment. */
  waiting(key: string): number {
    let n = 0;
    for (const cls of ['query', 'order'] as const) n += this.lanes.get(`${key}:${cls}`)?.waiters.length ?? 0;
    return n;
  }

  /** Drops the key's lanes nothing waits in (the key idle for long: session-cadence.ts forgetIdleKeys): fairness tags matter only while calls queue. */
  forget(key: string): void {
    for (const cls of ['token', 'query', 'order'] as const) {
      const lane = this.lanes.get(`${key}:${cls}`);
      if (lane && lane.waiters.length === 0 && !lane.pumping) this.lanes.delete(`${key}:${cls}`);
    }
  }

  /** Kiwoom refused a call of this class for rate: no slot for refusalPauseMs, on every replica. */
  async refusedUpstream(key: string, cls: CallClass): Promise<void> {
    if (this.limits === 'off') return;
    this.pauses.inc({ class: cls });
    await this.deps.store
      .pauseSlots(this.lane(key, cls).pauseKey, this.limits.refusalPauseMs)
      .catch((err) => this.deps.logger.warn({ code: toGuardError(err).code }, 'governor pause not recorded'));
  }

  /** Refuses queued calls that match (lockdown: the locked bots' waiting orders must not go out). Lockdown's own calls stay. */
  rejectQueued(match: (botId: string) => boolean, err: GuardError): number {
    let total = 0;
    for (const lane of this.lanes.values()) {
      let n = 0;
      for (const w of lane.waiters) {
        if (w.rank !== RANK.lockdown && match(w.botId)) {
          this.refuse(lane, w, err);
          n++;
        }
      }
      lane.waiters = lane.waiters.filter((w) => !w.done);
      if (n) this.refused.inc({ class: lane.cls, reason: 'lockdown' }, n);
      total += n;
    }
    return total;
  }

  close(): void {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const w of lane.waiters) this.refuse(lane, w, new GuardError('KG9002'));
      lane.waiters = [];
      lane.wake?.();
    }
  }

  private maxWait(cls: CallClass, priority: CallPriority): number {
    const l = this.limits as GovernorLimits;
    if (priority === 'lockdown') return l.lockdownMaxWaitMs;
    if (cls === 'token') return l.tokenMaxWaitMs;
    if (cls === 'query') return l.queryMaxWaitMs;
    return priority === 'cancel' ? l.cancelMaxWaitMs : l.orderMaxWaitMs;
  }

  private lane(key: string, cls: CallClass): Lane {
    const id = `${key}:${cls}`;
    let lane = this.lanes.get(id);
    if (!lane) {
      // One hash tag per key: the window and its pause flag live in one Cluster slot.
      lane = { key, cls, slotKey: `{gov:${key}}:${cls}`, pauseKey: `{gov:${key}}:${cls}:pause`, waiters: [], vtime: 0, lastTag: new Map(), pumping: false };
      this.lanes.set(id, lane);
    }
    return lane;
  }

  private drop(lane: Lane, w: Waiter): void {
    const i = lane.waiters.indexOf(w);
    if (i >= 0) lane.waiters.splice(i, 1);
  }

  private next(lane: Lane): Waiter | undefined {
    return nextWaiter(lane.waiters);
  }

  private limitFor(cls: CallClass): number {
    const l = this.limits as GovernorLimits;
    return cls === 'query' ? l.queriesPerSecond : cls === 'order' ? l.ordersPerSecond : l.tokenIssuesPerSecond;
  }

  /** Refuses a waiter that never got a slot and gives its bot back its place in the fair queue. */
  private refuse(lane: Lane, w: Waiter, err: unknown): void {
    if (w.done) return;
    w.reject(err);
    // The bot's next call queues behind its calls still waiting, not behind the refused one.
    let last = lane.vtime;
    for (const x of lane.waiters) if (!x.done && x.botId === w.botId) last = Math.max(last, x.tag);
    lane.lastTag.set(w.botId, Math.min(lane.lastTag.get(w.botId) ?? last, last));
  }

  private async pump(lane: Lane): Promise<void> {
    if (lane.pumping) return;
    lane.pumping = true;
    const l = this.limits as GovernorLimits;
    // The store's retry-after counts slots still in flight as taken until their hold time; it is an
    // upper bound, so it only sets how long to sleep, never whether a waiter is refused early.
    let lastRetryMs = l.windowMs;
    try {
      while (lane.waiters.length > 0 && !this.closed) {
        const now = Date.now();
        for (const w of lane.waiters) {
          // Every waiter is asked for at least once (a max wait of 0 means "only if free now"), however
          // late the pump runs on a busy machine.
          if (w.sawFull && w.deadline < now) {
            this.refused.inc({ class: lane.cls, reason: 'wait' });
            this.refuse(lane, w, limitError(Math.min(lastRetryMs, l.windowMs), 'no slot within the wait bound'));
          }
        }
        lane.waiters = lane.waiters.filter((w) => !w.done);
        const w = this.next(lane);
        if (!w) break;
        const id = this.seqId();
        let result: SlotResult;
        try {
          result = await this.deps.store.takeSlot({
            key: lane.slotKey,
            pauseKey: lane.pauseKey,
            limit: this.limitFor(lane.cls),
            windowMs: l.windowMs,
            holdMs: l.holdMs,
            id,
          });
        } catch (err) {
          // No shared window, no way to stay inside Kiwoom's limits: fail closed. A hung Redis still runs
          // the take when it wakes: that slot is no call's, so it is settled like an answered one.
          this.settle(lane, id);
          const g = toGuardError(err);
          this.deps.logger.error({ code: g.code, class: lane.cls }, 'governor cannot reach its window; calls refused');
          for (const x of lane.waiters) {
            this.refused.inc({ class: lane.cls, reason: 'store' });
            this.refuse(lane, x, g.code === 'KG9001' ? new GuardError('KG7001', 'governor window', { cause: err }) : g);
          }
          lane.waiters = [];
          break;
        }
        if (result.granted) {
          // The chosen waiter may have left while the slot was taken: give it to the next one.
          const taker = w.done ? this.next(lane) : w;
          const permit = this.permit(lane, id);
          if (!taker || taker.done) {
            permit.settle();
            continue;
          }
          this.drop(lane, taker);
          lane.vtime = Math.max(lane.vtime, taker.tag - 1);
          taker.resolve(permit);
          continue;
        }
        lastRetryMs = result.retryAfterMs;
        for (const x of lane.waiters) x.sawFull = true;
        if (lane.waiters.every((x) => x.done)) break;
        // Look again when a slot may be free, when the first waiter's bound ends, or at once when a
        // local call is answered; a peer replica's answer is seen within one window at most.
        const firstDeadline = Math.min(...lane.waiters.map((x) => x.deadline));
        const sleepMs = Math.max(1, Math.min(result.retryAfterMs, l.windowMs, firstDeadline - Date.now() + 1));
        lane.wakeAt = Date.now() + sleepMs;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            lane.wake = undefined;
            resolve();
          }, sleepMs);
          lane.wake = (now) => {
            if (now || this.closed) {
              clearTimeout(timer);
              lane.wake = undefined;
              resolve();
            }
          };
        });
        lane.wakeAt = undefined;
      }
    } finally {
      lane.pumping = false;
      lane.wakeAt = undefined;
      if (lane.waiters.length === 0 && lane.lastTag.size > 1_000) lane.lastTag.clear();
    }
  }

  /** Unique across replicas (every pod may be pid 1): a random prefix drawn once, then a counter. */
  private seqId(): string {
    return `${this.slotIdPrefix}.${(this.slotCounter++).toString(36)}`;
  }

  private permit(lane: Lane, id: string): Permit {
    let settled = false;
    return {
      settle: () => {
        if (settled) return;
        settled = true;
        this.settle(lane, id);
      },
    };
  }

  /**
   * The slot's call was answered, or never left: it frees windowMs from now. Settling only ever lowers a
   * stamp, so a failed attempt is tried again (backing off) until the slot would have lapsed anyway at
   * holdMs: a slot left unsettled by a Redis hiccup would keep 1/limit of the key's window for holdMs.
   */
  private settle(lane: Lane, id: string, delayMs = 0, until = Date.now() + (this.limits as GovernorLimits).holdMs): void {
    const { windowMs } = this.limits as GovernorLimits;
    this.deps.store.settleSlot(lane.slotKey, id, windowMs).then(
      () => lane.wake?.(true),
      (err) => {
        const next = Math.max(windowMs, delayMs * 2);
        if (delayMs === 0) this.deps.logger.warn({ code: toGuardError(err).code }, 'governor slot not settled; trying again');
        if (!this.closed && Date.now() + next < until) setTimeout(() => this.settle(lane, id, next, until), next).unref();
      },
    );
  }
}

function limitError(retryAfterMs: number, detail: string): GuardError {
  return new GuardError('KG5006', detail, { headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) }, retryAfterMs, kiwoom: '1700' });
}
