// A replica whose issue failed (Kiwoom refused it) while a peer had just
// published the key's token must not drop the key from the shared ledger
// index: the index is how a sweep finds the peer's token if the peer dies.
// Two replicas on one Redis, in one process, against the simulator; B's look
// at the key misses A's token once (the race: A published between B's look
// and B's lock), and Kiwoom refuses B's au10001.
import t from 'tap';
import type { Store } from '../../proxy/state/index.js';
import { waitFor } from '../helpers/harness.js';
import { brokerWorld, WORLD_KEY as KEY, WORLD_OPTS } from '../helpers/broker-world.js';

/** The store whose first leaseTake answers "no token" (a peer published right after). */
function missOnce(): (store: Store) => Store {
  let missed = false;
  return (store) =>
    new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        if (prop !== 'leaseTake') return v.bind(target);
        return async (...args: unknown[]) => {
          if (!missed) {
            missed = true;
            return null;
          }
          return (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      },
    });
}

t.test("a failed issue keeps the index entry of the token a peer published: the peer's death still ends in a revoke", async (t) => {
  const { sim, replica } = await brokerWorld(t);
  const opts = { ...WORLD_OPTS, leaseTtlMs: 1_000 };
  const A = await replica('A', undefined, opts);
  const B = await replica('B', undefined, opts, missOnce());
  const a = await A.sessions.acquire('bot-a');
  t.equal(sim.liveTokens(), 1, "A holds the key's token");
  sim.faults.set({ tokenFailNext: 1 });
  const err = await B.sessions.acquire('bot-b').then(
    (l) => {
      l.release();
      return undefined;
    },
    (e: unknown) => e,
  );
  t.ok(err, "B's issue was refused");
  t.same(
    (await B.ledger.entries()).map((e) => e.key),
    [KEY],
    "the index still names the key: A's token is live",
  );
  // A dies holding its token; its lease lapses and B's sweep must find the token.
  await A.kill();
  await waitFor(
    async () => {
      await B.sessions.sweep();
      return sim.liveTokens() === 0;
    },
    15_000,
    "B's sweep revokes the token its dead peer held",
  ).catch(() => undefined);
  t.equal(sim.liveTokens(), 0, "the dead peer's token is revoked");
  a.release();
});
