// A replica that has just revoked and dropped the key's token forgets the key
// in the shared ledger index; a peer may have begun the key's next token in
// between (its intent written, or its token already published). That entry
// must stay: it is how a sweep finds the peer's token if the peer dies.
// Two replicas on one Redis, in one process, against the simulator; A's
// forget is held (deterministically) until B has published its token.
import t from 'tap';
import type { Store } from '../../proxy/state/index.js';
import { waitFor } from '../helpers/harness.js';
import { brokerWorld, WORLD_KEY as KEY, WORLD_OPTS } from '../helpers/broker-world.js';
import { exposureOf } from '../../proxy/kiwoom/session-metrics.js';

/** The store whose leaseDrop answers only once `gate` opens (told when it dropped). */
function holdDrop(gate: Promise<void>, dropped: () => void): (store: Store) => Store {
  return (store) =>
    new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        if (prop !== 'leaseDrop') return v.bind(target);
        return async (...args: unknown[]) => {
          const answer = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          dropped();
          await gate;
          return answer;
        };
      },
    });
}

t.test("a revoke's forget that lands after a peer published the key's next token keeps that token's index entry", async (t) => {
  const { sim, replica } = await brokerWorld(t);
  const opts = { ...WORLD_OPTS, leaseTtlMs: 1_000 };
  let open = () => {};
  const gate = new Promise<void>((r) => {
    open = r;
  });
  let dropped = false;
  const A = await replica(
    'A',
    undefined,
    opts,
    holdDrop(gate, () => (dropped = true)),
  );
  const B = await replica('B', undefined, opts);
  (await A.sessions.acquire('bot-a')).release(); // idle: A revokes the token and drops it
  await waitFor(async () => dropped, 10_000, 'A dropped its token');
  const b = await B.sessions.acquire('bot-b');
  t.equal(sim.liveTokens(), 1, "B published the key's next token");
  open(); // A's forget lands now
  // A counts the token's exposure once it has forgotten it.
  await waitFor(async () => exposureOf(A.registry)?.secondsFor(KEY) !== undefined, 10_000, 'A forgot its token');
  t.same(
    (await A.ledger.entries()).map((e) => e.key),
    [KEY],
    "the index still names the key: B's token is live",
  );
  await B.kill();
  await waitFor(
    async () => {
      await A.sessions.sweep();
      return sim.liveTokens() === 0;
    },
    15_000,
    "A's sweep revokes the token its dead peer held",
  ).catch(() => undefined);
  t.equal(sim.liveTokens(), 0, "the dead peer's token is revoked");
  b.release();
});
