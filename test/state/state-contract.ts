// One behavioural contract for every Store backend. Each backend test file
// calls runStoreContract with a factory and a clock: memory uses a fake clock
// (exact), Redis uses real time (windows sized with slack for a busy machine).
import type { Test } from 'tap';
import type { Store } from '../../proxy/state/index.js';
import { isGuardError } from '../../proxy/common/errors.js';

export interface ContractClock {
  /** Lets `ms` pass for the store. */
  advance(ms: number): Promise<void>;
  /** The store's idea of now (ms). */
  now(): number;
}

export interface ContractBackend {
  name: string;
  create(): Promise<{ store: Store; clock: ContractClock; cleanup?: () => Promise<void> }>;
  /** Base window for timing tests; larger on a real clock. */
  windowMs: number;
}

async function rejectsCode(t: Test, p: Promise<unknown>, code: string, msg: string): Promise<void> {
  try {
    await p;
    t.fail(`${msg}: expected ${code}, resolved`);
  } catch (err) {
    t.ok(isGuardError(err) && err.code === code, `${msg}: ${code} (got ${(err as Error).message})`);
  }
}

/**
 * An assertion that holds only while less than `withinMs` has passed since `since` (something is
 * still inside its window). On a real clock a busy machine can stall past that: then the
 * assertion cannot be judged and is passed with a note, never failed wrongly.
 */
/** The assertions a timed check makes, recorded and judged only once the whole check ran inside its window. */
interface TimedAssert {
  equal(found: unknown, wanted: unknown, message?: string): void;
  same(found: unknown, wanted: unknown, message?: string): void;
  ok(value: unknown, message?: string): void;
}

async function onTime(t: Test, clock: ContractClock, since: number, withinMs: number, what: string, check: (tt: TimedAssert) => Promise<void>): Promise<void> {
  const before = clock.now() - since;
  if (before >= withinMs) {
    t.pass(`${what}: not judged (${before} ms passed, window ${withinMs} ms: machine busy)`);
    return;
  }
  const judged: (() => void)[] = [];
  const tt: TimedAssert = {
    equal: (found, wanted, message) => {
      judged.push(() => t.equal(found, wanted, message ?? what));
    },
    same: (found, wanted, message) => {
      judged.push(() => t.same(found, wanted, message ?? what));
    },
    ok: (value, message) => {
      judged.push(() => t.ok(value, message ?? what));
    },
  };
  await check(tt);
  // A pause during the check (a loaded machine) may have moved it past the window: then its results say nothing.
  const after = clock.now() - since;
  if (after >= withinMs) {
    t.pass(`${what}: not judged (the check ended ${after} ms in, window ${withinMs} ms: machine busy)`);
    return;
  }
  for (const j of judged) j();
}

let seq = 0;
const uniq = (p: string): string => `${p}:${process.pid}:${Date.now()}:${seq++}`;

export function runStoreContract(tap: Test, backend: ContractBackend): void {
  const W = backend.windowMs;

  const withStore = (name: string, fn: (t: Test, s: Store, clock: ContractClock) => Promise<void>): void => {
    tap.test(`${backend.name}: ${name}`, async (t) => {
      const { store, clock, cleanup } = await backend.create();
      try {
        await fn(t, store, clock);
      } finally {
        await store.close();
        await cleanup?.();
      }
    });
  };

  withStore('get/set/del and TTL', async (t, s, clock) => {
    const k = uniq('kv');
    t.equal(await s.get(k), null);
    await s.set(k, 'v1');
    t.equal(await s.get(k), 'v1');
    await s.set(k, 'v2', W);
    t.equal(await s.get(k), 'v2');
    await clock.advance(W + W / 2);
    t.equal(await s.get(k), null, 'expired after ttl');
    await s.set(k, 'v3');
    await s.del(k);
    t.equal(await s.get(k), null, 'deleted');
    await s.del(k); // deleting nothing is fine
    t.equal(await s.expire(k, W), false, 'expire on missing key');
    await s.set(k, 'v4');
    t.equal(await s.expire(k, W), true);
    await clock.advance(W + W / 2);
    t.equal(await s.get(k), null, 'expire() took effect');
  });

  withStore('setIfAbsent', async (t, s, clock) => {
    const k = uniq('nx');
    t.equal(await s.setIfAbsent(k, 'a', W), true);
    t.equal(await s.setIfAbsent(k, 'b', W), false);
    t.equal(await s.get(k), 'a', 'first writer wins');
    await clock.advance(W + W / 2);
    t.equal(await s.setIfAbsent(k, 'c', W), true, 'free again after TTL');
    t.equal(await s.get(k), 'c');
  });

  withStore('swap', async (t, s, clock) => {
    const k = uniq('swap');
    t.equal(await s.swap(k, 'a', W), null, 'nothing replaced');
    t.equal(await s.swap(k, '한글|1', W), 'a', 'the value replaced');
    t.equal(await s.get(k), '한글|1');
    t.equal(await s.swap(k, '', W), '한글|1', 'multi-byte text as written');
    t.equal(await s.swap(k, 'b', W), '', 'an empty string is a value, not absent');
    await clock.advance(W + W / 2);
    t.equal(await s.swap(k, 'c', W), null, 'expired: nothing replaced');
    await t.rejects(s.swap(k, 'd', 0), /KG7002/, 'a TTL is required');
    t.equal(await s.get(k), 'c', 'a refused swap changes nothing');
  });

  withStore('setIfUnchanged', async (t, s, clock) => {
    const k = uniq('cas');
    t.equal(await s.setIfUnchanged(k, 'other', 'a', W), false, 'an absent key is not the value expected');
    t.equal(await s.get(k), null);
    t.equal(await s.setIfUnchanged(k, null, 'a', W), true, 'absent, as expected: written');
    t.equal(await s.setIfUnchanged(k, null, 'b', W), false, 'no longer absent');
    t.equal(await s.setIfUnchanged(k, 'b', 'c', W), false, 'another value than expected');
    t.equal(await s.get(k), 'a', 'nothing changed by a refused write');
    t.equal(await s.setIfUnchanged(k, 'a', '한글 {"v":1}', W), true, 'the value expected: written');
    t.equal(await s.setIfUnchanged(k, '한글 {"v":1}', '', W), true, 'multi-byte text compared as written');
    t.equal(await s.setIfUnchanged(k, '', 'd'), true, 'an empty string is a value, not absent');
    await clock.advance(W + W / 2);
    t.equal(await s.get(k), 'd', 'written without a ttl: kept');
    await s.set(k, 'e', W);
    await clock.advance(W + W / 2);
    t.equal(await s.setIfUnchanged(k, 'e', 'f', W), false, 'expired: absent again');
    t.equal(await s.setIfUnchanged(k, null, 'f', W), true);
    await clock.advance(W + W / 2);
    t.equal(await s.get(k), null, 'expires after its ttl');
    await s.hset(k, 'f', 'v');
    await rejectsCode(t, s.setIfUnchanged(k, null, 'x'), 'KG7002', 'a hash is not a string');
  });

  withStore('incr with first-charge TTL', async (t, s, clock) => {
    const k = uniq('ctr');
    t.equal(await s.incr(k), 1);
    t.equal(await s.incr(k, 5), 6);
    t.equal(await s.incr(k, -2), 4);
    const k2 = uniq('ctr');
    const firstCharge = clock.now();
    t.equal(await s.incr(k2, 1, W), 1);
    await clock.advance(W / 2);
    await onTime(t, clock, firstCharge, W - 20, 'second charge inside the ttl', async (tt) => {
      tt.equal(await s.incr(k2, 1, W), 2, 'ttl not extended by later charges');
    });
    await clock.advance(W / 2 + W / 4);
    t.equal(await s.get(k2), null, 'expired W after first charge');
    await s.set(k2, 'not-a-number');
    await rejectsCode(t, s.incr(k2), 'KG7002', 'incr on non-integer');
    t.equal(await s.get(k2), 'not-a-number', 'unchanged');
  });

  withStore('hashes', async (t, s, clock) => {
    const k = uniq('h');
    t.same(await s.hgetall(k), {});
    t.equal(await s.hget(k, 'a'), null);
    await s.hset(k, 'a', '1');
    await s.hset(k, 'b', '2', W);
    t.equal(await s.hget(k, 'a'), '1');
    t.same(await s.hgetall(k), { a: '1', b: '2' });
    await s.hdel(k, 'a');
    t.same(await s.hgetall(k), { b: '2' });
    await clock.advance(W + W / 2);
    t.same(await s.hgetall(k), {}, 'hash expired');
    await s.hset(k, 'x', '1');
    await s.hdel(k, 'x');
    t.equal(await s.setIfAbsent(k, 'str', W), true, 'empty hash no longer exists');
    await rejectsCode(t, s.hget(k, 'x'), 'KG7002', 'hget on a string');
  });

  withStore('mget and hmget: one read of several keys or fields', async (t, s, clock) => {
    const a = uniq('m:a');
    const b = uniq('m:b');
    const missing = uniq('m:none');
    const hash = uniq('m:h');
    await s.set(a, 'A');
    await s.set(b, 'B', W);
    await s.hset(hash, 'f', '1');
    t.same(await s.mget([a, missing, b]), ['A', null, 'B'], 'in the order asked, null when missing');
    t.same(await s.mget([a]), ['A'], 'one key');
    t.same(await s.mget([hash, a]), [null, 'A'], 'a key of another kind reads as null (as Redis MGET)');
    const tagged = [uniq('{m:tag}:x'), uniq('{m:tag}:y')];
    await s.set(tagged[1]!, 'Y');
    t.same(await s.mget(tagged), [null, 'Y'], 'keys sharing a hash tag');
    await s.hset(hash, 'g', '2');
    t.same(await s.hmget(hash, ['g', 'nope', 'f']), ['2', null, '1'], 'hmget in the order asked');
    t.same(await s.hmget(missing, ['f', 'g']), [null, null], 'hmget on a missing hash');
    await clock.advance(W + W / 2);
    t.same(await s.mget([a, b]), ['A', null], 'expired key reads as null');
    await rejectsCode(t, s.hmget(a, ['f']), 'KG7002', 'hmget on a string');
    await rejectsCode(t, s.mget([]), 'KG7002', 'no keys');
    await rejectsCode(t, s.mget([a, '']), 'KG7002', 'an empty key among them');
    await rejectsCode(t, s.mget(Array.from({ length: 65 }, (_, i) => `${a}:${i}`)), 'KG7002', 'more than 64 keys');
    await rejectsCode(t, s.mget('abc' as unknown as string[]), 'KG7002', 'not an array');
    await rejectsCode(t, s.hmget(hash, []), 'KG7002', 'no fields');
    await rejectsCode(t, s.hmget(hash, [1 as unknown as string]), 'KG7002', 'a field that is not a string');
    t.same(await s.hgetall(hash), { f: '1', g: '2' }, 'refused reads changed nothing');
  });

  withStore('bad input is refused and changes nothing', async (t, s) => {
    const k = uniq('bad');
    await rejectsCode(t, s.set('', 'x'), 'KG7002', 'empty key');
    await rejectsCode(t, s.set(k, 'x', 0), 'KG7002', 'zero ttl');
    await rejectsCode(t, s.set(k, 'x', -5), 'KG7002', 'negative ttl');
    await rejectsCode(t, s.set(k, 'x', 1.5), 'KG7002', 'fractional ttl');
    await rejectsCode(t, s.setIfAbsent(k, 'x', Number.NaN), 'KG7002', 'NaN ttl');
    await rejectsCode(t, s.incr(k, 0.5), 'KG7002', 'fractional increment');
    t.equal(await s.get(k), null, 'nothing was written');
    const a = uniq('{bot:x}:a');
    await rejectsCode(t, s.consume([{ key: a, limit: -1, windowMs: W }]), 'KG7002', 'negative limit');
    await rejectsCode(t, s.consume([{ key: a, limit: 1, windowMs: 0 }]), 'KG7002', 'zero window');
    await rejectsCode(t, s.consume([{ key: a, limit: 1, windowMs: W, cost: -1 }]), 'KG7002', 'negative cost');
    await rejectsCode(t, s.consume([{ key: a, limit: 1, windowMs: W, mode: 'bogus' as 'fixed' }]), 'KG7002', 'bad mode');
    await rejectsCode(
      t,
      s.consume([
        { key: a, limit: 5, windowMs: W },
        { key: a, limit: 5, windowMs: W },
      ]),
      'KG7002',
      'repeated key',
    );
    await rejectsCode(
      t,
      s.consume([
        { key: uniq('a'), limit: 5, windowMs: W },
        { key: uniq('b'), limit: 5, windowMs: W },
      ]),
      'KG7002',
      'no hash tag',
    );
    await rejectsCode(
      t,
      s.consume([
        { key: uniq('{x}a'), limit: 5, windowMs: W },
        { key: uniq('{y}b'), limit: 5, windowMs: W },
      ]),
      'KG7002',
      'different hash tags',
    );
    t.same(await s.peek([{ key: a, limit: 1, windowMs: W }]), [0], 'no charge from refused calls');
    const str = uniq('{bot:x}:str');
    await s.set(str, 'hello');
    await rejectsCode(
      t,
      s.consume([
        { key: a, limit: 5, windowMs: W },
        { key: str, limit: 5, windowMs: W },
      ]),
      'KG7002',
      'sliding on a string',
    );
    t.same(await s.peek([{ key: a, limit: 5, windowMs: W }]), [0], 'first limit not charged when a later one errors');
  });

  withStore('consume: sliding window counts, denies, recovers', async (t, s, clock) => {
    const k = uniq('{bot:s}:rl');
    const lim = { key: k, limit: 3, windowMs: W };
    for (let i = 1; i <= 3; i++) {
      const r = await s.consume([lim]);
      t.equal(r.allowed, true, `call ${i} allowed`);
      t.same(r.usage, [i]);
    }
    const denied = await s.consume([lim]);
    t.equal(denied.allowed, false);
    t.equal(denied.failedIndex, 0);
    t.same(denied.usage, [4], 'usage shows what it would have been');
    t.ok(denied.retryAfterMs !== undefined && denied.retryAfterMs > 0 && denied.retryAfterMs <= W, `retryAfter ${denied.retryAfterMs} in (0, W]`);
    t.same(await s.peek([lim]), [3], 'denied call charged nothing');
    await clock.advance(W + W / 4);
    t.same(await s.peek([lim]), [0], 'window slid past all events');
    const again = await s.consume([lim]);
    t.equal(again.allowed, true);
    t.same(again.usage, [1]);
  });

  withStore('consume: sliding window is exact (not a fixed bucket)', async (t, s, clock) => {
    const k = uniq('{bot:s2}:rl');
    const lim = { key: k, limit: 2, windowMs: W };
    const a = clock.now();
    t.equal((await s.consume([lim])).allowed, true, 'event A at t0');
    await clock.advance(W / 2);
    const b = clock.now();
    t.equal((await s.consume([lim])).allowed, true, 'event B at t0+W/2');
    await onTime(t, clock, a, W - 20, 'A and B both inside', async (tt) => {
      const d = await s.consume([lim]);
      tt.equal(d.allowed, false, 'full');
      // Only A must leave the window for one slot to open: retryAfter ≈ W/2, not W.
      tt.ok(d.retryAfterMs! <= W / 2 + 5, `retryAfter ${d.retryAfterMs} ≤ W/2`);
    });
    await clock.advance(W / 2 + W / 8);
    await onTime(t, clock, b, W - 20, 'B still inside', async (tt) => {
      tt.same(await s.peek([lim]), [1], 'A left, B still inside');
      tt.equal((await s.consume([lim])).allowed, true);
      tt.equal((await s.consume([lim])).allowed, false, 'B + new event fill it again');
    });
  });

  withStore('consume: costs (notional caps)', async (t, s) => {
    const k = uniq('{bot:c}:krw');
    const lim = (cost: number) => ({ key: k, limit: 1_000_000, windowMs: W * 100, cost });
    t.same((await s.consume([lim(600_000)])).usage, [600_000]);
    const d = await s.consume([lim(500_000)]);
    t.equal(d.allowed, false, 'would exceed the notional cap');
    t.same(d.usage, [1_100_000]);
    t.equal((await s.consume([lim(400_000)])).allowed, true, 'exactly at the cap is allowed');
    t.same(await s.peek([lim(0)]), [1_000_000]);
    const zero = await s.consume([lim(0)]);
    t.equal(zero.allowed, true, 'zero cost fits even when full');
    const big = await s.consume([{ key: uniq('{bot:c}:one'), limit: 5, windowMs: W, cost: 6 }]);
    t.equal(big.allowed, false, 'cost above limit never fits');
    t.ok(big.retryAfterMs! > 0);
  });

  withStore('consume: fixed window', async (t, s, clock) => {
    const k = uniq('{bot:f}:day');
    const lim = { key: k, limit: 2, windowMs: W, mode: 'fixed' as const };
    const first = clock.now();
    t.same((await s.consume([lim])).usage, [1]);
    await clock.advance(W / 2);
    await onTime(t, clock, first, W - 20, 'second charge inside the window', async (tt) => {
      tt.same((await s.consume([lim])).usage, [2]);
      const d = await s.consume([lim]);
      tt.equal(d.allowed, false);
      tt.ok(d.retryAfterMs! > 0 && d.retryAfterMs! <= W / 2 + 5, `fixed: retry ${d.retryAfterMs} when the window (from first charge) ends`);
      tt.equal(await s.get(k), '2', 'fixed counter is a plain integer string');
    });
    await clock.advance(W / 2 + W / 4);
    t.same(await s.peek([lim]), [0], 'whole counter expired W after first charge');
    t.equal((await s.consume([lim])).allowed, true);
  });

  withStore('consume: layered limits are all-or-nothing', async (t, s) => {
    const perSec = { key: uniq('{bot:L}:1s'), limit: 5, windowMs: W * 100 };
    const perDay = { key: uniq('{bot:L}:day'), limit: 3, windowMs: W * 100, mode: 'fixed' as const };
    const notional = { key: uniq('{bot:L}:krw'), limit: 1000, windowMs: W * 100, cost: 300 };
    for (let i = 1; i <= 3; i++) {
      const r = await s.consume([perSec, perDay, notional]);
      t.equal(r.allowed, true, `layered call ${i}`);
      t.same(r.usage, [i, i, 300 * i]);
    }
    const d = await s.consume([perSec, perDay, notional]);
    t.equal(d.allowed, false);
    t.equal(d.failedIndex, 1, 'the daily cap failed first');
    t.same(d.usage, [4, 4, 1200]);
    t.same(await s.peek([perSec, perDay, notional]), [3, 3, 900], 'nothing charged, not even the limits that had room');
    const d2 = await s.consume([perSec, { ...notional, cost: 200 }]);
    t.equal(d2.allowed, false, 'notional cap at index 1');
    t.equal(d2.failedIndex, 1);
    t.same(await s.peek([perSec, notional]), [3, 900]);
    t.same(await s.consume([]), { allowed: true, usage: [] }, 'no limits: allowed');
  });

  withStore('refund: gives back what consume charged on fixed windows, never below zero, never making a counter', async (t, s) => {
    const orders = uniq('{bot:R}:day');
    const krw = uniq('{bot:R}:krw');
    const fixed = (key: string, cost: number) => ({ key, limit: 1000, windowMs: W * 100, mode: 'fixed' as const, cost });
    t.equal((await s.consume([fixed(orders, 1), fixed(krw, 600)])).allowed, true);
    t.equal((await s.consume([fixed(orders, 1), fixed(krw, 300)])).allowed, true);
    t.same(await s.refund([fixed(orders, 1), fixed(krw, 600)]), [1, 300], 'usage after the refund');
    t.same(await s.peek([fixed(orders, 0), fixed(krw, 0)]), [1, 300]);
    t.equal((await s.consume([fixed(krw, 700)])).allowed, true, 'the room given back can be used again');
    t.same(await s.refund([fixed(krw, 5000)]), [0], 'a counter never goes below zero (a charge lost with a flushed store)');
    t.equal(await s.get(krw), '0');
    const gone = uniq('{bot:R}:gone');
    t.same(await s.refund([fixed(gone, 5)]), [0], 'a counter that is not there (its window ended) stays not there');
    t.equal(await s.get(gone), null, 'no key was made');
    t.same(await s.refund([]), [], 'nothing to refund');
    // Checked first, nothing changed: a sliding window's events are calls that were made.
    await rejectsCode(t, s.refund([fixed(orders, 1), { key: uniq('{bot:R}:1s'), limit: 5, windowMs: W }]), 'KG7002', 'a sliding limit');
    await rejectsCode(t, s.refund([fixed(orders, -1)]), 'KG7002', 'a negative cost');
    await rejectsCode(t, s.refund([fixed(uniq('{x}a'), 1), fixed(uniq('{y}b'), 1)]), 'KG7002', 'different hash tags');
    const str = uniq('{bot:R}:str');
    await s.set(str, 'hello');
    await rejectsCode(t, s.refund([fixed(orders, 1), fixed(str, 1)]), 'KG7002', 'a value that is not a count');
    t.same(await s.peek([fixed(orders, 0)]), [1], 'the refused refunds changed nothing');
  });

  withStore('refund keeps the window: a fixed counter still ends windowMs after its first charge', async (t, s, clock) => {
    const k = uniq('{bot:RT}:day');
    const lim = { key: k, limit: 10, windowMs: W, mode: 'fixed' as const, cost: 3 };
    const first = clock.now();
    await s.consume([lim]);
    await s.consume([lim]);
    await onTime(t, clock, first, W - 20, 'refund inside the window', async (tt) => {
      tt.same(await s.refund([lim]), [3]);
    });
    await clock.advance(W + W / 2);
    t.same(await s.peek([lim]), [0], 'the counter ended with its window: the refund neither cleared nor extended its expiry');
    t.equal(await s.get(k), null);
  });

  withStore('pub/sub delivers asynchronously to every subscriber; unsubscribe stops it', async (t, s) => {
    const ch = uniq('chan');
    const got1: string[] = [];
    const got2: string[] = [];
    let waiters: (() => void)[] = [];
    const notify = (): void => {
      const ws = waiters;
      waiters = [];
      for (const w of ws) w();
    };
    const wait = (pred: () => boolean): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for message')), 3000);
        const check = (): void => {
          if (pred()) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    const un1 = await s.subscribe(ch, (m) => {
      got1.push(m);
      notify();
    });
    const un2 = await s.subscribe(ch, (m) => {
      got2.push(m);
      notify();
    });
    const published = s.publish(ch, 'lockdown:1');
    t.same(got1, [], 'handlers never run inside publish()');
    await published;
    await wait(() => got1.length === 1 && got2.length === 1);
    t.same(got1, ['lockdown:1']);
    t.same(got2, ['lockdown:1']);
    await un1();
    await s.publish(ch, 'lockdown:2');
    await wait(() => got2.length === 2);
    t.same(got1, ['lockdown:1'], 'unsubscribed handler got nothing more');
    t.same(got2, ['lockdown:1', 'lockdown:2']);
    await un2();
    await un2(); // idempotent
    await s.publish(ch, 'nobody');
  });

  // ---- governor slots

  const slotKeys = (): { key: string; pauseKey: string } => {
    const tag = uniq('gov');
    return { key: `{${tag}}:query`, pauseKey: `{${tag}}:pause` };
  };

  withStore('slots: granted up to the limit, then refused until a slot leaves the window', async (t, s, clock) => {
    const keys = slotKeys();
    const req = (id: string) => ({ ...keys, limit: 3, windowMs: W, holdMs: 0, id });
    for (let i = 1; i <= 3; i++) t.same(await s.takeSlot(req(`s${i}`)), { granted: true, retryAfterMs: 0 }, `slot ${i} granted`);
    const refused = await s.takeSlot(req('s4'));
    t.equal(refused.granted, false, 'the fourth slot is refused');
    t.ok(refused.retryAfterMs >= 1 && refused.retryAfterMs <= W, `retryAfter ${refused.retryAfterMs} in [1, W]`);
    t.equal((await s.takeSlot(req('s4'))).granted, false, 'a refused take added nothing (still full)');
    await clock.advance(W + W / 2);
    t.same(await s.takeSlot(req('s4')), { granted: true, retryAfterMs: 0 }, 'granted once the window slid past');
    const other = slotKeys();
    t.same(await s.takeSlot({ ...other, limit: 1, windowMs: W, holdMs: 0, id: 's1' }), { granted: true, retryAfterMs: 0 }, 'windows are independent');
    const none = await s.takeSlot({ ...slotKeys(), limit: 0, windowMs: W, holdMs: 0, id: 'z' });
    t.equal(none.granted, false, 'limit 0 never grants');
    t.ok(none.retryAfterMs >= 1, 'and still names a retry');
  });

  withStore('slots: slots that left the window count for nothing and free their ids, swept or not', async (t, s, clock) => {
    const keys = slotKeys();
    const req = (id: string) => ({ ...keys, limit: 3, windowMs: W, holdMs: 0, id });
    t.equal((await s.takeSlot(req('a'))).granted, true);
    await clock.advance(W + W / 2);
    // 'a' has left the window; the window is below its limit, so a store may not have swept it yet.
    t.equal((await s.takeSlot(req('b'))).granted, true);
    await rejectsCode(t, s.takeSlot(req('b')), 'KG7002', 'an id still in the window is refused');
    t.equal((await s.takeSlot(req('a'))).granted, true, 'the id of a slot that left the window is taken again');
    t.equal((await s.takeSlot(req('c'))).granted, true, 'b, a and c: three live slots');
    t.equal((await s.takeSlot(req('d'))).granted, false, 'the fourth is refused: the old a counted for nothing, the new a counts');
  });

  withStore('slots: an unsettled slot is held; settling frees it windowMs after the settle, never earlier', async (t, s, clock) => {
    const keys = slotKeys();
    const hold = W * 20;
    const req = (id: string) => ({ ...keys, limit: 1, windowMs: W, holdMs: hold, id });
    t.equal((await s.takeSlot(req('a'))).granted, true);
    const held = await s.takeSlot(req('b'));
    t.equal(held.granted, false);
    t.ok(held.retryAfterMs > W && held.retryAfterMs <= hold + W, `retryAfter ${held.retryAfterMs} counts the hold`);
    await clock.advance(W + W / 2);
    t.equal((await s.takeSlot(req('b'))).granted, false, 'unsettled: still taken after windowMs');
    await s.settleSlot(keys.key, 'a', W);
    const settled = await s.takeSlot(req('b'));
    t.equal(settled.granted, false, 'settled: taken until windowMs after the settle');
    t.ok(settled.retryAfterMs >= 1 && settled.retryAfterMs <= W, `retryAfter ${settled.retryAfterMs} in [1, W] after settle`);
    await clock.advance(W / 2);
    await s.settleSlot(keys.key, 'a', W); // a later settle never raises the stamp
    await s.settleSlot(keys.key, 'unknown', W); // unknown ids are ignored
    await s.settleSlot(slotKeys().key, 'a', W); // so are unknown windows
    await clock.advance(W / 2 + W / 4);
    t.same(await s.takeSlot(req('b')), { granted: true, retryAfterMs: 0 }, 'free windowMs after the first settle');
  });

  withStore('slots: a pause refuses every slot until it ends and is never shortened', async (t, s, clock) => {
    const keys = slotKeys();
    const req = (id: string) => ({ ...keys, limit: 5, windowMs: W, holdMs: 0, id });
    t.equal((await s.takeSlot(req('a'))).granted, true);
    await s.pauseSlots(keys.pauseKey, W);
    const paused = await s.takeSlot(req('b'));
    t.equal(paused.granted, false, 'paused');
    t.ok(paused.retryAfterMs >= 1 && paused.retryAfterMs <= W, `retryAfter ${paused.retryAfterMs} is the pause left`);
    await s.pauseSlots(keys.pauseKey, 1);
    const still = await s.takeSlot(req('b'));
    t.equal(still.granted, false, 'a shorter pause does not shorten it');
    t.ok(still.retryAfterMs > 1, `retryAfter ${still.retryAfterMs} still the longer pause`);
    await s.pauseSlots(keys.pauseKey, W * 2);
    const longer = await s.takeSlot(req('b'));
    t.equal(longer.granted, false);
    t.ok(longer.retryAfterMs > W, `a longer pause extends it (retryAfter ${longer.retryAfterMs})`);
    await clock.advance(W * 2 + W / 2);
    t.same(await s.takeSlot(req('b')), { granted: true, retryAfterMs: 0 }, 'granted after the pause');
  });

  withStore('slots: bad input, a repeated id and keys on different hash tags are refused, changing nothing', async (t, s) => {
    const keys = slotKeys();
    const base = { ...keys, limit: 2, windowMs: W, holdMs: 0, id: 'a' };
    await rejectsCode(t, s.takeSlot({ ...base, key: uniq('{other}:q') }), 'KG7002', 'key and pauseKey on different tags');
    await rejectsCode(t, s.takeSlot({ ...base, key: uniq('plain:q'), pauseKey: uniq('plain:p') }), 'KG7002', 'no hash tag');
    await rejectsCode(t, s.takeSlot({ ...base, pauseKey: keys.key }), 'KG7002', 'pauseKey is the window key');
    await rejectsCode(t, s.takeSlot({ ...base, limit: -1 }), 'KG7002', 'negative limit');
    await rejectsCode(t, s.takeSlot({ ...base, limit: 1.5 }), 'KG7002', 'fractional limit');
    await rejectsCode(t, s.takeSlot({ ...base, limit: 1e9 }), 'KG7002', 'huge limit');
    await rejectsCode(t, s.takeSlot({ ...base, windowMs: 0 }), 'KG7002', 'zero window');
    await rejectsCode(t, s.takeSlot({ ...base, holdMs: -1 }), 'KG7002', 'negative hold');
    await rejectsCode(t, s.takeSlot({ ...base, holdMs: 0.5 }), 'KG7002', 'fractional hold');
    await rejectsCode(t, s.takeSlot({ ...base, id: '' }), 'KG7002', 'empty id');
    await rejectsCode(t, s.takeSlot({ ...base, id: 'x'.repeat(201) }), 'KG7002', 'id too long');
    await rejectsCode(t, s.takeSlot({ ...base, id: 7 as unknown as string }), 'KG7002', 'id not a string');
    await rejectsCode(t, s.takeSlot(null as unknown as typeof base), 'KG7002', 'no request');
    await rejectsCode(t, s.settleSlot(keys.key, '', W), 'KG7002', 'settle: empty id');
    await rejectsCode(t, s.settleSlot(keys.key, 'a', 0), 'KG7002', 'settle: zero window');
    await rejectsCode(t, s.settleSlot('', 'a', W), 'KG7002', 'settle: empty key');
    await rejectsCode(t, s.pauseSlots(keys.pauseKey, 0), 'KG7002', 'pause: zero ms');
    await rejectsCode(t, s.pauseSlots(keys.pauseKey, -5), 'KG7002', 'pause: negative ms');
    await rejectsCode(t, s.pauseSlots('', W), 'KG7002', 'pause: empty key');
    t.equal(await s.get(keys.pauseKey), null, 'no pause was set');
    t.same(await s.takeSlot(base), { granted: true, retryAfterMs: 0 }, 'the window was empty');
    await rejectsCode(t, s.takeSlot(base), 'KG7002', 'an id still in the window');
    t.same(await s.takeSlot({ ...base, id: 'b' }), { granted: true, retryAfterMs: 0 }, 'the repeated id took no slot');
    t.equal((await s.takeSlot({ ...base, id: 'c' })).granted, false, 'now full');
    const str = uniq('{gov:str}:q');
    await s.set(str, 'hello');
    await rejectsCode(t, s.takeSlot({ ...base, key: str, pauseKey: uniq('{gov:str}:p') }), 'KG7002', 'window key holds a string');
    t.equal(await s.get(str), 'hello', 'unchanged');
  });

  // ---- leased values

  const leaseKeys = (): { key: string; lock: string } => {
    const tag = uniq('tok');
    return { key: `{${tag}}:session`, lock: `{${tag}}:lock` };
  };

  withStore('leases: put needs the exact lock and no stored value; take, release, retire, revive, drop', async (t, s) => {
    const { key, lock } = leaseKeys();
    const L = W * 100;
    t.equal(await s.leasePeek(key), null, 'absent');
    t.equal(await s.leaseTake(key, 'A', L), null, 'nothing to take');
    t.equal(await s.leaseRelease(key, 'A'), -1, 'nothing to release: no value stored');
    t.equal(await s.leaseRetire(key, 'v1', L, 'c1'), 'gone');
    t.equal(await s.leaseDrop(key, 'v1'), false);
    t.equal(await s.leasePut(key, 'v1', 'tok-1', L, { key: lock, value: 'f1' }, 'A', L), false, 'refused: the lock is not held');
    t.equal(await s.setIfAbsent(lock, 'f1', L), true);
    t.equal(await s.leasePut(key, 'v1', 'tok-1', L, { key: lock, value: 'f2' }, 'A', L), false, 'refused: another lock value');
    t.equal(await s.leasePeek(key), null, 'refused puts stored nothing');
    t.equal(await s.leasePut(key, 'v1', 'tok-1', L, { key: lock, value: 'f1' }, 'A', L), true, 'stored under the lock');
    t.same(await s.leasePeek(key), { version: 'v1', value: 'tok-1', state: 'live', leases: 1 }, 'the writer holds a lease');
    t.equal(await s.leasePut(key, 'v2', 'tok-2', L, { key: lock, value: 'f1' }, 'A', L), false, 'refused: a value is stored');
    t.same(await s.leasePeek(key), { version: 'v1', value: 'tok-1', state: 'live', leases: 1 }, 'unchanged');
    t.same(await s.leaseTake(key, 'B', L), { version: 'v1', value: 'tok-1', state: 'live', leases: 2 }, 'B leases it');
    t.same(await s.leaseTake(key, 'B', L), { version: 'v1', value: 'tok-1', state: 'live', leases: 2 }, 'taking again refreshes, no second lease');
    t.equal(await s.leaseRetire(key, 'v1', L, 'c1'), 'held', 'held while leases are live');
    t.equal(await s.leaseRetire(key, 'v0', L, 'c1'), 'gone', 'another version is gone');
    t.equal(await s.leaseRelease(key, 'A'), 1, 'A released');
    t.equal(await s.leaseRelease(key, 'A'), 1, 'releasing twice is harmless');
    t.equal(await s.leaseRetire(key, 'v1', L, 'c1'), 'held', 'B still holds it');
    t.equal(await s.leaseRelease(key, 'B'), 0, 'B released');
    t.equal(await s.leaseRetire(key, 'v1', L, 'c1'), 'retiring', 'retired once no lease is live');
    t.same(await s.leaseTake(key, 'C', L), { version: 'v1', value: 'tok-1', state: 'retiring', leases: 0 }, 'retiring: returned without a lease');
    t.same(await s.leasePeek(key), { version: 'v1', value: 'tok-1', state: 'retiring', leases: 0 });
    t.equal(await s.leaseRetire(key, 'v1', L, 'c2'), 'held', 'another retirement claim is live');
    t.equal(await s.leaseRevive(key, 'v0', 'c1'), false, 'revive refused for another version');
    t.equal(await s.leaseRevive(key, 'v1', 'c1'), true, 'a retirement given up: live again');
    t.equal(await s.leaseRevive(key, 'v1', 'c1'), false, 'only a retiring value is revived');
    t.same(await s.leaseTake(key, 'C', L), { version: 'v1', value: 'tok-1', state: 'live', leases: 1 }, 'leasable again');
    t.equal(await s.leaseRetire(key, 'v1', L, 'c1'), 'held', 'held by the new lease (the old claim is gone with the revive)');
    t.equal(await s.leaseRelease(key, 'C'), 0);
    t.equal(await s.leaseRetire(key, 'v1', L, 'c1'), 'retiring', 'claimed again at once: the old claim was cleared');
    t.equal(await s.leaseDrop(key, 'v0'), false, 'drop refused for another version');
    t.same(await s.leasePeek(key), { version: 'v1', value: 'tok-1', state: 'retiring', leases: 0 }, 'unchanged');
    t.equal(await s.leaseDrop(key, 'v1'), true, 'dropped');
    t.equal(await s.leasePeek(key), null);
    t.equal(await s.leaseTake(key, 'A', L), null);
    t.equal(await s.leaseDrop(key, 'v1'), false, 'dropping twice');
    t.equal(await s.leasePut(key, 'v2', 'tok-2', L, { key: lock, value: 'f1' }, 'D', L), true, 'a new value after the drop');
    t.same(await s.leasePeek(key), { version: 'v2', value: 'tok-2', state: 'live', leases: 1 });
    t.equal(await s.get(lock), 'f1', "the lock is the caller's to release");
  });

  withStore('leases: lapsed leases, a lapsed retire claim and an expired value', async (t, s, clock) => {
    const { key, lock } = leaseKeys();
    const L = W * 100;
    await s.setIfAbsent(lock, 'f1', L);
    t.equal(await s.leasePut(key, 'v1', 'tok-1', L, { key: lock, value: 'f1' }, 'A', W), true);
    t.equal(await s.leaseRetire(key, 'v1', W, 'c1'), 'held', "A's lease is live");
    await clock.advance(W + W / 2);
    t.same(await s.leasePeek(key), { version: 'v1', value: 'tok-1', state: 'live', leases: 0 }, "A's lease lapsed");
    t.equal(await s.leaseRetire(key, 'v1', W, 'c1'), 'retiring', 'retirable once the lease lapsed');
    t.equal(await s.leaseRetire(key, 'v1', W, 'c1'), 'held', 'the claim is live');
    t.same(await s.leaseTake(key, 'B', L), { version: 'v1', value: 'tok-1', state: 'retiring', leases: 0 }, 'no new lease on a retiring value');
    await clock.advance(W + W / 2);
    t.equal(await s.leaseRetire(key, 'v1', W, 'c1'), 'retiring', 'a lapsed claim is claimed again');

    const second = leaseKeys();
    await s.setIfAbsent(second.lock, 'f2', L);
    t.equal(await s.leasePut(second.key, 'v1', 'tok-1', W, { key: second.lock, value: 'f2' }, 'A', L), true, 'a value that lives W');
    t.equal((await s.leaseTake(second.key, 'B', L))?.leases, 2, 'held by A and B');
    await clock.advance(W + W / 2);
    t.equal(await s.leasePeek(second.key), null, 'the value expired');
    t.equal(await s.leaseTake(second.key, 'A', L), null);
    t.equal(await s.leaseRetire(second.key, 'v1', W, 'c1'), 'gone');
    t.equal(await s.leaseRelease(second.key, 'B'), -1, 'the value expired: none stored');
    t.equal(await s.leasePut(second.key, 'v2', 'tok-2', L, { key: second.lock, value: 'f2' }, 'C', L), true, 'a new value');
    t.same(await s.leasePeek(second.key), { version: 'v2', value: 'tok-2', state: 'live', leases: 1 }, 'leases of the expired value do not hold the new one');
    t.equal(await s.leaseRelease(second.key, 'C'), 0);
    t.equal(await s.leaseRetire(second.key, 'v2', W, 'c1'), 'retiring');
  });

  withStore('leases: only the claim that holds a retirement gives it up (revive)', async (t, s, clock) => {
    const { key, lock } = leaseKeys();
    const L = W * 100;
    const retiring = { version: 'v1', value: 'tok-1', state: 'retiring', leases: 0 };
    await s.setIfAbsent(lock, 'f1', L);
    t.equal(await s.leasePut(key, 'v1', 'tok-1', L, { key: lock, value: 'f1' }, 'A', L), true);
    t.equal(await s.leaseRelease(key, 'A'), 0);
    t.equal(await s.leaseRetire(key, 'v1', W, 'claim-x'), 'retiring', 'X claims the retirement');
    await clock.advance(W + W / 2);
    t.equal(await s.leaseRetire(key, 'v1', W, 'claim-y'), 'retiring', "X's claim lapsed: Y takes the retirement over");
    t.equal(await s.leaseRevive(key, 'v1', 'claim-x'), false, "X's revive is refused: the retirement is Y's now");
    t.same(await s.leasePeek(key), retiring, 'still retiring under Y');
    t.same(await s.leaseTake(key, 'C', L), retiring, 'no lease on the token Y is revoking');
    t.equal(await s.leaseRetire(key, 'v1', W, 'claim-x'), 'held', "Y's claim is live");
    t.equal(await s.leaseRevive(key, 'v1', 'claim-y'), true, "Y's revoke failed: Y gives it up");
    t.equal(await s.leaseRevive(key, 'v1', 'claim-y'), false, 'once');

    t.equal(await s.leaseRetire(key, 'v1', W, 'claim-z'), 'retiring');
    await clock.advance(W + W / 2);
    t.equal(await s.leaseRevive(key, 'v1', 'claim-z'), true, 'a lapsed claim nobody took over is still its holder to give up');
    t.equal(await s.leaseRetire(key, 'v1', W, 'claim-q'), 'retiring');
    t.equal(await s.leaseDrop(key, 'v1'), true, 'revoked elsewhere and dropped');
    t.equal(await s.leaseRevive(key, 'v1', 'claim-q'), false, 'nothing to revive once dropped');
    await s.setIfAbsent(lock, 'f1', L);
    t.equal(await s.leasePut(key, 'v2', 'tok-2', L, { key: lock, value: 'f1' }, 'A', L), true, 'the next token');
    t.equal(await s.leaseRelease(key, 'A'), 0);
    t.equal(await s.leaseRetire(key, 'v2', W, 'claim-q'), 'retiring');
    t.equal(await s.leaseRevive(key, 'v1', 'claim-q'), false, 'a claim on the old version does not revive the new one');
    t.same(await s.leasePeek(key), { ...retiring, version: 'v2', value: 'tok-2' });
  });

  withStore('leases: bad input and cross-tag locks are refused, changing nothing', async (t, s) => {
    const { key, lock } = leaseKeys();
    const L = W * 100;
    await s.setIfAbsent(lock, 'f1', L);
    t.equal(await s.leasePut(key, 'v1', 'tok-1', L, { key: lock, value: 'f1' }, 'A', L), true);
    const before = await s.leasePeek(key);
    await rejectsCode(t, s.leaseTake(uniq('plain:session'), 'A', L), 'KG7002', 'key without a hash tag');
    await rejectsCode(t, s.leasePeek(`{t}${'x'.repeat(506)}`), 'KG7002', 'key too long for its leases key');
    await rejectsCode(t, s.leaseTake(key, '', L), 'KG7002', 'empty holder');
    await rejectsCode(t, s.leaseTake(key, 'h'.repeat(201), L), 'KG7002', 'holder too long');
    await rejectsCode(t, s.leaseTake(key, 'A', 0), 'KG7002', 'zero lease ttl');
    await rejectsCode(t, s.leaseTake(key, 'A', 1.5), 'KG7002', 'fractional lease ttl');
    await rejectsCode(t, s.leaseRelease(key, ''), 'KG7002', 'release: empty holder');
    await rejectsCode(t, s.leaseRetire(key, '', L, 'c1'), 'KG7002', 'retire: empty version');
    await rejectsCode(t, s.leaseRetire(key, 'v1', 0, 'c1'), 'KG7002', 'retire: zero claim ttl');
    await rejectsCode(t, s.leaseRetire(key, 'v1', L, ''), 'KG7002', 'retire: empty claimant');
    await rejectsCode(t, s.leaseRevive(key, 'v1', 'c'.repeat(201)), 'KG7002', 'revive: claimant too long');
    await rejectsCode(t, s.leaseDrop(key, ''), 'KG7002', 'drop: empty version');
    await rejectsCode(t, s.leaseDrop(key, 5 as unknown as string), 'KG7002', 'drop: version not a string');
    t.same(await s.leasePeek(key), before, 'the stored value is unchanged');

    const fresh = leaseKeys();
    await s.setIfAbsent(fresh.lock, 'f9', L);
    const okLock = { key: fresh.lock, value: 'f9' };
    const put = (over: Partial<{ version: string; value: string; ttl: number; lock: { key: string; value: string }; holder: string; leaseTtl: number }>) =>
      s.leasePut(
        fresh.key,
        over.version ?? 'v1',
        over.value ?? 'tok',
        over.ttl ?? L,
        'lock' in over ? over.lock! : okLock,
        over.holder ?? 'A',
        over.leaseTtl ?? L,
      );
    await rejectsCode(t, put({ version: '' }), 'KG7002', 'put: empty version');
    await rejectsCode(t, put({ value: 'x'.repeat(64 * 1024 + 1) }), 'KG7002', 'put: value above 64 KiB');
    await rejectsCode(t, put({ value: 7 as unknown as string }), 'KG7002', 'put: value not a string');
    await rejectsCode(t, put({ ttl: 0 }), 'KG7002', 'put: zero ttl');
    await rejectsCode(t, put({ leaseTtl: -1 }), 'KG7002', 'put: negative lease ttl');
    await rejectsCode(t, put({ holder: '' }), 'KG7002', 'put: empty holder');
    await rejectsCode(t, put({ lock: { key: uniq('{elsewhere}:lock'), value: 'f9' } }), 'KG7002', 'put: lock on another hash tag');
    await rejectsCode(t, put({ lock: { key: uniq('plain:lock'), value: 'f9' } }), 'KG7002', 'put: lock without a hash tag');
    await rejectsCode(t, put({ lock: { key: fresh.key, value: 'f9' } }), 'KG7002', 'put: lock is the value key');
    await rejectsCode(t, put({ lock: { key: fresh.lock, value: '' } }), 'KG7002', 'put: empty lock value');
    await rejectsCode(t, put({ lock: null as unknown as { key: string; value: string } }), 'KG7002', 'put: no lock');
    t.equal(await s.leasePeek(fresh.key), null, 'refused puts stored nothing');
    t.equal(await put({ value: 'x'.repeat(64 * 1024) }), true, 'a 64 KiB value is accepted');
    t.equal((await s.leasePeek(fresh.key))?.value.length, 64 * 1024);

    const str = uniq('{tok:str}:session');
    await s.set(str, 'hello');
    await rejectsCode(t, s.leaseTake(str, 'A', L), 'KG7002', 'value key holds a string');
    await rejectsCode(t, s.leasePeek(str), 'KG7002', 'peek on a string');
    t.equal(await s.get(str), 'hello', 'unchanged');
  });

  withStore('health and flush flag when healthy', async (t, s) => {
    await s.health();
    t.equal(s.flushDetected(), false);
    t.pass('healthy');
  });
}
