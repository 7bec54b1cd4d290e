import t from 'tap';
import { createMemoryStore, withReadOnlyFallback, type Store } from '../../proxy/state/index.js';
import { GuardError } from '../../proxy/common/errors.js';
import { isGuardError } from '../../proxy/common/errors.js';
import { runStoreContract } from './state-contract.js';

function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: async (ms: number) => {
      now += ms;
    },
  };
}

runStoreContract(t, {
  name: 'memory',
  windowMs: 1000,
  async create() {
    const clock = fakeClock();
    return { store: createMemoryStore({ now: clock.now }), clock };
  },
});

t.test('memory: exact sliding boundary at the millisecond', async (t) => {
  const c = fakeClock();
  const s = createMemoryStore({ now: c.now });
  const lim = { key: 'k', limit: 1, windowMs: 1000 };
  t.equal((await s.consume([lim])).allowed, true);
  await c.advance(999);
  const d = await s.consume([lim]);
  t.equal(d.allowed, false, 'still inside at +999');
  t.equal(d.retryAfterMs, 1, 'retryAfter is exactly 1 ms');
  await c.advance(1);
  t.equal((await s.consume([lim])).allowed, true, 'free at exactly +1000');
  await s.close();
});

t.test('memory: fixed window retryAfter is exact', async (t) => {
  const c = fakeClock();
  const s = createMemoryStore({ now: c.now });
  const lim = { key: 'd', limit: 1, windowMs: 1000, mode: 'fixed' as const };
  await s.consume([lim]);
  await c.advance(250);
  t.equal((await s.consume([lim])).retryAfterMs, 750);
  await c.advance(750);
  t.same(await s.peek([lim]), [0]);
  await s.close();
});

t.test('memory: sweep frees expired keys and maxKeys bounds memory', async (t) => {
  const c = fakeClock();
  const s = createMemoryStore({ now: c.now, maxKeys: 3, sweepIntervalMs: 10 });
  await s.set('a', '1', 100);
  await s.set('b', '1', 100);
  await s.set('c', '1');
  try {
    await s.set('d', '1');
    t.fail('should be full');
  } catch (err) {
    t.ok(isGuardError(err) && err.code === 'KG7001', 'full store fails closed');
  }
  t.equal(await s.get('d'), null);
  await s.set('c', '2'); // overwriting an existing key needs no room
  try {
    await s.consume([
      { key: '{x}1', limit: 5, windowMs: 100 },
      { key: '{x}2', limit: 5, windowMs: 100 },
    ]);
    t.fail('should be full');
  } catch (err) {
    t.ok(isGuardError(err) && err.code === 'KG7001', 'consume needing new keys fails when full');
  }
  await c.advance(100);
  await new Promise((r) => setTimeout(r, 30)); // let the real sweep timer run
  await s.set('d', '1');
  t.equal(await s.get('d'), '1', 'room after expiry');
  await s.close();
});

t.test('memory: closed store refuses work; health throws', async (t) => {
  const s = createMemoryStore();
  await s.close();
  await t.rejects(s.get('x'), { code: 'KG7001' });
  await t.rejects(s.health(), { code: 'KG7001' });
});

t.test('memory: a throwing subscriber does not break others', async (t) => {
  const s = createMemoryStore();
  const got: string[] = [];
  await s.subscribe('c', () => {
    throw new Error('boom');
  });
  const done = new Promise<void>((resolve) => {
    void s.subscribe('c', (m) => {
      got.push(m);
      resolve();
    });
  });
  await new Promise((r) => setImmediate(r));
  await s.publish('c', 'm');
  await done;
  t.same(got, ['m']);
  await s.close();
});

t.test('memory: concurrent consumers never overshoot', async (t) => {
  const s = createMemoryStore();
  const lim = { key: '{b}k', limit: 50, windowMs: 60_000 };
  const day = { key: '{b}d', limit: 70, windowMs: 60_000, mode: 'fixed' as const };
  const results = await Promise.all(Array.from({ length: 200 }, () => s.consume([lim, day])));
  t.equal(results.filter((r) => r.allowed).length, 50);
  t.same(await s.peek([lim, day]), [50, 50]);
  await s.close();
});

t.test('memory: slot stamps and lease expiry are exact to the millisecond', async (t) => {
  const c = fakeClock();
  const s = createMemoryStore({ now: c.now });
  const req = (id: string) => ({ key: '{g}q', pauseKey: '{g}p', limit: 1, windowMs: 1000, holdMs: 50, id });
  t.same(await s.takeSlot(req('a')), { granted: true, retryAfterMs: 0 });
  t.same(await s.takeSlot(req('b')), { granted: false, retryAfterMs: 1050 }, 'held: stamp now + holdMs');
  await c.advance(20);
  await s.settleSlot('{g}q', 'a', 1000);
  t.same(await s.takeSlot(req('b')), { granted: false, retryAfterMs: 1000 }, 'settled at +20: free at +1020');
  await c.advance(999);
  t.same(await s.takeSlot(req('b')), { granted: false, retryAfterMs: 1 }, 'still inside at +1019');
  await c.advance(1);
  t.same(await s.takeSlot(req('b')), { granted: true, retryAfterMs: 0 }, 'free at exactly +1020');
  await s.pauseSlots('{g}p', 300);
  await c.advance(100);
  await s.pauseSlots('{g}p', 150);
  t.same(await s.takeSlot(req('c')), { granted: false, retryAfterMs: 200 }, 'the longer pause stands');

  await s.setIfAbsent('{v}lock', 'f', 10_000);
  t.equal(await s.leasePut('{v}s', 'v1', 'tok', 10_000, { key: '{v}lock', value: 'f' }, 'A', 500), true);
  await c.advance(499);
  t.equal(await s.leaseRetire('{v}s', 'v1', 200, 'c1'), 'held', 'lease live until +500');
  await c.advance(1);
  t.equal(await s.leaseRetire('{v}s', 'v1', 200, 'c1'), 'retiring', 'lapsed at exactly +500');
  await c.advance(199);
  t.equal(await s.leaseRetire('{v}s', 'v1', 200, 'c1'), 'held', 'claim live until +200');
  await c.advance(1);
  t.equal(await s.leaseRetire('{v}s', 'v1', 200, 'c1'), 'retiring', 'claim lapsed at exactly +200');
  await s.close();
});

t.test('read-only fallback: slots and leases of a read-only call fall back to local state; of any other call they fail closed', async (t) => {
  const down = new Proxy({} as Store, {
    get: (_, prop) =>
      prop === 'kind'
        ? 'redis'
        : prop === 'close'
          ? async () => {}
          : async () => {
              throw new GuardError('KG7001', 'unavailable');
            },
  });
  const local = createMemoryStore();
  const fallbacks: string[] = [];
  let readOnly = false;
  const s = withReadOnlyFallback(down, local, { isReadOnlyCall: () => readOnly, onFallback: (op) => fallbacks.push(op) });
  readOnly = true;
  t.equal(await s.get('k'), null, 'a read falls back to local state');
  const lock = { key: '{v}lock', value: 'f' };
  await local.setIfAbsent(lock.key, lock.value, 10_000);
  const calls: [string, () => Promise<unknown>][] = [
    ['takeSlot', () => s.takeSlot({ key: '{g}q', pauseKey: '{g}p', limit: 1, windowMs: 1000, holdMs: 0, id: 'a' })],
    ['settleSlot', () => s.settleSlot('{g}q', 'a', 1000)],
    ['pauseSlots', () => s.pauseSlots('{g}p', 1000)],
    ['leaseTake', () => s.leaseTake('{v}s', 'A', 1000)],
    ['leaseRelease', () => s.leaseRelease('{v}s', 'A')],
    ['leasePut', () => s.leasePut('{v}s', 'v1', 'tok', 1000, lock, 'A', 1000)],
    ['leaseRetire', () => s.leaseRetire('{v}s', 'v1', 1000, 'c1')],
    ['leaseRevive', () => s.leaseRevive('{v}s', 'v1', 'c1')],
    ['leaseDrop', () => s.leaseDrop('{v}s', 'v1')],
    ['leasePeek', () => s.leasePeek('{v}s')],
  ];
  readOnly = false;
  for (const [name, call] of calls) await t.rejects(call(), { code: 'KG7001' }, `${name} fails closed for an order`);
  t.same(fallbacks, ['get'], 'only the read-only call fell back');
  t.equal(await local.leasePeek('{v}s'), null, 'nothing was written locally');
  readOnly = true;
  for (const [name, call] of calls) await t.resolves(call(), `${name} served on local state for a read-only call`);
  t.same(
    fallbacks.slice(1),
    calls.map(([name]) => name),
    'each counted as a fallback',
  );
  await s.close();
});
