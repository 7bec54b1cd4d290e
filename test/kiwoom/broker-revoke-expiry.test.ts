// A token whose revoke failed and that expires before the next attempt would
// run is dropped as expired, not retried: the retry could only find it gone.
// One replica on Redis against the simulator, whose tokens live 10 s; the
// next revoke attempt is scheduled 30-60 s out, so it always comes too late.
import t from 'tap';
import { markToken, tokenState } from '../../proxy/kiwoom/revoke-status.js';
import { valueKey } from '../../proxy/kiwoom/session-sweep.js';
import { waitFor } from '../helpers/harness.js';
import { brokerWorld, WORLD_KEY as KEY, WORLD_OPTS } from '../helpers/broker-world.js';

async function metric(registry: { getSingleMetric(name: string): unknown }, name: string): Promise<number> {
  const m = registry.getSingleMetric(name) as { get(): Promise<{ values: { value: number }[] }> } | undefined;
  return m ? (await m.get()).values.reduce((n, v) => n + v.value, 0) : 0;
}

t.test('a failed revoke of a token that expires before the next attempt drops it as expired', async (t) => {
  const { sim, replica } = await brokerWorld(t, { tokenTtlMs: 10_000 });
  const A = await replica('replica-a', undefined, { ...WORLD_OPTS, renewBeforeMs: 1_000, revokeBaseDelayMs: 60_000, revokeMaxDelayMs: 60_000 });

  const lease = await A.sessions.acquire('bot-a');
  const mark = await markToken(A.store, KEY);
  t.ok(mark.version, 'the token is marked (as a lockdown marks it)');
  // Kiwoom refuses the revoke once; the next attempt would come after the token's expiry.
  sim.faults.set({ revokeFailNext: 1 });
  lease.release();
  // Settles once the retirement has: revoked, given up (the token leasable again), or dropped.
  await A.sessions.revokeKeyOf('bot-a');

  t.equal(await metric(A.registry, 'kguard_broker_token_revoke_failures_total'), 1, 'one attempt failed');
  t.equal(await metric(A.registry, 'kguard_broker_tokens_expired_total'), 1, 'counted as expired');
  t.equal(await A.store.leasePeek(valueKey(KEY)), null, 'the record is dropped, not kept for a retry');
  t.same(await A.ledger.entries(), [], 'the ledger entry is gone: nothing for a sweep to reissue or revoke');
  t.same(await tokenState(A.store, mark), { state: 'live' }, 'a lockdown following it: still live at Kiwoom until it expires (pending), not failed');
  t.equal(sim.liveTokens(), 1, 'indeed still live at the simulator');
  await waitFor(async () => (await tokenState(A.store, mark)).state === 'ended', 20_000, 'the token expired');
  // Kiwoom's expires_dt has whole seconds: the simulator's own expiry is up to 1 s later.
  await waitFor(() => sim.liveTokens() === 0, 20_000, 'the simulator expired it too');
  t.equal(sim.stats().tokensRevoked, 0, 'it ended by expiring: nothing was revoked');
});
