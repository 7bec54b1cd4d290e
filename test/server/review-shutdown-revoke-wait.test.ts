// At shutdown the sidecar waits brokerTokens.shutdownRevokeMs (5 s by default) for its broker tokens to be
// revoked. An operator reading the log after a rollout must be able to tell "every token ended" from "some were
// still live at Kiwoom when the wait ran out", and to fit the wait inside the pod's grace period.
import t from 'tap';
import { loadConfig } from '../../proxy/common/config.js';
import { startHarness, waitFor } from '../helpers/harness.js';

const shutdownLines = (logs: string) =>
  logs
    .split('\n')
    .filter((l) => l.includes('"msg":"shutdown: '))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('the wait is a knob with a default and bounds', async (t) => {
  t.equal((await loadConfig({ env: {} })).brokerTokens.shutdownRevokeMs, 5_000);
  t.equal((await loadConfig({ env: { KGUARD_BROKER_TOKENS__SHUTDOWN_REVOKE_MS: '30000' } })).brokerTokens.shutdownRevokeMs, 30_000);
  await t.rejects(loadConfig({ env: {}, overrides: { brokerTokens: { shutdownRevokeMs: -1 } } }), { code: 'KG9003' });
});

t.test('tokens revoked at shutdown: the log says every one was let go', async (t) => {
  const h = await startHarness({ config: { brokerTokens: { idleRevokeMs: 600_000 } } });
  t.equal((await h.call('ka10001', { stk_cd: '005930' })).status, 200);
  t.equal(h.sim.liveTokens(), 1, 'the token lingers after the call (idleRevokeMs)');
  await h.close();
  t.equal(h.sim.liveTokens(), 0, 'revoked by the drain');
  t.match(shutdownLines(h.logs()), [{ level: 'info', released: 1, msg: /every broker token this replica held was let go/ }]);
});

t.test('a revoke Kiwoom does not answer within the wait: the log names the key left live, not "released"', async (t) => {
  const h = await startHarness({ config: { brokerTokens: { idleRevokeMs: 600_000, shutdownRevokeMs: 200 } } });
  t.equal((await h.call('ka10001', { stk_cd: '005930' })).status, 200);
  await waitFor(() => h.sim.liveTokens() === 1, 20_000, 'a live token');
  h.sim.faults.set({ revokeLatencyMs: 120_000 });
  await h.close();
  const [line] = shutdownLines(h.logs());
  t.match(line, { level: 'warn', released: 0, live: 1, keys: [/^[0-9a-f]+$/], shutdownRevokeMs: 200, msg: /still live at Kiwoom when the wait ended/ });
  t.notMatch(h.logs(), /CANARY/, 'the key is named by its keyed fingerprint only');
});
