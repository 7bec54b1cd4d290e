// What the policy in force means for one bot's orders: rule selection by the
// `when:` selector, coverage per rule type, market order types left open; then
// the real policy files as the policy part loads them (the embedded default
// allows market orders and keeps its hours rule in shadow mode).
import path from 'node:path';
import t from 'tap';
import { scoreBot } from '../../proxy/admin/posture-checks.js';
import { postureRule } from '../../proxy/admin/posture-gather.js';
import { coverage, marketTypesAllowed, selectsOrders } from '../../proxy/admin/posture-policy.js';
import type { PostureRule } from '../../proxy/admin/posture-types.js';
import { loadPolicyFile } from '../../proxy/policy/index.js';
import { FIXTURES, ROOT } from '../helpers/harness.js';
import { withRules } from './snapshot.js';

const BOT = { id: 'trend-bot', account: '5012345678' };
const rule = (extra: Partial<PostureRule>): PostureRule => ({ id: 'r', type: 'order-size', mode: 'enforce', ...extra });

t.test('selectsOrders follows the when: selector', async (t) => {
  t.equal(selectsOrders(rule({}), BOT), 'all', 'no selector: every order');
  t.equal(selectsOrders(rule({ kinds: ['order', 'cancel'] }), BOT), 'all');
  t.equal(selectsOrders(rule({ kinds: ['query'] }), BOT), 'none', 'not orders');
  t.equal(selectsOrders(rule({ bots: ['trend-bot'] }), BOT), 'all');
  t.equal(selectsOrders(rule({ bots: ['other'] }), BOT), 'none', 'another bot');
  t.equal(selectsOrders(rule({ accounts: ['5012345678'] }), BOT), 'all');
  t.equal(selectsOrders(rule({ accounts: ['1'] }), BOT), 'none', 'another account');
  t.equal(selectsOrders(rule({ apiIds: ['kt10000'] }), BOT), 'some', 'buys only');
  t.equal(selectsOrders(rule({ sides: ['sell'] }), BOT), 'some', 'one side');
});

t.test('coverage splits enforced, shadow and partial rules of one type', async (t) => {
  const rules = [
    rule({ id: 'a' }),
    rule({ id: 'b', mode: 'shadow' }),
    rule({ id: 'c', sides: ['buy'] }),
    rule({ id: 'd', bots: ['other'] }),
    rule({ id: 'e', type: 'rate-limit' }),
  ];
  t.same(coverage(rules, 'order-size', BOT), { enforced: ['a'], shadow: ['b'], partial: ['c'] });
  t.same(coverage(rules, 'rate-limit', BOT), { enforced: ['e'], shadow: [], partial: [] });
  t.same(coverage(rules, 'trading-window', BOT), { enforced: [], shadow: [], partial: [] });
});

t.test('marketTypesAllowed: names and codes, allow and deny lists, several rules together', async (t) => {
  const tt = (extra: Partial<PostureRule>) => rule({ type: 'trade-types', ...extra });
  t.same(marketTypesAllowed([], BOT), ['market', 'market-ioc', 'market-fok'], 'no trade-types rule: all open');
  t.same(marketTypesAllowed([tt({ allow: ['limit'] })], BOT), []);
  t.same(marketTypesAllowed([tt({ allow: ['0', '13'] })], BOT), ['market-ioc'], 'codes count as the names');
  t.same(marketTypesAllowed([tt({ deny: ['market'] }), tt({ deny: ['market-ioc', '23'] })], BOT), [], 'two rules together close all three');
  t.same(marketTypesAllowed([tt({ allow: ['limit'], mode: 'shadow' })], BOT), ['market', 'market-ioc', 'market-fok'], 'shadow does not refuse');
  t.same(marketTypesAllowed([tt({ allow: ['limit'], apiIds: ['kt10000'] })], BOT), ['market', 'market-ioc', 'market-fok'], 'buys only: sells stay open');
});

t.test('postureRule keeps the selector, the mode and trade-types lists only', async (t) => {
  t.same(postureRule({ id: 'x', type: 'trade-types', when: { bots: ['b'], kinds: ['order'] }, allow: ['limit'] }), {
    id: 'x',
    type: 'trade-types',
    mode: 'enforce',
    kinds: ['order'],
    bots: ['b'],
    allow: ['limit'],
  });
  t.same(postureRule({ id: 'm', type: 'markets', mode: 'shadow', allow: ['KRX'] }), { id: 'm', type: 'markets', mode: 'shadow' }, 'venues are not trade types');
});

async function rulesOf(file: string): Promise<PostureRule[]> {
  return (await loadPolicyFile(file)).doc.rules.map(postureRule);
}

t.test('the embedded default policy: limits present, market orders open, hours in shadow mode', async (t) => {
  const b = scoreBot(withRules(await rulesOf(path.join(ROOT, 'policies', 'default.yaml'))));
  const status = Object.fromEntries(b.checks.map((c) => [c.id, c.status]));
  t.equal(status['order-limits'], 'pass', 'order-size and order-rate');
  t.equal(status['market-orders'], 'fail', 'plain-order-types allows market');
  t.equal(status['trading-window'], 'pass', 'krx-hours exists');
  t.equal(status['window-shadow'], 'fail', 'krx-hours is shadow');
  t.match(b.checks.find((c) => c.id === 'window-shadow')!.explanation.en, 'shadow mode only (krx-hours)');
});

t.test('the strict test policy and the open e2e policy', async (t) => {
  const open = scoreBot(withRules(await rulesOf(path.join(FIXTURES, 'policy-open.yaml'))));
  const s = Object.fromEntries(open.checks.map((c) => [c.id, c.status]));
  t.same([s['order-limits'], s['market-orders'], s['trading-window']], ['pass', 'fail', 'fail'], 'limits, but market orders and any hour');
  const strict = scoreBot(withRules(await rulesOf(path.join(FIXTURES, 'policy-strict.yaml'))));
  const st = Object.fromEntries(strict.checks.map((c) => [c.id, c.status]));
  t.same(
    [st['order-limits'], st['market-orders'], st['trading-window'], st['window-shadow']],
    ['pass', 'pass', 'pass', 'fail'],
    'limit orders only, with limits; its window (night-shadow) is shadow only',
  );
});
