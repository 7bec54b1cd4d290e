// The `network` detector: an order from a network (IPv4 /16, IPv6 /48) the bot
// never used, or first used minutes ago, is held for approval together with
// `location`; a pod moving to a new address inside its network is not. And
// networkOf, the address-to-network reading it rests on.
import t from 'tap';
import type { RiskAssessment, RiskInput } from '../../proxy/risk/index.js';
import { networkOf } from '../../proxy/risk/network.js';
import { RISK_START, riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

const DAY = 86_400_000;
const hit = (a: RiskAssessment, d: string) => a.contributions.find((c) => c.detector === d);

/** Two days of quotes every 10 minutes and a buy an hour, from 10.42.1.10 and (the second day) 10.42.7.11: a pod that moved. */
function history(): RiskInput[] {
  const out: RiskInput[] = [];
  for (let d = 0; d < 2; d++) {
    const sourceIp = d === 0 ? '10.42.1.10' : '10.42.7.11';
    for (let k = 0; k < 36; k++) {
      const now = RISK_START + d * DAY + k * 600_000;
      out.push(riskInput({ now, sourceIp }));
      if (k % 6 === 3) out.push(riskInput({ now: now + 1000, sourceIp, apiId: 'kt10000', kind: 'order', side: 'buy', qty: 10, price: 10_000 }));
    }
  }
  return out;
}

async function warmed(raw: Record<string, unknown> = {}) {
  const s = riskEngineSetup(raw);
  for (const i of history()) {
    s.at(i.now as number);
    await s.engine.assess(i);
    await s.engine.learn(i, { allowed: true, completed: true });
  }
  const now = RISK_START + 2 * DAY + 3_600_000;
  s.at(now);
  const order = (sourceIp: string, over: Partial<Omit<RiskInput, 'now'>> = {}) =>
    riskInput({ now, sourceIp, apiId: 'kt10000', kind: 'order', side: 'buy', qty: 10, price: 10_000, ...over });
  return { ...s, now, order };
}

t.test('networkOf: the leading bits of IPv4 and IPv6 addresses, anything else none', async (t) => {
  t.equal(networkOf('10.42.7.11', 16, 48), '10.42.0.0/16');
  t.equal(networkOf('203.0.113.9', 24, 48), '203.0.113.0/24');
  t.equal(networkOf('203.0.113.9', 12, 48), '203.0.0.0/12');
  t.equal(networkOf('255.255.255.255', 1, 48), '128.0.0.0/1');
  t.equal(networkOf('2001:db8:1:2::7', 16, 48), '2001:db8:1:0:0:0:0:0/48');
  t.equal(networkOf('2001:db8:1:2::7', 16, 56), '2001:db8:1:0:0:0:0:0/56');
  t.equal(networkOf('2001:db8:1:2ff::7', 16, 56), '2001:db8:1:200:0:0:0:0/56');
  t.equal(networkOf('::1', 16, 128), '0:0:0:0:0:0:0:1/128');
  t.equal(networkOf('64:ff9b::203.0.113.9', 16, 128), '64:ff9b:0:0:0:0:cb00:7109/128', 'an embedded IPv4 tail');
  t.equal(networkOf('fe80::1%eth0', 16, 64), 'fe80:0:0:0:0:0:0:0/64', 'a zone id');
  for (const bad of ['', 'unknown', '10.0.0', '2001:db8::g', '1:2:3:4:5:6:7:8:9']) t.equal(networkOf(bad, 16, 48), undefined, `"${bad}"`);
  // Each address is parsed once for the prefixes in force; other prefixes are read afresh, not from the memo.
  t.equal(networkOf('10.42.7.11', 16, 48), '10.42.0.0/16');
  t.equal(networkOf('10.42.7.11', 8, 48), '10.0.0.0/8');
  t.equal(networkOf('10.42.7.11', 16, 48), '10.42.0.0/16');
  t.equal(networkOf('unknown', 16, 48), undefined, 'an unparsable address, remembered as such');
});

t.test('network: an order from a network the bot never used is held with location; a pod moving inside its network is not', async (t) => {
  const s = await warmed();
  t.teardown(s.close);
  const moved = await s.engine.assess(s.order('10.42.99.12'));
  t.ok(hit(moved, 'location'), 'a new address');
  t.notOk(hit(moved, 'network'), 'inside the network it always used');
  t.ok(moved.score <= 0.7, `not held (${moved.score})`);

  const away = await s.engine.assess(s.order('203.0.113.9'));
  t.match(hit(away, 'network'), { score: 1, weight: 0.5, reason: /^order from network 203\.0\.0\.0\/16, never used by this bot \(1 other network\)$/ });
  t.ok(away.score > 0.7 && away.score < 0.95, `held for approval, not locked down (${away.score})`);

  const read = await s.engine.assess(s.order('203.0.113.9', { apiId: 'kt00018', kind: 'account', side: undefined, qty: undefined, price: undefined }));
  t.notOk(hit(read, 'network'), 'a read is judged by location alone');
});

t.test('network: the balance read from a new network, then its order: first used 0 min ago, known after 30 min', async (t) => {
  const s = await warmed();
  t.teardown(s.close);
  const read = riskInput({ now: s.now, sourceIp: '198.51.100.7', apiId: 'kt00018', kind: 'account', stkCd: undefined });
  await s.engine.assess(read);
  await s.engine.learn(read, { allowed: true, completed: true });
  const soon = await s.engine.assess({ ...s.order('198.51.100.7'), now: s.now + 20_000 });
  t.match(hit(soon, 'network'), { score: 1, reason: /first used by this bot 0 min ago/ });
  t.ok(soon.score > 0.7, `held (${soon.score})`);
  const later = await s.engine.assess({ ...s.order('198.51.100.8'), now: s.now + 31 * 60_000 });
  t.notOk(hit(later, 'network'), 'after 30 min the network is known: another address in it is a moved pod');
});

t.test('network: once the owner approves the held order, the next from that address is not held again', async (t) => {
  const s = await warmed();
  t.teardown(s.close);
  const first = s.order('203.0.113.9');
  t.ok((await s.engine.assess(first)).score > 0.7, 'held');
  await s.engine.learn(first, { allowed: true, completed: true, approved: true }); // a held call that went out: approved
  const next = await s.engine.assess({ ...s.order('203.0.113.9'), now: s.now + 60_000 });
  t.equal(next.score, 0.7, 'graced: nothing new since the approval');
  t.match(hit(next, 'network')?.reason, /owner approved a call flagged by location, network/);
});

t.test('network: a known client identity scores as for a new address; the prefix and the weight are knobs', async (t) => {
  const s = await warmed();
  t.teardown(s.close);
  const first = { ...s.order('10.42.1.10'), clientId: 'pod-a' };
  await s.engine.assess(first);
  await s.engine.learn(first, { allowed: true, completed: true });
  const known = await s.engine.assess({ ...s.order('203.0.113.9'), clientId: 'pod-a' });
  t.match(hit(known, 'network'), { score: 0.5, reason: /client identity known/ });

  const wide = await warmed({ location: { networkPrefixV4: 8 } });
  t.teardown(wide.close);
  t.notOk(hit(await wide.engine.assess(wide.order('10.99.0.1')), 'network'), '/8: 10.99.0.1 is in the network 10.0.0.0/8');
  t.ok(hit(await wide.engine.assess(wide.order('11.0.0.1')), 'network'), '/8: 11.0.0.1 is not');

  const off = await warmed({ weights: { network: 0 } });
  t.teardown(off.close);
  const a = await off.engine.assess(off.order('203.0.113.9'));
  t.equal(hit(a, 'network')?.contribution ?? 0, 0, 'weight 0: nothing added');
  t.ok(a.score <= 0.7, `location alone is an alert (${a.score})`);
});
