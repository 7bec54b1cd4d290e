// brokerTokens.maxUses / maxAgeMs: one broker token may serve a short burst of
// calls, and is still revoked at the end (uses exhausted or age reached).
import t from 'tap';
import { startHarness, waitFor } from './helpers/harness.js';

t.test('a burst token serves maxUses calls, then is revoked; an idle one is revoked at maxAgeMs', async (t) => {
  const h = await startHarness({ config: { brokerTokens: { maxUses: 5, maxAgeMs: 800 } } });
  t.teardown(() => h.close());
  const token = await h.token();
  const before = h.sim.stats();
  for (let i = 0; i < 5; i++) t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0);
  await h.waitNoLiveTokens();
  const afterBurst = h.sim.stats();
  t.equal(afterBurst.tokensIssued - before.tokensIssued, 1, 'five calls, one broker token');
  t.equal(afterBurst.tokensRevoked - before.tokensRevoked, 1, 'revoked once its uses ran out');

  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0);
  t.equal(h.sim.liveTokens(), 1, 'a fresh token stays live for the next call of the burst');
  await waitFor(() => h.sim.liveTokens() === 0, 3000, 'revocation at max age');
  t.equal(h.sim.stats().tokensIssued - afterBurst.tokensIssued, 1);
});

t.test('concurrent calls in burst mode share one issuance', async (t) => {
  const h = await startHarness({ config: { brokerTokens: { maxUses: 20, maxAgeMs: 2000 } } });
  t.teardown(() => h.close());
  const token = await h.token();
  const before = h.sim.stats().tokensIssued;
  const results = await Promise.all(Array.from({ length: 10 }, () => h.call('ka10001', { stk_cd: '005930' }, { token })));
  t.ok(results.every((r) => r.json.return_code === 0), 'all answered');
  t.equal(h.sim.stats().tokensIssued - before, 1, 'ten concurrent calls, one broker token');
  await waitFor(() => h.sim.liveTokens() === 0, 4000, 'revocation at max age');
});
