// Broker sessions on a real Redis that hangs (SIGSTOP) right when a key's
// issue lock is taken or its token's retirement is claimed. The write timed
// out here (the call failed closed, KG7001) but Redis runs it when it wakes:
// a lock or a claim that nobody holds. Once Redis answers again the key must
// be usable: not shut until that lock or claim lapses.
import t from 'tap';
import { isGuardError } from '../../proxy/common/errors.js';
import type { Store } from '../../proxy/state/index.js';
import { brokerWorld, WORLD_OPTS } from '../helpers/broker-world.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The store whose first `op` runs while Redis hangs: Redis is stopped before it is sent and goes on after it failed here. */
function hangOnFirst(op: 'setIfAbsent' | 'leaseRetire', redis: { pause(): void; resume(): void }, seen: { hung: boolean }) {
  return (store: Store): Store =>
    new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        if (prop !== op) return v.bind(target);
        return async (...args: unknown[]) => {
          if (seen.hung) return (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          seen.hung = true;
          redis.pause();
          try {
            return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            redis.resume();
          }
        };
      },
    });
}

async function healthy(store: Store): Promise<void> {
  for (;;) {
    if (
      await store.health().then(
        () => true,
        () => false,
      )
    )
      return;
    await sleep(50);
  }
}

const outcome = (p: Promise<{ release(): void }>) =>
  p.then(
    (l) => {
      l.release();
      return 'leased';
    },
    (e: unknown) => (isGuardError(e) ? e.code : String(e)),
  );

// Long lock and claim times (a minute), a short wait for the token: the key must come back well before either lapses.
const OPTS = { ...WORLD_OPTS, issueLockTtlMs: 60_000, leaseTtlMs: 2_000, sessionWaitMs: 5_000 };

t.test("an issue lock taken while Redis hung does not keep the key's token from being issued", async (t) => {
  const { redis, replica } = await brokerWorld(t);
  const seen = { hung: false };
  const A = await replica('A', undefined, OPTS, hangOnFirst('setIfAbsent', redis, seen));
  t.equal(await outcome(A.sessions.acquire('bot-1')), 'KG7001', 'the call during the hang fails closed');
  t.ok(seen.hung);
  await healthy(A.store);
  t.equal(await outcome(A.sessions.acquire('bot-1')), 'leased', 'once Redis answers, the next call gets the token');
});

t.test("a retirement claimed while Redis hung does not keep the key's token from being leased", async (t) => {
  const { redis, replica, sim } = await brokerWorld(t);
  const seen = { hung: false };
  const A = await replica('A', undefined, OPTS, hangOnFirst('leaseRetire', redis, seen));
  const lease = await A.sessions.acquire('bot-1');
  lease.release(); // idle: its retirement is claimed while Redis hangs
  for (let i = 0; i < 400 && !seen.hung; i++) await sleep(10);
  t.ok(seen.hung, 'the retirement was claimed during the hang');
  await healthy(A.store);
  t.equal(await outcome(A.sessions.acquire('bot-1')), 'leased', 'once Redis answers, the next call gets a token');
  await A.sessions.drain(5_000);
  t.equal(sim.liveTokens(), 0, 'and it is revoked when idle');
});
