// Removing a bot deleted its risk baseline (resetBaseline) but left the rest of what the engine kept for it: the
// owner's refusal of a held call (every order within 24 h locks the bot down), the calls above step-up counted
// toward escalation (72 h), the unapproved hold being followed and the owner's approval grace. A bot registered
// again under the same id — the usual way back after a compromise: remove, re-add, new secret — had its first
// order locked down again by the refusal that ended the old one. Now the reset forgets all of it.
import t from 'tap';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

t.test('a reset bot starts again: no refusal, escalation count, follow-up, grace or last call carried over', async (t) => {
  const clock = seoulToEpoch('2026-01-05', 10, 0);
  const { engine, store, at, close } = riskEngineSetup();
  t.teardown(close);
  at(clock);
  const order = riskInput({ apiId: 'kt10000', kind: 'order', side: 'buy', qty: 1, price: 74_000, now: clock + 60_000 });
  await engine.noteRefused('b1', clock);
  const before = await engine.assess(order);
  t.ok(
    before.contributions.some((c) => c.detector === 'escalation'),
    'before the reset: an order after the refusal is escalated',
  );
  await store.set('risk:grace:b1', JSON.stringify({ at: clock, detectors: ['location'] }), 1_800_000);
  await store.set('risk:follow:b1', String(clock), 3_600_000);

  t.not(await store.get('risk:prev:b1'), null, "its last call is kept (the next order's lead-in)");

  await engine.resetBaseline('b1');
  t.equal(await store.get('risk:prev:b1'), null, "the last call forgotten: the new bot's first order follows nothing of the old one");
  const after = await engine.assess({ ...order, now: clock + 120_000 });
  t.notOk(
    after.contributions.some((c) => c.detector === 'escalation'),
    `after the reset: not escalated (${after.contributions.map((c) => c.detector).join(', ')})`,
  );
  t.equal(after.level, 'none', 'a new bot in warm-up, nothing held over');
  for (const key of ['risk:baseline:b1', 'risk:grace:b1', 'risk:follow:b1', 'risk:refusedat:b1']) t.equal(await store.get(key), null, `${key} deleted`);
});
