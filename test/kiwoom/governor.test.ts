// The call governor (proxy/kiwoom/governor.ts) on a real memory store:
// admits inside the per-key window, refusals with retry-after, priorities
// (lockdown > cancel > normal), start-time fair queuing between bots, the
// queue bound, lockdown's rejectQueued, aborts, Kiwoom's refusal pause,
// limits 'off', issueRoomInMs, per-key windows, close(), and the config
// that feeds it (governorLimits, upstream.limits, the removed brokerTokens keys).
//
// No wall-clock bounds are asserted: outcomes are checked by the order of
// events, and "still waiting" is checked on a store whose clock only moves
// when the test moves it, after the governor has polled the store again
// (the probe below counts takeSlot answers).
import t from 'tap';
import type { Test } from 'tap';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { Governor, KIWOOM_LIMITS, classify, type GovernorLimits, type LimitsSetting, type Permit } from '../../proxy/kiwoom/governor.js';
import { createMemoryStore, type Store } from '../../proxy/state/index.js';
import { GuardError, isGuardError } from '../../proxy/common/errors.js';
import { ConfigError, governorLimits, loadConfig } from '../../proxy/common/config.js';

const logger = pino({ level: 'silent' });
/** Generous: only ever reached when something is broken. */
const DEADLINE_MS = 20_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs = DEADLINE_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Small window, long waits: nothing is refused for time unless a test asks for it. */
function limits(over: Partial<GovernorLimits> = {}): GovernorLimits {
  return {
    ...KIWOOM_LIMITS,
    windowMs: 200,
    holdMs: 60_000,
    queryMaxWaitMs: 120_000,
    orderMaxWaitMs: 120_000,
    cancelMaxWaitMs: 120_000,
    lockdownMaxWaitMs: 120_000,
    tokenMaxWaitMs: 120_000,
    refusalPauseMs: 300,
    ...over,
  };
}

function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

interface Take {
  readonly key: string;
  readonly granted: boolean;
  readonly retryAfterMs: number;
}

/** The store with every takeSlot answer recorded (the governor's polls). */
function probe(inner: Store): { store: Store; takes: Take[] } {
  const takes: Take[] = [];
  const store: Store = {
    ...inner,
    takeSlot: async (req) => {
      const r = await inner.takeSlot(req);
      takes.push({ key: req.key, granted: r.granted, retryAfterMs: r.retryAfterMs });
      return r;
    },
  };
  return { store, takes };
}

function rig(t: Test, lim: LimitsSetting, clock?: () => number) {
  const inner = createMemoryStore(clock ? { now: clock } : {});
  const { store, takes } = probe(inner);
  const registry = new Registry();
  const gov = new Governor(lim, { store, registry, logger });
  const events: string[] = [];
  t.teardown(async () => {
    gov.close();
    await inner.close();
  });
  /** Waits until the governor has polled the window `n` more times (at least one poll saw the state as it is now). */
  const polls = async (n: number, slotKey?: string): Promise<void> => {
    const from = takes.length;
    await waitFor(`${n} polls`, () => takes.slice(from).filter((x) => !slotKey || x.key === slotKey).length >= n);
  };
  return { gov, store, inner, takes, registry, events, polls };
}

const slotKey = (key: string, cls: string) => `{gov:${key}}:${cls}`;
const pauseKey = (key: string, cls: string) => `{gov:${key}}:${cls}:pause`;

/** One admit, watched: its outcome lands in `events` as 'name' (granted) or 'name!' (refused). */
class Call {
  state: 'pending' | 'granted' | 'refused' = 'pending';
  permit: Permit | undefined;
  error: unknown;
  readonly done: Promise<void>;
  constructor(
    readonly name: string,
    p: Promise<Permit>,
    events: string[],
    onGrant?: (c: Call) => void,
  ) {
    this.done = p.then(
      (permit) => {
        this.state = 'granted';
        this.permit = permit;
        events.push(name);
        onGrant?.(this);
      },
      (err: unknown) => {
        this.state = 'refused';
        this.error = err;
        events.push(`${name}!`);
      },
    );
  }

  get code(): string | undefined {
    return isGuardError(this.error) ? this.error.code : undefined;
  }

  get retryAfter(): string | undefined {
    return isGuardError(this.error) ? this.error.headers?.['retry-after'] : undefined;
  }

  settle(): void {
    if (!this.permit) throw new Error(`${this.name} holds no permit`);
    this.permit.settle();
  }
}

const settleAtOnce = (c: Call) => c.settle();

async function refusedTotal(registry: Registry, reason: string): Promise<number> {
  const metric = registry.getSingleMetric('kguard_governor_refused_total');
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
}

t.test('classify: class and priority of a call kind', async (t) => {
  t.same(classify('query'), { cls: 'query', priority: 'normal' });
  t.same(classify('account'), { cls: 'query', priority: 'normal' });
  t.same(classify(undefined), { cls: 'query', priority: 'normal' });
  t.same(classify('order'), { cls: 'order', priority: 'normal' });
  t.same(classify('modify'), { cls: 'order', priority: 'normal' });
  t.same(classify('cancel'), { cls: 'order', priority: 'cancel' });
  t.same(classify('cancel', true), { cls: 'order', priority: 'lockdown' });
  t.same(classify('query', true), { cls: 'query', priority: 'lockdown' });
});

t.test('queriesPerSecond admits at once; the next waits for a settle, then is granted', async (t) => {
  const { gov, events } = rig(t, limits({ queriesPerSecond: 3 }));
  const req = (botId: string) => ({ key: 'k1', cls: 'query' as const, priority: 'normal' as const, botId });
  const first = ['a', 'b', 'c'].map((n) => new Call(n, gov.admit(req('bot')), events));
  await Promise.all(first.map((c) => c.done));
  t.same(
    first.map((c) => c.state),
    ['granted', 'granted', 'granted'],
    'queriesPerSecond admits granted without waiting',
  );
  const d = new Call('d', gov.admit(req('bot')), events);
  // The three calls are in flight (unsettled): their slots count as taken for holdMs (60 s).
  await sleep(3 * 200);
  t.equal(d.state, 'pending', 'the fourth waits while the window holds three calls in flight');
  t.equal(gov.waiting('k1'), 1);
  events.push('settle a');
  first[0]!.settle();
  first[0]!.settle(); // idempotent
  await waitFor('d granted', () => d.state !== 'pending');
  t.equal(d.state, 'granted');
  t.same(events, ['a', 'b', 'c', 'settle a', 'd'], 'the fourth is granted only after a permit was settled');
  t.equal(gov.waiting('k1'), 0);
});

t.test('a settled slot frees exactly one window after its answer (store clock)', async (t) => {
  const clock = fakeClock();
  const { gov, events, polls } = rig(t, limits({ queriesPerSecond: 2 }), clock.now);
  const req = { key: 'k1', cls: 'query' as const, priority: 'normal' as const, botId: 'bot' };
  const a = new Call('a', gov.admit(req), events);
  const b = new Call('b', gov.admit(req), events);
  await Promise.all([a.done, b.done]);
  const c = new Call('c', gov.admit(req), events);
  await polls(2);
  t.equal(c.state, 'pending', 'window full of calls in flight');
  clock.advance(1_000);
  await polls(2);
  t.equal(c.state, 'pending', 'an unsettled call holds its slot past the window (holdMs)');
  events.push('settle a');
  a.settle();
  await polls(2);
  t.equal(c.state, 'pending', 'settled but its window has not passed');
  clock.advance(199);
  await polls(2);
  t.equal(c.state, 'pending', 'one millisecond before the window passes');
  events.push('window passed');
  clock.advance(1);
  await waitFor('c granted', () => c.state !== 'pending');
  t.same(events, ['a', 'b', 'settle a', 'window passed', 'c']);
});

t.test('a waiter whose max wait ends before a slot frees is refused with KG5006 and retry-after', async (t) => {
  t.test('refused when its bound ends while the slot is still in flight', async (t) => {
    const clock = fakeClock();
    const { gov, events, registry } = rig(t, limits({ queriesPerSecond: 1, queryMaxWaitMs: 1_000 }), clock.now);
    const req = { key: 'k1', cls: 'query' as const, priority: 'normal' as const, botId: 'bot' };
    const a = new Call('a', gov.admit(req), events);
    await a.done;
    // a is in flight: the store can only say its slot frees holdMs + windowMs from now at the latest;
    // a may be answered any moment, so b waits out its bound instead of being refused at once.
    const b = new Call('b', gov.admit(req), events);
    await waitFor('b refused', () => b.state !== 'pending');
    t.equal(b.state, 'refused');
    t.ok(b.error instanceof GuardError, 'a GuardError');
    t.equal(b.code, 'KG5006');
    t.match(b.retryAfter, /^\d+$/, 'retry-after in whole seconds');
    t.equal(b.retryAfter, '1', 'retry-after: at most one window (the slot in flight may free any moment)');
    t.equal(await refusedTotal(registry, 'wait'), 1, 'counted as refused for wait');
    t.equal(gov.waiting('k1'), 0, 'the refused waiter left the queue');
  });

  t.test('refused when its bound lapses while the window stays full', async (t) => {
    const clock = fakeClock(); // frozen: the settled slot never leaves the window
    const { gov, events } = rig(t, limits({ queriesPerSecond: 1, queryMaxWaitMs: 600 }), clock.now);
    const req = { key: 'k1', cls: 'query' as const, priority: 'normal' as const, botId: 'bot' };
    const a = new Call('a', gov.admit(req), events);
    await a.done;
    a.settle();
    const b = new Call('b', gov.admit(req), events);
    await waitFor('b refused', () => b.state !== 'pending');
    t.equal(b.code, 'KG5006');
    t.match(b.retryAfter, /^\d+$/);
    t.same(events, ['a', 'b!'], 'never granted: no slot freed');
  });
});

t.test('priority: lockdown, then cancels, then new orders, whatever the arrival order', async (t) => {
  const { gov, events } = rig(t, limits({ ordersPerSecond: 1, windowMs: 100 }));
  const req = (priority: 'lockdown' | 'cancel' | 'normal', botId: string) => ({ key: 'k1', cls: 'order' as const, priority, botId });
  const filler = new Call('filler', gov.admit(req('normal', 'x')), events);
  await filler.done;
  t.equal(filler.state, 'granted');
  const calls = [
    new Call('normal1', gov.admit(req('normal', 'b1')), events, settleAtOnce),
    new Call('cancel1', gov.admit(req('cancel', 'b2')), events, settleAtOnce),
    new Call('normal2', gov.admit(req('normal', 'b3')), events, settleAtOnce),
    new Call('lockdown', gov.admit(req('lockdown', 'lock')), events, settleAtOnce),
    new Call('cancel2', gov.admit(req('cancel', 'b4')), events, settleAtOnce),
  ];
  t.equal(gov.waiting('k1'), 5, 'all five queue behind the call in flight');
  events.push('settle filler');
  filler.settle();
  await waitFor('all granted', () => calls.every((c) => c.state !== 'pending'));
  t.same(events, ['filler', 'settle filler', 'lockdown', 'cancel1', 'cancel2', 'normal1', 'normal2']);
});

t.test("fairness: a bot that queued later is not served after all of an earlier bot's calls", async (t) => {
  const { gov, events } = rig(t, limits({ queriesPerSecond: 1, windowMs: 100 }));
  const req = (botId: string) => ({ key: 'k1', cls: 'query' as const, priority: 'normal' as const, botId });
  const filler = new Call('x', gov.admit(req('x')), events);
  await filler.done;
  const calls: Call[] = [];
  for (let i = 1; i <= 6; i++) calls.push(new Call(`A${i}`, gov.admit(req('A')), events, settleAtOnce));
  for (let i = 1; i <= 2; i++) calls.push(new Call(`B${i}`, gov.admit(req('B')), events, settleAtOnce));
  t.equal(gov.waiting('k1'), 8);
  filler.settle();
  await waitFor('all granted', () => calls.every((c) => c.state !== 'pending'));
  const order = events.slice(1);
  t.equal(order.length, 8, 'every call granted');
  t.notOk(
    order.some((e) => e.endsWith('!')),
    'none refused',
  );
  const firstB = order.indexOf('B1');
  const lastB = order.indexOf('B2');
  const lastA = order.indexOf('A6');
  t.ok(firstB < lastA, `B's first grant comes before A's last (${order.join(' ')})`);
  t.ok(lastB < order.indexOf('A3'), `both of B's calls are served before A's third (${order.join(' ')})`);
  t.same(
    order.filter((e) => e.startsWith('A')),
    ['A1', 'A2', 'A3', 'A4', 'A5', 'A6'],
    "a bot's own calls keep their order",
  );
  t.same(order, ['A1', 'B1', 'A2', 'B2', 'A3', 'A4', 'A5', 'A6'], 'start-time fair queuing interleaves the two bots');
});

t.test('maxQueuePerKey: beyond it admit is refused at once with KG5006', async (t) => {
  const { gov, events, registry } = rig(t, limits({ queriesPerSecond: 1, maxQueuePerKey: 2 }));
  const req = (botId: string) => ({ key: 'k1', cls: 'query' as const, priority: 'normal' as const, botId });
  const filler = new Call('filler', gov.admit(req('x')), events);
  await filler.done;
  const q1 = new Call('q1', gov.admit(req('a')), events, settleAtOnce);
  const q2 = new Call('q2', gov.admit(req('b')), events, settleAtOnce);
  const over = new Call('over', gov.admit(req('c')), events);
  await over.done;
  t.equal(over.code, 'KG5006', 'the third waiter is refused');
  t.match(over.retryAfter, /^\d+$/);
  t.same(events, ['filler', 'over!'], 'refused while the two queued calls still wait');
  t.equal(gov.waiting('k1'), 2);
  t.equal(await refusedTotal(registry, 'queue'), 1, 'counted as refused for queue');
  // Another class of the same key has its own queue.
  const order = new Call('order', gov.admit({ key: 'k1', cls: 'order', priority: 'normal', botId: 'c' }), events, settleAtOnce);
  await order.done;
  t.equal(order.state, 'granted');
  filler.settle();
  await waitFor('queued granted', () => q1.state !== 'pending' && q2.state !== 'pending');
  t.equal(q1.state, 'granted');
  t.equal(q2.state, 'granted');
});

t.test("rejectQueued: the matching bot's queued calls are refused with the error given; lockdown's own calls stay", async (t) => {
  const { gov, events, registry } = rig(t, limits({ ordersPerSecond: 1, windowMs: 100 }));
  const req = (priority: 'lockdown' | 'cancel' | 'normal', botId: string) => ({ key: 'k1', cls: 'order' as const, priority, botId });
  const filler = new Call('filler', gov.admit(req('normal', 'A')), events);
  await filler.done;
  const a1 = new Call('A-normal1', gov.admit(req('normal', 'A')), events, settleAtOnce);
  const b1 = new Call('B-normal', gov.admit(req('normal', 'B')), events, settleAtOnce);
  const a2 = new Call('A-normal2', gov.admit(req('normal', 'A')), events, settleAtOnce);
  const aCancel = new Call('A-cancel', gov.admit(req('cancel', 'A')), events, settleAtOnce);
  const aLock = new Call('A-lockdown', gov.admit(req('lockdown', 'A')), events, settleAtOnce);
  t.equal(gov.waiting('k1'), 5);
  const err = new GuardError('KG3008');
  const n = gov.rejectQueued((botId) => botId === 'A', err);
  t.equal(n, 3, "A's two new orders and its cancel");
  await Promise.all([a1.done, a2.done, aCancel.done]);
  for (const c of [a1, a2, aCancel]) t.equal(c.error, err, `${c.name} refused with the error given`);
  t.equal(gov.waiting('k1'), 2, "B's call and A's lockdown call stay queued");
  t.equal(b1.state, 'pending');
  t.equal(aLock.state, 'pending');
  t.equal(await refusedTotal(registry, 'lockdown'), 3, 'counted as refused for lockdown');
  t.equal(
    gov.rejectQueued(() => false, err),
    0,
    'no match, nothing refused',
  );
  filler.settle();
  await waitFor('kept calls granted', () => b1.state !== 'pending' && aLock.state !== 'pending');
  t.same(
    events.filter((e) => !e.endsWith('!')),
    ['filler', 'A-lockdown', 'B-normal'],
    'the kept calls are served, lockdown first',
  );
});

t.test('an aborted signal refuses the waiter with KG5002 and frees its place', async (t) => {
  const { gov, events } = rig(t, limits({ queriesPerSecond: 1, maxQueuePerKey: 1 }));
  const req = (botId: string, signal?: AbortSignal) => ({
    key: 'k1',
    cls: 'query' as const,
    priority: 'normal' as const,
    botId,
    ...(signal ? { signal } : {}),
  });

  const early = new Call('early', gov.admit(req('a', AbortSignal.abort())), events);
  await early.done;
  t.equal(early.code, 'KG5002', 'already aborted: refused at once');

  const filler = new Call('filler', gov.admit(req('x')), events);
  await filler.done;
  const ac = new AbortController();
  const w1 = new Call('w1', gov.admit(req('a', ac.signal)), events, settleAtOnce);
  const full = new Call('full', gov.admit(req('b')), events);
  await full.done;
  t.equal(full.code, 'KG5006', 'the queue (1) is full');
  ac.abort();
  await w1.done;
  t.equal(w1.state, 'refused');
  t.equal(w1.code, 'KG5002');
  t.equal(gov.waiting('k1'), 0, 'its place is free');
  const w3 = new Call('w3', gov.admit(req('b')), events, settleAtOnce);
  t.equal(gov.waiting('k1'), 1, 'another call takes the place');
  events.push('settle filler');
  filler.settle();
  await w3.done;
  t.equal(w3.state, 'granted');
  t.same(events, ['early!', 'filler', 'full!', 'w1!', 'settle filler', 'w3'], 'the aborted waiter never got a slot');
});

t.test("refusedUpstream pauses the key's class until the pause ends", async (t) => {
  const clock = fakeClock();
  const { gov, store, events, polls } = rig(t, limits({ queriesPerSecond: 5, refusalPauseMs: 300 }), clock.now);
  const req = (key: string, cls: 'query' | 'order') => ({ key, cls, priority: 'normal' as const, botId: 'bot' });
  await gov.refusedUpstream('k1', 'query');
  t.equal(await store.get(pauseKey('k1', 'query')), '1', 'the pause is recorded in the store');
  const a = new Call('a', gov.admit(req('k1', 'query')), events, settleAtOnce);
  await polls(2, slotKey('k1', 'query'));
  t.equal(a.state, 'pending', 'no slot while paused, though the window is empty');

  const other = new Call('order', gov.admit(req('k1', 'order')), events, settleAtOnce);
  const otherKey = new Call('k2', gov.admit(req('k2', 'query')), events, settleAtOnce);
  await Promise.all([other.done, otherKey.done]);
  t.equal(other.state, 'granted', 'the other class of the key is not paused');
  t.equal(otherKey.state, 'granted', 'another key is not paused');

  clock.advance(299);
  await polls(2, slotKey('k1', 'query'));
  t.equal(a.state, 'pending', 'one millisecond before the pause ends');
  t.equal(await store.get(pauseKey('k1', 'query')), '1');
  events.push('pause over');
  clock.advance(1);
  t.equal(await store.get(pauseKey('k1', 'query')), null, 'the pause key expired');
  await waitFor('a granted', () => a.state !== 'pending');
  t.same(events, ['order', 'k2', 'pause over', 'a']);
});

t.test('refusedUpstream does not throw when the store cannot record the pause', async (t) => {
  const inner = createMemoryStore();
  const store: Store = {
    ...inner,
    pauseSlots: async () => {
      throw new GuardError('KG7001', 'down');
    },
  };
  const gov = new Governor(limits(), { store, registry: new Registry(), logger });
  t.teardown(async () => {
    gov.close();
    await inner.close();
  });
  await t.resolves(gov.refusedUpstream('k1', 'query'));
});

t.test('a store that cannot take slots fails closed with KG7001', async (t) => {
  const inner = createMemoryStore();
  const store: Store = {
    ...inner,
    takeSlot: async () => {
      throw new Error('connection reset');
    },
  };
  const gov = new Governor(limits(), { store, registry: new Registry(), logger });
  t.teardown(async () => {
    gov.close();
    await inner.close();
  });
  const events: string[] = [];
  const a = new Call('a', gov.admit({ key: 'k1', cls: 'query', priority: 'normal', botId: 'bot' }), events);
  await a.done;
  t.equal(a.code, 'KG7001', 'an unknown failure becomes KG7001');
  const down: Store = {
    ...inner,
    takeSlot: async () => {
      throw new GuardError('KG7001', 'redis down');
    },
  };
  const gov2 = new Governor(limits(), { store: down, registry: new Registry(), logger });
  t.teardown(() => gov2.close());
  const b = new Call('b', gov2.admit({ key: 'k1', cls: 'order', priority: 'lockdown', botId: 'bot' }), events);
  await b.done;
  t.equal(b.code, 'KG7001');
  t.equal(gov2.waiting('k1'), 0);
});

t.test('limits off: every admit resolves at once; issueRoomInMs is 0', async (t) => {
  const { gov, takes, store } = rig(t, 'off');
  t.equal(gov.enabled, false);
  let immediate = false;
  const tick = new Promise<void>((resolve) =>
    setImmediate(() => {
      immediate = true;
      resolve();
    }),
  );
  const permits = await Promise.all(
    Array.from({ length: 50 }, (_, i) => gov.admit({ key: 'k1', cls: i % 2 ? 'order' : 'query', priority: 'normal', botId: 'bot' })),
  );
  t.equal(immediate, false, 'all 50 resolved before the next macrotask');
  await tick;
  for (const p of permits) p.settle();
  t.equal(takes.length, 0, 'the store is never asked');
  const now = Date.now();
  t.equal(gov.issueRoomInMs([now, now - 1, now - 2, now - 3], now), 0);
  t.equal(gov.issueRoomInMs([]), 0);
  await gov.refusedUpstream('k1', 'query');
  t.equal(await store.get(pauseKey('k1', 'query')), null, 'no pause with limits off');
  t.equal(gov.waiting('k1'), 0);
  gov.close();
  await t.rejects(gov.admit({ key: 'k1', cls: 'query', priority: 'normal', botId: 'bot' }), { code: 'KG9002' }, 'closed still refuses');
});

t.test('issueRoomInMs follows tokenIssuesPerSecond within windowMs', async (t) => {
  const { gov } = rig(t, limits({ tokenIssuesPerSecond: 2, windowMs: 1_000 }));
  t.equal(gov.enabled, true);
  const now = 10_000;
  t.equal(gov.issueRoomInMs([], now), 0, 'no issues');
  t.equal(gov.issueRoomInMs([9_500], now), 0, 'one recent issue: room for another');
  t.equal(gov.issueRoomInMs([9_500, 9_800], now), 500, 'two recent: when the oldest leaves the window');
  t.equal(gov.issueRoomInMs([9_800, 9_500], now), 500, 'any order');
  t.equal(gov.issueRoomInMs([9_200, 9_500, 9_800], now), 500, 'three recent: when all but one have left');
  t.equal(gov.issueRoomInMs([8_000, 8_500], now), 0, 'older than the window');
  t.equal(gov.issueRoomInMs([9_000, 9_800], now), 0, 'exactly one window old no longer counts');
  t.equal(gov.issueRoomInMs([9_001, 9_800], now), 1);
  t.equal(gov.issueRoomInMs([8_000, 9_500, 9_900], now), 500, 'old issues are ignored');
});

t.test('different keys and classes do not share a window', async (t) => {
  const clock = fakeClock();
  const { gov, events, polls } = rig(t, limits({ queriesPerSecond: 1, ordersPerSecond: 1, tokenIssuesPerSecond: 1 }), clock.now);
  const req = (key: string, cls: 'query' | 'order' | 'token') => ({ key, cls, priority: 'normal' as const, botId: 'bot' });
  const k1 = new Call('k1', gov.admit(req('k1', 'query')), events);
  await k1.done;
  const k1b = new Call('k1b', gov.admit(req('k1', 'query')), events);
  const k2 = new Call('k2', gov.admit(req('k2', 'query')), events);
  const k1o = new Call('k1-order', gov.admit(req('k1', 'order')), events);
  const k1t = new Call('k1-token', gov.admit(req('k1', 'token')), events);
  await Promise.all([k2.done, k1o.done, k1t.done]);
  t.equal(k2.state, 'granted', 'another key has its own window');
  t.equal(k1o.state, 'granted', 'orders have their own window');
  t.equal(k1t.state, 'granted', 'token issues have their own window');
  await polls(2, slotKey('k1', 'query'));
  t.equal(k1b.state, 'pending', "k1's query window is still full");
  k1.settle();
  clock.advance(200);
  await waitFor('k1b granted', () => k1b.state !== 'pending');
  t.equal(k1b.state, 'granted');
});

t.test('close() refuses waiters with KG9002, and every later admit', async (t) => {
  const { gov, events } = rig(t, limits({ queriesPerSecond: 1, ordersPerSecond: 1 }));
  const req = (cls: 'query' | 'order', priority: 'lockdown' | 'normal' = 'normal') => ({ key: 'k1', cls, priority, botId: 'bot' });
  const q = new Call('q', gov.admit(req('query')), events);
  const o = new Call('o', gov.admit(req('order')), events);
  await Promise.all([q.done, o.done]);
  const waiters = [
    new Call('q1', gov.admit(req('query')), events),
    new Call('q2', gov.admit(req('query', 'lockdown')), events),
    new Call('o1', gov.admit(req('order')), events),
  ];
  t.equal(gov.waiting('k1'), 3);
  gov.close();
  await Promise.all(waiters.map((w) => w.done));
  t.same(
    waiters.map((w) => w.code),
    ['KG9002', 'KG9002', 'KG9002'],
  );
  t.equal(gov.waiting('k1'), 0);
  const late = new Call('late', gov.admit(req('query')), events);
  await late.done;
  t.equal(late.code, 'KG9002');
  q.settle(); // a permit settled after close does no harm
  o.settle();
  t.equal(
    gov.rejectQueued(() => true, new GuardError('KG3008')),
    0,
  );
});

t.test('config: upstream.limits feeds governorLimits', async (t) => {
  // brokerTokens.sessionWaitMs (10 s) + upstream.answerTimeoutMs (30 s): a slot is taken before its call waits for
  // the key's token, then the call may take answerTimeoutMs to be answered.
  const hold = 40_000;
  const mock = await loadConfig({ env: {}, overrides: { upstream: { limits: { queriesPerSecond: 3, mock: { ordersPerSecond: 2 } }, target: 'mock' } } });
  t.same(
    governorLimits(mock.upstream, mock.brokerTokens.sessionWaitMs),
    { ...KIWOOM_LIMITS, holdMs: hold, queriesPerSecond: 3, ordersPerSecond: 2 },
    "mock target: base and mock overrides on Kiwoom's defaults",
  );

  const prod = await loadConfig({ env: {}, overrides: { upstream: { limits: { queriesPerSecond: 3, mock: { ordersPerSecond: 2 } }, target: 'production' } } });
  t.same(
    governorLimits(prod.upstream, prod.brokerTokens.sessionWaitMs),
    { ...KIWOOM_LIMITS, holdMs: hold, queriesPerSecond: 3 },
    'production: the mock override is not applied',
  );

  const sim = await loadConfig({ env: {}, overrides: {} });
  t.same(
    governorLimits(sim.upstream, sim.brokerTokens.sessionWaitMs),
    { ...KIWOOM_LIMITS, holdMs: hold },
    "no overrides: Kiwoom's defaults, holdMs from the token wait and the answer time-out",
  );
  const longWait = await loadConfig({ env: {}, overrides: { brokerTokens: { sessionWaitMs: 120_000 }, upstream: { answerTimeoutMs: 45_000 } } });
  t.equal(
    (governorLimits(longWait.upstream, longWait.brokerTokens.sessionWaitMs) as GovernorLimits).holdMs,
    165_000,
    'a longer token wait or answer time-out lengthens the hold: a slot cannot lapse while its call still waits to go out',
  );

  const explicitHold = await loadConfig({ env: {}, overrides: { upstream: { limits: { holdMs: 5_000 } } } });
  t.equal((governorLimits(explicitHold.upstream, explicitHold.brokerTokens.sessionWaitMs) as GovernorLimits).holdMs, 5_000, 'holdMs can be set');

  const off = await loadConfig({ env: {}, overrides: { upstream: { limits: 'off' } } });
  t.equal(governorLimits(off.upstream, off.brokerTokens.sessionWaitMs), 'off');

  const env = await loadConfig({ env: { KGUARD_UPSTREAM__LIMITS__QUERIES_PER_SECOND: '4' } });
  t.equal((governorLimits(env.upstream, env.brokerTokens.sessionWaitMs) as GovernorLimits).queriesPerSecond, 4, 'environment override');
  const envOff = await loadConfig({ env: { KGUARD_UPSTREAM__LIMITS: 'off' } });
  t.equal(governorLimits(envOff.upstream, envOff.brokerTokens.sessionWaitMs), 'off');
});

t.test('config: bad upstream.limits and the removed brokerTokens keys are refused', async (t) => {
  const refusal = async (overrides: Record<string, unknown>): Promise<string> => {
    try {
      await loadConfig({ env: {}, overrides });
      return 'accepted';
    } catch (err) {
      return err instanceof ConfigError ? err.message : `other: ${String(err)}`;
    }
  };
  t.match(await refusal({ upstream: { limits: { queriesPerSecnd: 3 } } }), /unknown key 'queriesPerSecnd'/, 'unknown key');
  t.match(await refusal({ upstream: { limits: { mock: { burst: 3 } } } }), /unknown key 'burst'/, 'unknown key under mock');
  t.match(await refusal({ upstream: { limits: { queriesPerSecond: -1 } } }), /^KG9003: Invalid configuration \(\/upstream\/limits/, 'negative rate');
  t.match(await refusal({ upstream: { limits: { orderMaxWaitMs: -5 } } }), /^KG9003: Invalid configuration \(\/upstream\/limits/, 'negative wait');
  t.match(
    await refusal({ upstream: { limits: { mock: { ordersPerSecond: -2 } } } }),
    /^KG9003: Invalid configuration \(\/upstream\/limits/,
    'negative under mock',
  );
  t.match(await refusal({ upstream: { limits: { queriesPerSecond: 0 } } }), /^KG9003: Invalid configuration \(\/upstream\/limits/, 'a rate of 0');
  t.match(await refusal({ upstream: { limits: { windowMs: 50 } } }), /^KG9003: Invalid configuration \(\/upstream\/limits/, 'a window under 100 ms');
  t.match(await refusal({ upstream: { limits: { queriesPerSecond: 2.5 } } }), /^KG9003: Invalid configuration \(\/upstream\/limits/, 'not an integer');
  t.match(await refusal({ upstream: { limits: 'on' } }), /^KG9003: Invalid configuration \(\/upstream\/limits/, 'a string other than off');
  t.equal(await refusal({ upstream: { limits: { queriesPerSecond: 10_000, windowMs: 100, orderMaxWaitMs: 0 } } }), 'accepted', 'bounds are inclusive');

  const removed = await refusal({ brokerTokens: { maxUses: 5 } });
  t.match(removed, /brokerTokens\.maxUses/, 'names the removed key');
  t.match(removed, /idleRevokeMs/, 'names the replacement');
  for (const gone of ['maxAgeMs', 'maxOutstanding', 'ledger']) {
    const msg = await refusal({ brokerTokens: { [gone]: gone === 'ledger' ? 'file' : 1 } });
    t.match(msg, new RegExp(`brokerTokens\\.${gone}`), `brokerTokens.${gone} refused`);
  }
  const viaEnv = await loadConfig({ env: { KGUARD_BROKER_TOKENS__MAX_USES: '5' } }).then(
    () => 'accepted',
    (err: unknown) => (err instanceof ConfigError ? err.message : 'other'),
  );
  t.match(viaEnv, /brokerTokens\.maxUses/, 'refused from the environment too');
});

// ---------------------------------------------------------------------------
// Regressions: each of these failed before the governor fix that followed this file's first version.

t.test('regression: a maxWait of 0 (allowed by config) refuses even when a slot is free', async (t) => {
  const { gov, events } = rig(t, limits({ queryMaxWaitMs: 0 }));
  const a = new Call('a', gov.admit({ key: 'k1', cls: 'query', priority: 'normal', botId: 'bot' }), events);
  await a.done;
  t.equal(a.state, 'granted', 'an empty window should grant a call that may not wait');
});

t.test('regression: a maxWait of 0 is asked once however late the pump gets to it (a busy machine)', async (t) => {
  const inner = createMemoryStore();
  // A slow window (a loaded machine, a slow Redis): the pump is still in a's take when b arrives.
  const store: Store = {
    ...inner,
    takeSlot: async (req) => {
      await new Promise((r) => setTimeout(r, 30));
      return inner.takeSlot(req);
    },
  };
  const gov = new Governor(limits({ queryMaxWaitMs: 0 }), { store, registry: new Registry(), logger });
  t.teardown(async () => {
    gov.close();
    await inner.close();
  });
  const events: string[] = [];
  const a = new Call('a', gov.admit({ key: 'k1', cls: 'query', priority: 'normal', botId: 'A' }), events);
  const b = new Call('b', gov.admit({ key: 'k1', cls: 'query', priority: 'normal', botId: 'B' }), events);
  await Promise.all([a.done, b.done]);
  t.same([a.state, b.state], ['granted', 'granted'], 'both fit in the window: neither is refused unasked');
});

t.test('regression: rejectQueued over-counts kguard_governor_refused_total{reason=lockdown} across lanes', async (t) => {
  const { gov, events, registry } = rig(t, limits({ queriesPerSecond: 1, ordersPerSecond: 1 }));
  const req = (cls: 'query' | 'order') => ({ key: 'k1', cls, priority: 'normal' as const, botId: 'A' });
  const q = new Call('q', gov.admit(req('query')), events);
  const o = new Call('o', gov.admit(req('order')), events);
  await Promise.all([q.done, o.done]);
  const waiting = [
    new Call('q1', gov.admit(req('query')), events),
    new Call('q2', gov.admit(req('query')), events),
    new Call('o1', gov.admit(req('order')), events),
  ];
  const n = gov.rejectQueued((b) => b === 'A', new GuardError('KG3008'));
  await Promise.all(waiting.map((w) => w.done));
  t.equal(n, 3);
  t.equal(await refusedTotal(registry, 'lockdown'), n, 'the metric should count each refused call once');
});

t.test('regression: with every slot in flight a cancel is refused at once with retry-after ~holdMs, though its call settles at once', async (t) => {
  // Kiwoom's defaults with a 23 s holdMs (governorLimits derives it from upstream.answerTimeoutMs).
  const { gov, events } = rig(t, { ...KIWOOM_LIMITS, ordersPerSecond: 1, holdMs: 23_000 });
  const order = new Call('order', gov.admit({ key: 'k1', cls: 'order', priority: 'normal', botId: 'bot' }), events);
  await order.done;
  const cancel = new Call('cancel', gov.admit({ key: 'k1', cls: 'order', priority: 'cancel', botId: 'bot' }), events);
  order.settle(); // answered at once: the slot frees one window (1 s) later, well inside cancelMaxWaitMs (5 s)
  await cancel.done;
  t.equal(cancel.state, 'granted', `the cancel should wait for the slot (got ${cancel.code ?? ''} retry-after ${cancel.retryAfter ?? ''})`);
});

t.test('regression: a new order that arrives while the lane sleeps is held past orderMaxWaitMs', async (t) => {
  // The store clock is frozen and the window long, so the pump sleeps a whole window (10 min)
  // waiting for the settled slot. A new order may wait 200 ms: it should be refused long before.
  const clock = fakeClock();
  const { gov, events, polls } = rig(t, limits({ ordersPerSecond: 1, windowMs: 600_000, orderMaxWaitMs: 200, lockdownMaxWaitMs: 6_000_000 }), clock.now);
  const first = new Call('first', gov.admit({ key: 'k1', cls: 'order', priority: 'normal', botId: 'a' }), events);
  await first.done;
  first.settle();
  const lock = new Call('lockdown', gov.admit({ key: 'k1', cls: 'order', priority: 'lockdown', botId: 'lock' }), events);
  await polls(1);
  const order = new Call('order', gov.admit({ key: 'k1', cls: 'order', priority: 'normal', botId: 'b' }), events);
  await waitFor('order refused', () => order.state !== 'pending', 10_000).catch(() => undefined);
  t.equal(order.state, 'refused', 'refused within 10 s, not after the 10-minute sleep');
  t.equal(lock.state, 'pending');
});

t.test('regression: a bot is penalised in fair queuing for calls that were refused and never took a slot', async (t) => {
  const { gov, events } = rig(t, limits({ queriesPerSecond: 1, windowMs: 100 }));
  const req = (botId: string, signal?: AbortSignal) => ({
    key: 'k1',
    cls: 'query' as const,
    priority: 'normal' as const,
    botId,
    ...(signal ? { signal } : {}),
  });
  const filler = new Call('x', gov.admit(req('x')), events);
  await filler.done;
  // Bot A's first four calls are given up (the bot disconnected) before any slot frees.
  const ac = new AbortController();
  const gone = Array.from({ length: 4 }, (_, i) => new Call(`gone${i}`, gov.admit(req('A', ac.signal)), events));
  ac.abort();
  await Promise.all(gone.map((c) => c.done));
  const calls = [
    new Call('A1', gov.admit(req('A')), events, settleAtOnce),
    new Call('A2', gov.admit(req('A')), events, settleAtOnce),
    new Call('B1', gov.admit(req('B')), events, settleAtOnce),
    new Call('B2', gov.admit(req('B')), events, settleAtOnce),
  ];
  filler.settle();
  await waitFor('all granted', () => calls.every((c) => c.state !== 'pending'));
  const order = events.filter((e) => /^[AB]\d$/.test(e));
  t.ok(order.indexOf('A1') < order.indexOf('B2'), `A queued first and should not wait behind all of B's calls (${order.join(' ')})`);
});

t.test("regression: a noisy bot that fills a key's queue makes every other bot's call on the key fail 'queue full'", async (t) => {
  const { gov, events, registry } = rig(t, limits({ queriesPerSecond: 1, windowMs: 100, maxQueuePerKey: 3 }));
  const req = (botId: string) => ({ key: 'k1', cls: 'query' as const, priority: 'normal' as const, botId });
  const filler = new Call('x', gov.admit(req('x')), events);
  await filler.done;
  const noisy = [1, 2, 3].map((i) => new Call(`A${i}`, gov.admit(req('A')), events, settleAtOnce));
  t.equal(gov.waiting('k1'), 3, 'bot A alone fills the queue');
  const quiet = new Call('B1', gov.admit(req('B')), events, settleAtOnce);
  await waitFor('A3 or B1 refused', () => noisy[2]!.state === 'refused' || quiet.state === 'refused');
  t.equal(quiet.state, 'pending', "B's one call takes a place: the bot with the most waiters gives up its newest");
  t.equal(noisy[2]!.state, 'refused', "A's newest waiter is the one refused");
  t.equal(noisy[2]!.code, 'KG5006');
  t.match(noisy[2]!.retryAfter, /^\d+$/);
  t.equal(gov.waiting('k1'), 3, 'the bound still holds');
  // A's next call finds the queue full with A holding the most places: refused, B keeps its place.
  const again = new Call('A4', gov.admit(req('A')), events);
  await again.done;
  t.equal(again.code, 'KG5006', 'A is refused at once');
  t.equal(quiet.state, 'pending');
  t.equal(await refusedTotal(registry, 'queue'), 2, 'both counted as refused for queue');
  filler.settle();
  await waitFor('all served', () => [noisy[0]!, noisy[1]!, quiet].every((c) => c.state === 'granted'));
  t.ok(events.indexOf('B1') < events.indexOf('A2'), `B is served in its fair turn (${events.join(' ')})`);
});

t.test("regression: a lockdown's call finds the key's queue full of new orders and is refused 'queue full'", async (t) => {
  const { gov, events } = rig(t, limits({ ordersPerSecond: 1, windowMs: 100, maxQueuePerKey: 3 }));
  const req = (priority: 'lockdown' | 'cancel' | 'normal', botId: string) => ({ key: 'k1', cls: 'order' as const, priority, botId });
  const filler = new Call('x', gov.admit(req('normal', 'x')), events);
  await filler.done;
  const normal = ['A', 'B', 'C'].map((b) => new Call(b, gov.admit(req('normal', b)), events, settleAtOnce));
  const cancel = new Call('cancel-D', gov.admit(req('cancel', 'D')), events, settleAtOnce);
  await waitFor('a normal order or the cancel refused', () => cancel.state === 'refused' || normal.some((c) => c.state === 'refused'));
  t.equal(cancel.state, 'pending', 'a cancel takes the place of a new order');
  const lock = new Call('lockdown-E', gov.admit(req('lockdown', 'E')), events, settleAtOnce);
  await waitFor('two refused', () => lock.state === 'refused' || normal.filter((c) => c.state === 'refused').length === 2);
  t.equal(lock.state, 'pending', "a lockdown's call takes the place of a new order");
  t.equal(normal.filter((c) => c.state === 'refused').length, 2, 'two new orders gave up their places');
  t.ok(
    normal.filter((c) => c.state === 'refused').every((c) => c.code === 'KG5006'),
    'refused as queue full',
  );
  // A new order cannot push out a lockdown's or a cancel's place.
  const late = new Call('F', gov.admit(req('normal', 'F')), events);
  await late.done;
  t.equal(late.code, 'KG5006');
  filler.settle();
  await waitFor('served', () => lock.state === 'granted' && cancel.state === 'granted');
  t.ok(events.indexOf('lockdown-E') < events.indexOf('cancel-D'), `lockdown first (${events.join(' ')})`);
});
