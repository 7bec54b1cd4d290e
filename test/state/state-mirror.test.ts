// The read-only fallback's security keys (proxy/state/mirror.ts), over a shared
// in-memory store that can be switched "down": a security key is judged on the
// last value read from the shared store, never on local state; unknown means
// refused; a write on any replica, a lost pub/sub connection, or a write that
// did not reach the store makes it unknown.
import t from 'tap';
import { GuardError } from '../../proxy/common/errors.js';
import { createMemoryStore, publishSecurityWrites, SECURITY_CHANNEL, withReadOnlyFallback, type Store } from '../../proxy/state/index.js';

const isSecurityKey = (k: string): boolean => k.startsWith('lock:') || k === 'ts';

function replica(shared: Store, o: { maxKeys?: number } = {}) {
  let down = false;
  let epoch = 1;
  // Every data operation fails closed while "down"; pub/sub keeps working (as a subscriber that has not noticed yet).
  const primary = new Proxy(publishSecurityWrites(shared, isSecurityKey), {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || ['publish', 'subscribe', 'close', 'flushDetected', 'health'].includes(String(prop))) return v;
      return async (...args: unknown[]) => {
        if (down) throw new GuardError('KG7001', 'unavailable');
        return v.apply(target, args);
      };
    },
  });
  const fallbacks: string[] = [];
  const refusals: string[] = [];
  const local = createMemoryStore();
  const s = withReadOnlyFallback(primary, local, {
    isReadOnlyCall: () => true,
    onFallback: (op) => fallbacks.push(op),
    security: { isSecurityKey, maxKeys: o.maxKeys, subscriberEpoch: () => epoch, onRefused: (op) => refusals.push(op) },
  });
  return {
    s,
    local,
    fallbacks,
    refusals,
    setDown: (d: boolean) => {
      down = d;
    },
    reconnect: () => {
      epoch++;
    },
  };
}

/** The memory store delivers in publish order: once the marker arrives, earlier messages were handled. */
async function settled(shared: Store): Promise<void> {
  let done!: () => void;
  const heard = new Promise<void>((r) => {
    done = r;
  });
  const un = await shared.subscribe('sync', () => done());
  await shared.publish('sync', '1');
  await heard;
  await un();
}

t.test('a security key is served from its last read value, never from local state; unknown is refused', async (t) => {
  const shared = createMemoryStore();
  const a = replica(shared);
  await settled(shared); // subscribed
  await shared.set('lock:b1', 'incident-1');
  t.same(await a.s.mget(['lock:b1', 'lock:b2', 'other']), ['incident-1', null, null], 'read while up');
  t.same(await a.s.hmget('ts', ['global', 'bot:b1']), [null, null], 'trading state read while up');
  await a.local.set('lock:b3', 'never'); // local state is not consulted for a security key
  await a.local.set('other', 'local');
  a.setDown(true);
  t.same(await a.s.mget(['lock:b1', 'lock:b2', 'other']), ['incident-1', null, 'local'], 'last known values; other keys from local state');
  t.equal(await a.s.get('lock:b1'), 'incident-1', 'get too');
  t.same(await a.s.hmget('ts', ['global', 'bot:b1']), [null, null], 'hash fields too');
  await t.rejects(a.s.get('lock:b3'), { code: 'KG7001' }, 'never read here: refused');
  await t.rejects(a.s.hmget('ts', ['global', 'bot:b2']), { code: 'KG7001' }, 'one unknown field refuses the read');
  await t.rejects(a.s.hgetall('ts'), { code: 'KG7001' }, 'a whole security hash is not kept');
  t.same(a.refusals, ['get', 'hmget', 'hgetall'], 'refusals counted');
  t.same(a.fallbacks, ['mget', 'get', 'hmget'], 'served fallbacks counted');
  await a.s.close();
});

t.test('a write on another replica, a lost subscription, a failed write: the key becomes unknown', async (t) => {
  const shared = createMemoryStore();
  const a = replica(shared);
  const b = replica(shared);
  await settled(shared);
  t.same(await a.s.mget(['lock:b1', 'lock:b2', 'lock:b3']), [null, null, null]);
  t.same(await a.s.hmget('ts', ['global', 'bot:b1']), [null, null]);

  await b.s.set('lock:b1', 'incident-2');
  await b.s.hset('ts', 'bot:b1', '{"state":"HALTED"}');
  await settled(shared);
  a.setDown(true);
  await t.rejects(a.s.get('lock:b1'), { code: 'KG7001' }, 'locked on another replica: refused');
  t.equal(await a.s.get('lock:b2'), null, 'untouched key still known');
  await t.rejects(a.s.hget('ts', 'bot:b1'), { code: 'KG7001' }, 'the changed field is unknown');
  t.equal(await a.s.hget('ts', 'global'), null, 'the other field is still known');

  await t.rejects(a.s.set('lock:b2', 'incident-3'), { code: 'KG7001' }, 'a lock that cannot reach the store fails closed');
  t.equal(await a.local.get('lock:b2'), null, 'and is not written locally');
  await t.rejects(a.s.get('lock:b2'), { code: 'KG7001' }, 'but holds: the key is unknown here');
  await t.rejects(a.s.del('lock:b3'), { code: 'KG7001' });
  await t.rejects(a.s.get('lock:b3'), { code: 'KG7001' }, 'an unlock that failed leaves the key unknown too');

  a.setDown(false);
  t.equal(await a.s.get('lock:b2'), null, 'read again once the store is back');
  a.reconnect();
  a.setDown(true);
  await t.rejects(a.s.get('lock:b2'), { code: 'KG7001' }, 'the pub/sub connection came back: messages may have been missed, all forgotten');

  a.setDown(false);
  await a.s.get('lock:b2');
  await shared.publish(SECURITY_CHANNEL, 'not json');
  await settled(shared);
  a.setDown(true);
  await t.rejects(a.s.get('lock:b2'), { code: 'KG7001' }, 'an unreadable message forgets everything');
  await a.s.close();
  await b.s.close();
});

t.test('at most maxKeys values; the least recently read go first', async (t) => {
  const shared = createMemoryStore();
  const a = replica(shared, { maxKeys: 2 });
  await settled(shared);
  await a.s.get('lock:1');
  await a.s.get('lock:2');
  await a.s.get('lock:1');
  await a.s.get('lock:3');
  a.setDown(true);
  t.equal(await a.s.get('lock:1'), null);
  t.equal(await a.s.get('lock:3'), null);
  await t.rejects(a.s.get('lock:2'), { code: 'KG7001' }, 'dropped: refused');
  await a.s.close();
});
