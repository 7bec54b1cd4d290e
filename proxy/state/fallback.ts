// `state.redis.readOnlyQueriesWhenDown: allow`: while Redis cannot serve,
// read-only calls (quotes, account inquiries) are judged against this
// replica's own in-memory state instead of failing closed. Orders, cancels,
// admin actions and background work still fail closed (KG7001): the wrapper
// falls back only when the caller says the current call is read-only.
import { isGuardError } from '../common/errors.js';
import type { Store } from './types.js';

export interface FallbackOptions {
  /** True while the current request is a read-only call (kept in AsyncLocalStorage by the server). */
  isReadOnlyCall: () => boolean;
  /** Counted and logged by the caller. */
  onFallback: (op: string) => void;
}

function unavailable(err: unknown): boolean {
  return isGuardError(err) && err.code === 'KG7001';
}

export function withReadOnlyFallback(primary: Store, local: Store, opts: FallbackOptions): Store {
  async function run<T>(op: string, onPrimary: () => Promise<T>, onLocal: () => Promise<T>): Promise<T> {
    try {
      return await onPrimary();
    } catch (err) {
      if (!unavailable(err) || !opts.isReadOnlyCall()) throw err;
      opts.onFallback(op);
      return onLocal();
    }
  }
  return {
    kind: primary.kind,
    get: (k) =>
      run(
        'get',
        () => primary.get(k),
        () => local.get(k),
      ),
    mget: (ks) =>
      run(
        'mget',
        () => primary.mget(ks),
        () => local.mget(ks),
      ),
    set: (k, v, ttl) =>
      run(
        'set',
        () => primary.set(k, v, ttl),
        () => local.set(k, v, ttl),
      ),
    setIfAbsent: (k, v, ttl) =>
      run(
        'setIfAbsent',
        () => primary.setIfAbsent(k, v, ttl),
        () => local.setIfAbsent(k, v, ttl),
      ),
    del: (k) =>
      run(
        'del',
        () => primary.del(k),
        () => local.del(k),
      ),
    incr: (k, by, ttl) =>
      run(
        'incr',
        () => primary.incr(k, by, ttl),
        () => local.incr(k, by, ttl),
      ),
    expire: (k, ttl) =>
      run(
        'expire',
        () => primary.expire(k, ttl),
        () => local.expire(k, ttl),
      ),
    hget: (k, f) =>
      run(
        'hget',
        () => primary.hget(k, f),
        () => local.hget(k, f),
      ),
    hmget: (k, fs) =>
      run(
        'hmget',
        () => primary.hmget(k, fs),
        () => local.hmget(k, fs),
      ),
    hset: (k, f, v, ttl) =>
      run(
        'hset',
        () => primary.hset(k, f, v, ttl),
        () => local.hset(k, f, v, ttl),
      ),
    hdel: (k, f) =>
      run(
        'hdel',
        () => primary.hdel(k, f),
        () => local.hdel(k, f),
      ),
    hgetall: (k) =>
      run(
        'hgetall',
        () => primary.hgetall(k),
        () => local.hgetall(k),
      ),
    consume: (ls) =>
      run(
        'consume',
        () => primary.consume(ls),
        () => local.consume(ls),
      ),
    peek: (ls) =>
      run(
        'peek',
        () => primary.peek(ls),
        () => local.peek(ls),
      ),
    // A read-only call judged on local state also keeps Kiwoom's limits and
    // its key's broker session on local state: per replica while Redis is
    // down (peers may then use the key's token at the same time; Kiwoom's own
    // [1700]/[8005] are handled by the upstream path). Orders never get here.
    takeSlot: (req) =>
      run(
        'takeSlot',
        () => primary.takeSlot(req),
        () => local.takeSlot(req),
      ),
    settleSlot: (k, id, w) =>
      run(
        'settleSlot',
        () => primary.settleSlot(k, id, w),
        () => local.settleSlot(k, id, w),
      ),
    pauseSlots: (k, ms) =>
      run(
        'pauseSlots',
        () => primary.pauseSlots(k, ms),
        () => local.pauseSlots(k, ms),
      ),
    leaseTake: (k, h, ttl) =>
      run(
        'leaseTake',
        () => primary.leaseTake(k, h, ttl),
        () => local.leaseTake(k, h, ttl),
      ),
    leaseRelease: (k, h) =>
      run(
        'leaseRelease',
        () => primary.leaseRelease(k, h),
        () => local.leaseRelease(k, h),
      ),
    leasePut: (k, ver, v, ttl, lock, h, leaseTtl) =>
      run(
        'leasePut',
        () => primary.leasePut(k, ver, v, ttl, lock, h, leaseTtl),
        () => local.leasePut(k, ver, v, ttl, lock, h, leaseTtl),
      ),
    leaseRetire: (k, ver, claimTtl) =>
      run(
        'leaseRetire',
        () => primary.leaseRetire(k, ver, claimTtl),
        () => local.leaseRetire(k, ver, claimTtl),
      ),
    leaseDrop: (k, ver) =>
      run(
        'leaseDrop',
        () => primary.leaseDrop(k, ver),
        () => local.leaseDrop(k, ver),
      ),
    leasePeek: (k) =>
      run(
        'leasePeek',
        () => primary.leasePeek(k),
        () => local.leasePeek(k),
      ),
    publish: (c, m) => primary.publish(c, m),
    subscribe: (c, h) => primary.subscribe(c, h),
    health: () => primary.health(),
    flushDetected: () => primary.flushDetected(),
    confirmFlush: () => primary.confirmFlush(),
    close: async () => {
      await Promise.all([primary.close(), local.close()]);
    },
  };
}
