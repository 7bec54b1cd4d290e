// A Redis that hung longer than a lease lets every lease lapse, the live
// replicas' included: their refresh could not reach it. When it wakes, a
// peer's sweep must not take a live holder for a dead one and revoke the
// key's token under its calls; the holder's next refresh (every leaseTtlMs/3)
// puts its lease back. A replica that really died is still swept.
import t from 'tap';
import { valueKey } from '../../proxy/kiwoom/session-sweep.js';
import { waitFor } from '../helpers/harness.js';
import { brokerWorld, WORLD_KEY as KEY, WORLD_OPTS } from '../helpers/broker-world.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

t.test("a sweep right after a long Redis hang does not revoke a live replica's token", async (t) => {
  const { sim, replica, redis } = await brokerWorld(t);
  const opts = { ...WORLD_OPTS, leaseTtlMs: 1_000 };
  const A = await replica('A', undefined, opts);
  const B = await replica('B', undefined, opts);
  const lease = await A.sessions.acquire('bot-a'); // a call in flight on A
  redis.pause();
  try {
    // Longer than a lease: A's refresh cannot reach Redis, its lease lapses.
    const until = Date.now() + 2 * opts.leaseTtlMs;
    while (Date.now() < until) await sleep(100);
  } finally {
    redis.resume();
  }
  await waitFor(
    async () =>
      await B.store.health().then(
        () => true,
        () => false,
      ),
    10_000,
    'Redis answers',
  );
  await B.sessions.sweep();
  t.equal(sim.liveTokens(), 1, "the token A's call holds is not revoked by B's sweep");
  // A's refresh puts its lease back; later sweeps leave it alone.
  await waitFor(async () => ((await B.store.leasePeek(valueKey(KEY)))?.leases ?? 0) > 0, 10_000, "A's lease is back");
  await B.sessions.sweep();
  t.equal(sim.liveTokens(), 1, 'still live while A holds it');
  lease.release();
  await waitFor(async () => sim.liveTokens() === 0, 10_000, 'revoked once A let go');
  t.equal(sim.liveTokens(), 0);
});
