// A lockdown pressed while an order is already past the pipeline's lockdown
// stage (scoring, market data, the audit fsync, a governor slot, the key's
// broker token) must still stop it: the order is checked against the lock
// flags once more right before it is written to Kiwoom. Queued calls of the
// locking replica were refused already; this covers the rest (the stages in
// between, a token issue, other replicas' queues).
import t from 'tap';
import { holdTokenIssues } from '../helpers/gates.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

let h: Harness;
t.before(async () => {
  h = await startHarness();
});
t.teardown(() => h.close());

const buysSent = () => h.sim.requestLog().filter((r) => r.apiId === 'kt10000').length;

t.test('an order waiting for its broker token when a lockdown is pressed is refused, not sent', async (t) => {
  const token = await h.token();
  await h.waitNoLiveTokens();
  const { waiting, release } = holdTokenIssues(t, h);

  const before = buysSent();
  const answer = h.call('kt10000', ORDER, { token });
  await waiting; // the order is in its forward stage, past the lockdown check
  const { responder } = h.sidecar.parts;
  const issued = responder.lockdown({ botId: h.botId, reason: 'in-flight order test', actor: 'sec-lead' });
  await waitFor(async () => (await responder.lockedBy(h.botId, CANARY.account)) !== undefined, 20_000, 'the lock flags');
  release();
  const r = await answer;
  await issued;
  t.match(String(r.json.return_msg), /\[KG3008/, `refused as locked down: ${r.text}`);
  t.equal(buysSent(), before, 'the order never reached Kiwoom');
});

t.test('an order waiting for its broker token when its bot is disabled is refused, not sent', async (t) => {
  // Another bot: the first one is locked down now.
  const id = 'bot-disabled';
  const token = await h.addBot(id, ['kind:query', 'kind:order']);
  await h.waitNoLiveTokens();
  const { waiting, release } = holdTokenIssues(t, h);
  const before = buysSent();
  const answer = h.call('kt10000', ORDER, { token });
  await waiting;
  const { botControl, sessions } = h.sidecar.parts;
  const disabling = botControl.disable(id, 'in-flight order test');
  await waitFor(() => sessions.isDisabled(id), 20_000, 'the bot disabled');
  release();
  const r = await answer;
  await disabling;
  t.match(String(r.json.return_msg), /\[KG200[67]/, `refused as a disabled bot: ${r.text}`);
  t.equal(buysSent(), before, 'the order never reached Kiwoom');
});

t.test('an order waiting for its broker token when operators halt trading is refused, naming the trading state', async (t) => {
  const id = 'bot-halted';
  const token = await h.addBot(id, ['kind:query', 'kind:order']);
  await h.waitNoLiveTokens();
  const { waiting, release } = holdTokenIssues(t, h);
  const before = buysSent();
  const answer = h.call('kt10000', ORDER, { token });
  await waiting; // judged under ACTIVE
  const { policy } = h.sidecar.parts;
  await policy.setTradingState({ botId: id }, 'HALTED', 'ops halt');
  release();
  const r = await answer;
  t.match(String(r.json.return_msg), /\[KG3001:rule=builtin\.trading-state trading became HALTED at bot scope \(ops halt\)/, `refused: ${r.text}`);
  t.equal(buysSent(), before, 'the order never reached Kiwoom');

  await policy.setTradingState({ botId: id }, 'ACTIVE', 'resumed');
  const again = await h.call('kt10000', ORDER, { token });
  t.equal(again.json.return_code, 0, `sent again once trading resumed: ${again.text}`);
});
