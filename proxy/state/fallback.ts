// `state.redis.readOnlyQueriesWhenDown: allow`: while Redis cannot serve,
// read-only calls (quotes, account inquiries) are judged against this
// replica's own in-memory state instead of failing closed. Orders, cancels,
// admin actions and background work still fail closed (KG7001): the wrapper
// falls back only when the caller says the current call is read-only.
//
// The security keys such a call is judged by (its session, the bot's disabled
// flag, lockdown flags, trading state: `security.isSecurityKey`) are never
// read from the local store, which is empty or stale: they come from the last
// value read from Redis on this replica (mirror.ts), and a call whose key was
// never read here, or changed since, is refused (KG7001). A write of a
// security key never falls back: it fails closed and leaves the key unknown
// here, so a lockdown, disable or kill tried during the outage holds.
import { GuardError, isGuardError } from '../common/errors.js';
import { createSecurityMirror, type SecurityMirrorOptions } from './mirror.js';
import type { Store } from './types.js';

export interface FallbackOptions {
  /** True while the current request is a read-only call (kept in AsyncLocalStorage by the server). */
  isReadOnlyCall: () => boolean;
  /** Counted and logged by the caller. */
  onFallback: (op: string) => void;
  /** The keys judged on their last value read from Redis, never on local state. */
  security?: SecurityMirrorOptions & {
    /** A read-only call refused: a security key it needs is not known on this replica. Counted and logged by the caller. */
    onRefused?: (op: string) => void;
  };
}

function unavailable(err: unknown): boolean {
  return isGuardError(err) && err.code === 'KG7001';
}

type Values = (string | null)[];

export function withReadOnlyFallback(primary: Store, local: Store, opts: FallbackOptions): Store {
  const mirror = opts.security ? createSecurityMirror(primary, opts.security) : undefined;
  const secure = (key: string): boolean => mirror?.covers(key) === true;

  async function run<T>(op: string, onPrimary: () => Promise<T>, onLocal: () => Promise<T>): Promise<T> {
    try {
      return await onPrimary();
    } catch (err) {
      if (!unavailable(err) || !opts.isReadOnlyCall()) throw err;
      opts.onFallback(op);
      return onLocal();
    }
  }

  function refuse(op: string, err: unknown): never {
    opts.security?.onRefused?.(op);
    throw new GuardError('KG7001', 'security state not known on this replica', { cause: err });
  }

  /**
   * A read of several values, the i-th from `slots[i]` ([key, field]) when that is a security key, else
   * from local state (`onLocal` gets the indexes of those). Redis' answers for security keys are recorded.
   */
  async function read(
    op: string,
    slots: readonly ([string, string | undefined] | undefined)[],
    onPrimary: () => Promise<Values>,
    onLocal: (indexes: number[]) => Promise<Values>,
  ): Promise<Values> {
    const m = mirror!;
    const token = m.begin();
    try {
      const values = await onPrimary();
      slots.forEach((s, i) => {
        if (s) m.record(token, s[0], s[1], values[i] ?? null);
      });
      return values;
    } catch (err) {
      if (!unavailable(err) || !opts.isReadOnlyCall()) throw err;
      const out = slots.map((s) => (s ? m.lookup(s[0], s[1]) : undefined));
      if (slots.some((s, i) => s && out[i] === undefined)) refuse(op, err);
      opts.onFallback(op);
      const others = slots.flatMap((s, i) => (s ? [] : [i]));
      if (others.length > 0) {
        const values = await onLocal(others);
        others.forEach((i, j) => {
          out[i] = values[j] ?? null;
        });
      }
      return out as Values;
    }
  }

  /** A write: a security key is forgotten here before and after it, and never written locally instead. */
  async function write<T>(op: string, key: string, field: string | undefined, onPrimary: () => Promise<T>, onLocal: () => Promise<T>): Promise<T> {
    if (!secure(key)) return run(op, onPrimary, onLocal);
    mirror!.forget(key, field);
    try {
      return await onPrimary();
    } finally {
      mirror!.forget(key, field);
    }
  }

  const none = async (): Promise<Values> => [];
  return {
    kind: primary.kind,
    get: async (k) =>
      secure(k)
        ? ((await read('get', [[k, undefined]], async () => [await primary.get(k)], none))[0] ?? null)
        : run(
            'get',
            () => primary.get(k),
            () => local.get(k),
          ),
    mget: (ks) =>
      ks.some(secure)
        ? read(
            'mget',
            ks.map((k) => (secure(k) ? [k, undefined] : undefined)),
            () => primary.mget(ks),
            (ix) => local.mget(ix.map((i) => ks[i]!)),
          )
        : run(
            'mget',
            () => primary.mget(ks),
            () => local.mget(ks),
          ),
    set: (k, v, ttl) =>
      write(
        'set',
        k,
        undefined,
        () => primary.set(k, v, ttl),
        () => local.set(k, v, ttl),
      ),
    setIfAbsent: (k, v, ttl) =>
      write(
        'setIfAbsent',
        k,
        undefined,
        () => primary.setIfAbsent(k, v, ttl),
        () => local.setIfAbsent(k, v, ttl),
      ),
    setIfUnchanged: (k, expected, v, ttl) =>
      write(
        'setIfUnchanged',
        k,
        undefined,
        () => primary.setIfUnchanged(k, expected, v, ttl),
        () => local.setIfUnchanged(k, expected, v, ttl),
      ),
    swap: (k, v, ttl) =>
      write(
        'swap',
        k,
        undefined,
        () => primary.swap(k, v, ttl),
        () => local.swap(k, v, ttl),
      ),
    del: (k) =>
      write(
        'del',
        k,
        undefined,
        () => primary.del(k),
        () => local.del(k),
      ),
    incr: (k, by, ttl) =>
      write(
        'incr',
        k,
        undefined,
        () => primary.incr(k, by, ttl),
        () => local.incr(k, by, ttl),
      ),
    expire: (k, ttl) =>
      write(
        'expire',
        k,
        undefined,
        () => primary.expire(k, ttl),
        () => local.expire(k, ttl),
      ),
    hget: async (k, f) =>
      secure(k)
        ? ((await read('hget', [[k, f]], async () => [await primary.hget(k, f)], none))[0] ?? null)
        : run(
            'hget',
            () => primary.hget(k, f),
            () => local.hget(k, f),
          ),
    hmget: (k, fs) =>
      secure(k)
        ? read(
            'hmget',
            fs.map((f) => [k, f]),
            () => primary.hmget(k, fs),
            none,
          )
        : run(
            'hmget',
            () => primary.hmget(k, fs),
            () => local.hmget(k, fs),
          ),
    hset: (k, f, v, ttl) =>
      write(
        'hset',
        k,
        f,
        () => primary.hset(k, f, v, ttl),
        () => local.hset(k, f, v, ttl),
      ),
    hdel: (k, f) =>
      write(
        'hdel',
        k,
        f,
        () => primary.hdel(k, f),
        () => local.hdel(k, f),
      ),
    hgetall: (k) =>
      secure(k)
        ? // A whole security hash is not kept (which fields exist is not known): refused during an outage.
          primary.hgetall(k).catch((err: unknown) => (unavailable(err) && opts.isReadOnlyCall() ? refuse('hgetall', err) : Promise.reject(err)))
        : run(
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
    refund: (ls) =>
      run(
        'refund',
        () => primary.refund(ls),
        () => local.refund(ls),
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
    leaseRetire: (k, ver, claimTtl, claimant) =>
      run(
        'leaseRetire',
        () => primary.leaseRetire(k, ver, claimTtl, claimant),
        () => local.leaseRetire(k, ver, claimTtl, claimant),
      ),
    leaseRevive: (k, ver, claimant) =>
      run(
        'leaseRevive',
        () => primary.leaseRevive(k, ver, claimant),
        () => local.leaseRevive(k, ver, claimant),
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
    time: primary.time && (() => primary.time!()),
    flushDetected: () => primary.flushDetected(),
    confirmFlush: () => primary.confirmFlush(),
    close: async () => {
      await mirror?.close();
      await Promise.all([primary.close(), local.close()]);
    },
  };
}
