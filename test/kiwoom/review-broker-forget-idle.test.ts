// A replica kept, for every app key it ever served, the key's broker-session
// state and its governor lanes until it restarted: a trading service whose
// customers come and go grew by each key gone (measured before: 2,000
// customers served then offboarded left 2,000 key states and 4,000 lanes).
// The sweeper now forgets a key once it has no token, nothing under way and
// no call for brokerTokens.forgetIdleMs; a key in use is never forgotten,
// and a forgotten key's next call works as after a restart.
import t from 'tap';
import { waitFor } from '../helpers/harness.js';
import { brokerWorld, WORLD_KEY as KEY, WORLD_OPTS } from '../helpers/broker-world.js';

/** What the replica holds for the key (private maps, read for the check): its state, its governor lanes (query, token). */
function held(r: { sessions: unknown; governor: unknown }): { state: boolean; lanes: number } {
  const keys = (r.sessions as { keys: Map<string, unknown> }).keys;
  const lanes = (r.governor as { lanes: Map<string, unknown> }).lanes;
  return { state: keys.has(KEY), lanes: [...lanes.keys()].filter((id) => id.startsWith(`${KEY}:`)).length };
}

t.test('a key idle past forgetIdleMs is forgotten by the sweep; one in use is not; its next call works', async (t) => {
  const { sim, replica } = await brokerWorld(t);
  const A = await replica('A', undefined, { ...WORLD_OPTS, sessionWaitMs: 3_000, forgetIdleMs: 1_000 });
  const call = async () => {
    const permit = await A.governor.admit({ key: KEY, cls: 'query', botId: 'bot-a', priority: 'normal' });
    const lease = await A.sessions.acquire('bot-a');
    return () => {
      lease.release();
      permit.settle();
    };
  };

  const done = await call();
  t.same(held(A), { state: true, lanes: 2 }, 'a call leaves the key known');
  await A.sessions.sweep();
  t.same(held(A), { state: true, lanes: 2 }, 'a key whose token a call holds is not forgotten');
  done();
  await waitFor(async () => sim.liveTokens() === 0, 10_000, 'the idle token revoked');
  await A.sessions.sweep();
  t.ok(held(A).state, 'a key called just now is not forgotten');

  await waitFor(
    async () => {
      await A.sessions.sweep();
      return !held(A).state;
    },
    30_000,
    'the sweep forgets the idle key (after twice sessionWaitMs)',
  );
  t.same(held(A), { state: false, lanes: 0 }, 'its state and governor lanes are gone');

  const issued = sim.stats().tokensIssued;
  (await call())();
  t.equal(sim.stats().tokensIssued, issued + 1, 'its next call got a token again');
  t.same(held(A), { state: true, lanes: 2 });
});
