// kguard_broker_token_reissues_total{reason="renew"} counts tokens given up
// for renewal: a replica waiting for a peer to let go of a token due for
// renewal counts that renewal once, not once per look at the shared Store.
import t from 'tap';
import { brokerWorld, WORLD_OPTS } from '../helpers/broker-world.js';
import { sleep, waitFor } from '../helpers/harness.js';

async function renewals(registry: { getSingleMetricAsString(name: string): Promise<string> }): Promise<number> {
  const text = await registry.getSingleMetricAsString('kguard_broker_token_reissues_total');
  return Number(/reason="renew"\} (\d+)/.exec(text)?.[1] ?? 0);
}

t.test('a token due for renewal held by a peer: the waiting replica counts one renewal', async (t) => {
  // A 60 s token, due for renewal once under 57 s are left.
  const { sim, replica } = await brokerWorld(t, { tokenTtlMs: 60_000 });
  const opts = { ...WORLD_OPTS, renewBeforeMs: 57_000 };
  const A = await replica('A', undefined, opts);
  const B = await replica('B', undefined, opts);
  const held = await A.sessions.acquire('bot-a');
  await waitFor(() => Date.now() > held.renewAt + 50, 10_000, 'the token to be due for renewal');
  const waiting = B.sessions.acquire('bot-b');
  // B looks at the shared Store again and again while A's call holds the token.
  await sleep(1_000); // B waits a while
  held.release();
  const lease = await waiting;
  t.not(lease.fingerprint, held.fingerprint, 'B got a fresh token');
  lease.release();
  t.equal(sim.stats().tokensIssued, 2, 'one renewal at Kiwoom');
  t.equal(await renewals(B.registry), 1, 'B counted it once');
  t.ok((await renewals(A.registry)) <= 1, 'A at most once');
});
