// Each rule kind through the real engine and the real in-memory Store, with
// the clock under test control: limits exactly at the edge, KST window
// boundaries, Seoul-day rollover, shadow mode, overrides, trading states,
// market data failures, and a property test that a deny-all policy denies.
import t from 'tap';
import type { Test } from 'tap';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import { allApis, lookupApi } from '../../proxy/kiwoom/catalogue.js';
import type { ApiEntry } from '../../proxy/kiwoom/types.js';
import { GuardError } from '../../proxy/common/errors.js';
import type { Store } from '../../proxy/state/types.js';
import { createPolicyEngine, parsePolicyConfig, seoulDate, type MarketData, type PolicyCall } from '../../proxy/policy/index.js';
import { seoulTimeOfDay, seoulWeekday } from '../../proxy/kiwoom/protocol/index.js';

const KST = (iso: string) => new Date(`${iso}+09:00`).getTime();

interface Fixture {
  engine: Awaited<ReturnType<typeof createPolicyEngine>>;
  store: Store;
  registry: Registry;
  clock: { ms: number };
  market: MarketData & {
    calls: Record<string, number>;
    price: number | undefined;
    held: number | undefined;
    open: number | undefined;
    fail: boolean;
    slowMs: number;
  };
  call(apiId: string, body?: Record<string, unknown>, extra?: Partial<PolicyCall>): PolicyCall;
  logs: string[];
}

/** Evaluates a call and, unless denied, records it as the broker accepted it under `orderNo` (as the sidecar does). */
function placing(f: Fixture) {
  return async (apiId: string, body: Record<string, unknown>, orderNo: string) => {
    const c = f.call(apiId, body);
    const d = await f.engine.evaluate(c);
    if (d.outcome !== 'deny') await f.engine.recordOrder(c, d, orderNo);
    return d;
  };
}

async function fixture(t: Test, yaml: string, opts: { at?: string; language?: 'ko' | 'en'; config?: Record<string, unknown> } = {}): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-policy-rules-'));
  const file = path.join(dir, 'policy.yaml');
  await writeFile(file, yaml);
  const clock = { ms: KST(opts.at ?? '2026-03-03T10:00:00') };
  const store = createMemoryStore({ now: () => clock.ms });
  const market = {
    calls: {} as Record<string, number>,
    price: 70000 as number | undefined,
    held: 100 as number | undefined,
    open: 0 as number | undefined,
    fail: false,
    slowMs: 0,
    async hit<T>(name: string, v: T): Promise<T> {
      market.calls[name] = (market.calls[name] ?? 0) + 1;
      if (market.slowMs) await new Promise((r) => setTimeout(r, market.slowMs));
      if (market.fail) throw new Error(`upstream quote failed (canary-secret-should-not-leak)`);
      return v;
    },
    referencePrice(_b: string, _s: string) {
      return market.hit('price', market.price);
    },
    heldQuantity() {
      return market.hit('held', market.held);
    },
    openOrderCount() {
      return market.hit('open', market.open);
    },
  };
  const registry = new Registry();
  const logs: string[] = [];
  const engine = await createPolicyEngine({
    config: parsePolicyConfig({ file, watch: false, ...opts.config }, dir),
    store,
    market,
    registry,
    logger: pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          logs.push(line);
        },
      },
    ),
    now: () => new Date(clock.ms),
    language: opts.language ?? 'en',
  });
  t.teardown(async () => {
    await engine.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const call = (apiId: string, body: Record<string, unknown> = {}, extra: Partial<PolicyCall> = {}): PolicyCall => ({
    botId: 'bot-1',
    account: '5001',
    apiId,
    entry: lookupApi(apiId),
    body,
    ...extra,
  });
  return { engine, store, registry, clock, market, call, logs };
}

const BUY = (qty = '10', price = '70000', extra: Record<string, string> = {}) => ({
  dmst_stex_tp: 'KRX',
  stk_cd: '005930',
  ord_qty: qty,
  ord_uv: price,
  trde_tp: '0',
  ...extra,
});
const SELL = BUY;
const CANCEL = { dmst_stex_tp: 'KRX', orig_ord_no: '0000138', stk_cd: '005930', cncl_qty: '0' };

t.test('Seoul time is UTC+9 all year (no DST)', async (t) => {
  t.equal(seoulDate(Date.parse('2026-03-03T14:59:59.999Z')), '2026-03-03');
  t.equal(seoulDate(Date.parse('2026-03-03T15:00:00.000Z')), '2026-03-04');
  for (const day of ['2026-03-08', '2026-03-29', '2026-10-25', '2026-11-01', '2026-07-01', '2026-12-31']) {
    t.equal(seoulTimeOfDay(KST(`${day}T09:00:00`)), 9 * 3600 * 1000, `${day} 09:00 KST`);
  }
  t.equal(seoulWeekday(KST('2026-03-02T00:00:00')), 1, 'Monday (0 = Sunday, as Date#getUTCDay)');
  t.equal(seoulWeekday(KST('2026-03-08T23:59:59')), 0, 'Sunday');
});

t.test('trading window: 09:00:00 is in, 15:30:00 is out, weekends and holidays closed', async (t) => {
  const f = await fixture(
    t,
    `version: 1
calendar: { holidays: ["2026-03-04"] }
rules:
  - { id: hours, type: trading-window, windows: [{ start: "09:00", end: "15:30" }] }
`,
  );
  const at = async (iso: string) => {
    f.clock.ms = KST(iso);
    return (await f.engine.evaluate(f.call('kt10000', BUY()))).outcome;
  };
  t.equal(await at('2026-03-03T08:59:59.999'), 'deny');
  t.equal(await at('2026-03-03T09:00:00.000'), 'allow');
  t.equal(await at('2026-03-03T15:29:59.999'), 'allow');
  t.equal(await at('2026-03-03T15:30:00.000'), 'deny');
  t.equal(await at('2026-03-04T10:00:00'), 'deny', 'holiday');
  t.equal(await at('2026-03-07T10:00:00'), 'deny', 'Saturday');
  f.clock.ms = KST('2026-03-07T10:00:00');
  t.equal((await f.engine.evaluate(f.call('ka10001', { stk_cd: '005930' }))).outcome, 'allow', 'queries are not windowed by default');
  // call.now wins over the engine clock (the pipeline stamps calls).
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY(), { now: new Date(KST('2026-03-03T10:00:00')) }))).outcome, 'allow');
});

t.test('daily caps roll over at Seoul midnight (15:00 UTC)', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: caps, type: daily-cap, maxOrders: 2 }
`,
    { at: '2026-03-03T23:59:59' },
  );
  const send = async () => (await f.engine.evaluate(f.call('kt10000', BUY(), { intentional: true }))).outcome;
  t.equal(await send(), 'allow');
  t.equal(await send(), 'allow');
  const third = await f.engine.evaluate(f.call('kt10000', BUY()));
  t.match(third, { outcome: 'deny', ruleId: 'caps', ruleKind: 'daily-cap', reason: /daily order cap of 2/ });
  f.clock.ms = KST('2026-03-04T00:00:00');
  t.equal(new Date(f.clock.ms).toISOString(), '2026-03-03T15:00:00.000Z');
  t.equal(await send(), 'allow', 'a new Seoul day has a fresh counter');
});

t.test('daily notional caps price market orders at the reference price', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: buy-cap, type: daily-cap, maxBuyNotional: 1400000 }
`,
  );
  f.market.price = 70000;
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('10', '', { trde_tp: '3' })))).outcome, 'allow', '700,000');
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('10', '70000')))).outcome, 'allow', 'exactly 1,400,000');
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '1'))), { outcome: 'deny', ruleId: 'buy-cap' });
  t.equal((await f.engine.evaluate(f.call('kt10001', SELL('100')))).outcome, 'allow', 'sells do not count toward the buy cap');
});

t.test('layered rate limits are charged together; denied calls are not charged', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - id: rl
    type: rate-limit
    when: { kinds: [order] }
    limits: [{ max: 2, per: 1s }, { max: 3, per: day }]
  - { id: sizes, type: order-size, maxQuantity: 100 }
`,
  );
  const send = async (qty = '1') => f.engine.evaluate(f.call('kt10000', BUY(qty)));
  t.equal((await send()).outcome, 'allow');
  t.match(await send('101'), { outcome: 'deny', ruleId: 'sizes' }, 'a stateless deny comes first and charges nothing');
  t.equal((await send()).outcome, 'allow');
  const third = await send();
  t.match(third, { outcome: 'deny', ruleId: 'rl', ruleKind: 'rate-limit', reason: /2 per 1s/ });
  t.ok(third.retryAfterMs !== undefined && third.retryAfterMs > 0 && third.retryAfterMs <= 1000, 'retry-after from the 1s window');
  f.clock.ms += 1000;
  t.equal((await send()).outcome, 'allow', 'third of the day');
  f.clock.ms += 1000;
  t.match(await send(), { outcome: 'deny', reason: /3 per day/ });
  t.equal((await f.engine.evaluate(f.call('ka10001', { stk_cd: '005930' }))).outcome, 'allow', 'queries are not selected');
});

t.test('order size: exactly at the limit passes, one over fails, malformed fails closed', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: size, type: order-size, maxQuantity: 100, maxNotional: 7000000 }
`,
  );
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('100', '70000')))).outcome, 'allow');
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('101', '100'))), { outcome: 'deny', reason: 'quantity 101 exceeds the limit of 100' });
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('100', '70001'))), { outcome: 'deny', reason: /notional KRW 7,000,100 exceeds/ });
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1e3'))), { outcome: 'deny', reason: /quantity is missing or not a whole number/ });
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '12abc'))), { outcome: 'deny', reason: /price is malformed/ });
  t.match(
    await f.engine.evaluate(f.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', trde_tp: '0', ord_uv: '1' })),
    { outcome: 'deny' },
    'missing quantity',
  );
  f.market.price = 70000;
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('100', '', { trde_tp: '3' })))).outcome, 'allow', 'market order at the reference price');
  f.market.price = 70001;
  f.clock.ms += 10_000; // past the reference price cache
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('100', '', { trde_tp: '3' })))).outcome, 'deny');
  t.equal(
    (await f.engine.evaluate(f.call('kt10002', { dmst_stex_tp: 'KRX', orig_ord_no: '1', stk_cd: '005930', mdfy_qty: '101', mdfy_uv: '1' }))).outcome,
    'deny',
    'modify quantities are checked',
  );
});

t.test('reference prices: cached for referencePriceTtlMs, failures and timeouts fail closed', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: collar, type: price-collar, maxDeviationPercent: 5 }
`,
    { config: { referencePriceTtlMs: 3000, marketDataTimeoutMs: 50 } },
  );
  const edge = await f.engine.evaluate(f.call('kt10000', BUY('1', '73500')));
  t.equal(edge.outcome, 'allow', 'exactly 5%');
  t.same(edge.market, { referencePrice: 70000 }, 'the decision carries the market data it was made on (for the audit intent)');
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '73501'))), { outcome: 'deny', ruleId: 'collar', reason: /5.00% away/ });
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('1', '66500')))).outcome, 'allow', 'exactly -5%');
  t.equal(f.market.calls.price, 1, 'one quote served three calls');
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('1', '', { trde_tp: '3' })))).outcome, 'allow', 'market orders have no price to collar');
  f.clock.ms += 3001;
  f.market.fail = true;
  const failed = await f.engine.evaluate(f.call('kt10000', BUY('1', '70000')));
  t.match(failed, { outcome: 'deny', ruleId: 'collar', reason: /no reference price/ });
  t.notMatch(JSON.stringify(failed), /canary/, 'the upstream error text is not echoed');
  t.ok(
    f.logs.some((l) => l.includes('market data unavailable')),
    'the failure is logged',
  );
  t.notOk(
    f.logs.some((l) => l.includes('canary')),
    'without the upstream error text',
  );
  f.market.fail = false;
  f.market.slowMs = 200;
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '70000'))), { outcome: 'deny', ruleId: 'collar' }, 'a slow quote is a failed quote');
  f.market.slowMs = 0;
  f.market.price = undefined;
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '70000'))), { outcome: 'deny', ruleId: 'collar' }, 'an unknown price is not zero');
  const metrics = await f.registry.getSingleMetricAsString('kguard_policy_market_data_errors_total');
  t.match(metrics, /kguard_policy_market_data_errors_total\{source="reference_price"\} 2/);
});

t.test('symbols, venues and order types', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: only, type: allow-symbols, symbols: ["005930", "000660"] }
  - { id: restricted, type: deny-symbols, symbols: ["000660"] }
  - { id: venues, type: markets, allow: [KRX, NXT] }
  - { id: types, type: trade-types, deny: [market, "13", after-hours-single] }
`,
  );
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY()))).outcome, 'allow');
  t.equal(
    (await f.engine.evaluate(f.call('kt10000', BUY('1', '70000', { stk_cd: '005930_NX', dmst_stex_tp: 'NXT' })))).outcome,
    'allow',
    'venue suffix is normalised',
  );
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '70000', { stk_cd: 'A000660' }))), { ruleId: 'restricted' }, 'A-prefix is normalised');
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '70000', { stk_cd: '035720' }))), { ruleId: 'only' });
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '70000', { stk_cd: undefined as unknown as string }))), {
    ruleId: 'only',
    reason: /no stock code/,
  });
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '70000', { stk_cd: '005930_AL', dmst_stex_tp: 'SOR' }))), { ruleId: 'venues', reason: /SOR/ });
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '', { trde_tp: '3' }))), { ruleId: 'types', reason: /trde_tp 3 market/ });
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('1', '', { trde_tp: '13' }))), { ruleId: 'types' });
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('1', '70000', { trde_tp: '10' })))).outcome, 'allow');
  t.equal((await f.engine.evaluate(f.call('kt10003', { ...CANCEL, stk_cd: '000660' }))).outcome, 'allow', 'cancelling a restricted security is allowed');
  t.equal((await f.engine.evaluate(f.call('ka10001', { stk_cd: '000660' }))).outcome, 'allow', 'quoting it is allowed unless when.kinds says otherwise');
});

t.test("a rule on limit orders covers gold's plain limit order (00)", async (t) => {
  const f = await fixture(t, 'version: 1\nrules:\n  - { id: limits-only, type: trade-types, allow: [limit, limit-ioc] }\n');
  const gold = (trde_tp: string) => f.call('kt50000', { stk_cd: 'M04020000', ord_qty: '1', ord_uv: '140000', trde_tp });
  t.equal((await f.engine.evaluate(gold('00'))).outcome, 'allow', 'gold 00 is a limit order');
  t.equal((await f.engine.evaluate(gold('10'))).outcome, 'allow', 'gold 10 is a limit IOC');
  t.match(await f.engine.evaluate(gold('20')), { ruleId: 'limits-only', reason: /trde_tp 20 limit-fok/ }, 'gold 20 (FOK) is not on the list');
  const deny = await fixture(t, 'version: 1\nrules:\n  - { id: no-limit, type: trade-types, deny: [limit] }\n');
  t.match(await deny.engine.evaluate(gold('00')), { ruleId: 'no-limit', reason: /trde_tp 00 limit/ });
});

t.test('api allow-lists, unknown api-ids and transfers', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: ro, type: allow-apis, kinds: [query, account], when: { bots: [reader] } }
  - { id: no-gold, type: deny-apis, apiIds: [kt50000] }
`,
  );
  const reader = (apiId: string, body = {}) => f.engine.evaluate({ ...f.call(apiId, body), botId: 'reader' });
  t.equal((await reader('ka10001', { stk_cd: '005930' })).outcome, 'allow');
  t.match(await reader('kt10000', BUY()), { outcome: 'deny', ruleId: 'ro', ruleKind: 'apis' });
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY()))).outcome, 'allow', 'other bots are not read-only');
  t.match(await f.engine.evaluate(f.call('kt50000', {})), { ruleId: 'no-gold' });
  t.match(await f.engine.evaluate(f.call('zz00000', {})), { outcome: 'deny', ruleId: 'builtin.unknown-api', ruleKind: 'unknown-api' });
  const transfer: ApiEntry = {
    apiId: 'kt99001',
    name: '이체',
    category: 'x',
    subcategory: 'x',
    path: '/api/dostk/acnt',
    group: 'acnt',
    kind: 'transfer',
    safety: 'order_write',
    requiredFields: [],
  };
  t.match(await f.engine.evaluate({ ...f.call('kt99001'), entry: transfer }), { outcome: 'deny', ruleId: 'builtin.transfer' });
  const g = await fixture(
    t,
    `version: 1
rules:
  - { id: treasury, type: allow-apis, kinds: [transfer], when: { bots: [treasury] } }
`,
  );
  t.equal((await g.engine.evaluate({ ...g.call('kt99001'), entry: transfer, botId: 'treasury' })).outcome, 'allow', 'an explicit grant opens transfers');
  t.match(await g.engine.evaluate({ ...g.call('kt99001'), entry: transfer }), { ruleId: 'builtin.transfer' });
});

t.test('duplicate guard: same order within the window, unless intentional', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: dup, type: duplicate-guard, windowSeconds: 2 }
`,
  );
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY()))).outcome, 'allow');
  t.match(await f.engine.evaluate(f.call('kt10000', BUY())), { outcome: 'deny', ruleId: 'dup', ruleKind: 'duplicate-guard' });
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY(), { intentional: true }))).outcome, 'allow');
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('10', '70100')))).outcome, 'allow', 'another price is another order');
  t.equal((await f.engine.evaluate(f.call('kt10001', SELL()))).outcome, 'allow', 'another side is another order');
  t.equal((await f.engine.evaluate({ ...f.call('kt10000', BUY()), account: '5002' })).outcome, 'allow', 'another account');
  f.clock.ms += 2000;
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY()))).outcome, 'allow', 'after the window');
  const longSymbol = BUY('1', '70000', { stk_cd: 'X'.repeat(5000) });
  t.equal((await f.engine.evaluate(f.call('kt10000', longSymbol))).outcome, 'allow', 'an absurd field does not break the Store key');
  t.match(await f.engine.evaluate(f.call('kt10000', longSymbol)), { outcome: 'deny', ruleId: 'dup' });
  // Two identical calls racing: exactly one wins.
  f.clock.ms += 5000;
  const both = await Promise.all([f.engine.evaluate(f.call('kt10000', BUY('7'))), f.engine.evaluate(f.call('kt10000', BUY('7')))]);
  t.same(both.map((d) => d.outcome).sort(), ['allow', 'deny']);
});

t.test('trading states: HALTED and REDUCING, global/bot/account, most restrictive wins', async (t) => {
  const f = await fixture(t, 'version: 1\nrules: []\n');
  const o = async (apiId: string, body: Record<string, unknown>, extra: Partial<PolicyCall> = {}) => await f.engine.evaluate(f.call(apiId, body, extra));
  await f.engine.setTradingState({ account: '5001' }, 'HALTED', 'margin call');
  t.match(await o('kt10000', BUY()), { outcome: 'deny', ruleId: 'builtin.trading-state', ruleKind: 'trading-state', reason: /HALTED.*margin call/ });
  t.match(await o('kt10001', SELL()), { outcome: 'deny' });
  t.equal((await o('kt10003', CANCEL)).outcome, 'allow');
  t.equal((await o('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' })).outcome, 'allow');
  t.equal((await o('kt10000', BUY(), { account: '5002' })).outcome, 'allow', 'other accounts are unaffected');
  t.match(await f.engine.tradingState('bot-1', '5001'), { state: 'HALTED', source: 'account', reason: 'margin call' });

  await f.engine.setTradingState({ account: '5001' }, 'ACTIVE', 'resolved');
  await f.engine.setTradingState({ global: true }, 'REDUCING', 'market stress');
  f.market.held = 30;
  t.equal((await o('kt10001', SELL('30'))).outcome, 'allow', 'selling exactly what is held');
  t.match(await o('kt10001', SELL('31')), { outcome: 'deny', reason: /selling 31 exceeds the 30 held/ });
  t.match(await o('kt10000', BUY('1')), { outcome: 'deny', reason: /REDUCING/ });
  t.match(
    await o('kt10002', { dmst_stex_tp: 'KRX', orig_ord_no: '1', stk_cd: '005930', mdfy_qty: '1', mdfy_uv: '1' }),
    { outcome: 'deny' },
    'modifies could add exposure',
  );
  t.equal((await o('kt10003', CANCEL)).outcome, 'allow');
  f.market.fail = true;
  t.match(await o('kt10001', SELL('1')), { outcome: 'deny', reason: /held quantity unavailable/ }, 'unknown position fails closed');
  f.market.fail = false;
  await f.engine.setTradingState({ botId: 'bot-1' }, 'HALTED', 'bad fills');
  t.match(await f.engine.tradingState('bot-1', '5001'), { state: 'HALTED', source: 'bot' });
  t.match(await o('kt10001', SELL('1')), { reason: /HALTED/ });
  await t.rejects(f.engine.setTradingState({}, 'HALTED', 'x'), { code: 'KG3016' });
  await t.rejects(f.engine.setTradingState({ global: true, botId: 'b' }, 'HALTED', 'x'), { code: 'KG3016' });
  await t.rejects(f.engine.setTradingState({ global: true }, 'PAUSED' as 'HALTED', 'x'), { code: 'KG3016' });
  await t.rejects(f.engine.setTradingState({ global: true }, 'HALTED', ''), { code: 'KG3016' });
  await t.rejects(f.engine.setTradingState({ botId: 'a b\r\n' }, 'HALTED', 'x'), { code: 'KG3016' });
  t.match(await f.engine.tradingState('bot-1', '5001'), { state: 'HALTED', source: 'bot' }, 'bad requests changed nothing');
});

t.test('shadow rules log and count would-denies but let the call through', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: tiny, type: order-size, maxQuantity: 1, mode: shadow }
  - { id: rl, type: rate-limit, mode: shadow, limits: [{ max: 1, per: 1s }] }
`,
  );
  const first = await f.engine.evaluate(f.call('kt10000', BUY('5')));
  t.match(first, { outcome: 'allow', shadowDenies: ['tiny'], matched: [{ ruleId: 'tiny', mode: 'shadow', outcome: 'deny' }] });
  // Review regression: shadow limits were only peeked, their counters never charged, so a shadow rate limit or
  // daily cap never said it would deny and a rule tried in shadow looked safe to enforce.
  const second = await f.engine.evaluate(f.call('kt10000', BUY('1')));
  t.match(second, { outcome: 'allow', shadowDenies: ['rl'] }, 'a shadow rate limit counts the calls that went out, and says when it would deny');
  const metrics = await f.registry.getSingleMetricAsString('kguard_policy_decisions_total');
  t.match(metrics, /kguard_policy_decisions_total\{rule="tiny",decision="shadow-deny"\} 1/);
  t.match(metrics, /kguard_policy_decisions_total\{rule="rl",decision="shadow-deny"\} 1/);
  t.match(metrics, /kguard_policy_decisions_total\{rule="none",decision="allow"\} 2/);
});

t.test('shadow rate limits and daily caps count as each would alone if enforced; a call an enforced rule refuses is not counted', async (t) => {
  const policy = (mode: 'shadow' | 'enforce') => `version: 1
rules:
  - { id: order-rate-trial, type: rate-limit, mode: ${mode}, when: { kinds: [order] }, limits: [{ max: 2, per: 1m }] }
  - { id: cap-trial, type: daily-cap, mode: ${mode}, maxOrders: 3 }
  - { id: size, type: order-size, maxQuantity: 100 }
`;
  const outcomes = async (mode: 'shadow' | 'enforce') => {
    const f = await fixture(t, policy(mode));
    const out: string[] = [];
    // An order the enforced size rule refuses first: charged to neither limit.
    const big = await f.engine.evaluate(f.call('kt10000', BUY('500')));
    out.push(`${big.outcome}:${big.ruleId}`);
    for (let i = 0; i < 5; i++) {
      const d = await f.engine.evaluate(f.call('kt10000', BUY('1')));
      out.push(mode === 'shadow' ? `${d.outcome}:${[...d.shadowDenies].sort().join('+') || '-'}` : `${d.outcome}:${d.ruleId ?? '-'}`);
      f.clock.ms += 1_000;
    }
    // A minute on: the rate limit has room again, the daily cap does not.
    f.clock.ms += 60_000;
    const later = await f.engine.evaluate(f.call('kt10000', BUY('1')));
    out.push(mode === 'shadow' ? `${later.outcome}:${[...later.shadowDenies].sort().join('+') || '-'}` : `${later.outcome}:${later.ruleId ?? '-'}`);
    return out;
  };
  t.same(
    await outcomes('enforce'),
    ['deny:size', 'allow:-', 'allow:-', 'deny:order-rate-trial', 'deny:order-rate-trial', 'deny:order-rate-trial', 'allow:-'],
    'enforced: two orders a minute, three a day (the refused ones charged to neither)',
  );
  // Each shadow rule counts as if it alone were enforced: the cap counts every order that went out, those the trial
  // rate limit would have refused too, so it would deny from the fourth order on.
  t.same(
    await outcomes('shadow'),
    ['deny:size', 'allow:-', 'allow:-', 'allow:order-rate-trial', 'allow:cap-trial+order-rate-trial', 'allow:cap-trial+order-rate-trial', 'allow:cap-trial'],
    'shadow: every order goes out, each would-deny said where that rule alone would refuse',
  );
});

// Review regression: evaluation walked the account-scoped and deny-symbols rules (found through indexes) after all the
// others, so a refusal named a later rule of the file (limit-only below) while explain, the audit reader's view,
// said the first (an account freeze): its metrics counted no denial while it was in force.
t.test('the first enforced deny in the file decides, whichever index finds the rule, as explain says', async (t) => {
  const rules = {
    freeze: '  - { id: freeze-acct-5001, type: deny-apis, when: { accounts: ["5001"] }, kinds: [order] }',
    restricted: '  - { id: restricted, type: deny-symbols, symbols: ["005930"] }',
    limitOnly: '  - { id: limit-only, type: trade-types, allow: [limit] }',
  };
  const market = BUY('5', '70000', { trde_tp: '3' });
  for (const order of [
    ['freeze', 'restricted', 'limitOnly'],
    ['restricted', 'limitOnly', 'freeze'],
    ['limitOnly', 'freeze', 'restricted'],
    ['restricted', 'freeze', 'limitOnly'],
  ] as const) {
    const f = await fixture(t, `version: 1\nrules:\n${order.map((k) => rules[k]).join('\n')}\n`);
    const first = { freeze: 'freeze-acct-5001', restricted: 'restricted', limitOnly: 'limit-only' }[order[0]];
    const decided = await f.engine.evaluate(f.call('kt10000', market));
    const explained = await f.engine.evaluateWith(f.call('kt10000', market), { trace: [], dryRun: true });
    t.match(decided, { outcome: 'deny', ruleId: first }, `${order.join(', ')}: ${first} decides`);
    t.equal(explained.ruleId, decided.ruleId, 'and explain names the same rule');
  }
});

t.test('per-bot overrides replace the default rule only for the selected calls', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: size, type: order-size, maxQuantity: 10 }
  - { id: size-big, overrides: size, type: order-size, maxQuantity: 1000, when: { bots: [big] } }
  - { id: size-big-acct, overrides: size, type: order-size, maxQuantity: 50, when: { accounts: ["9"] } }
`,
  );
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('11'))), { ruleId: 'size' });
  t.equal((await f.engine.evaluate({ ...f.call('kt10000', BUY('999')), botId: 'big' })).outcome, 'allow');
  t.match(await f.engine.evaluate({ ...f.call('kt10000', BUY('1001')), botId: 'big' }), { ruleId: 'size-big' });
  t.equal((await f.engine.evaluate({ ...f.call('kt10000', BUY('50')), account: '9' })).outcome, 'allow');
  t.match(await f.engine.evaluate({ ...f.call('kt10000', BUY('51')), account: '9' }), { ruleId: 'size-big-acct' });
});

t.test('risk score thresholds: above 0.7 step-up, above 0.9 hold (defaults, as the seed says); deny beats both', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: size, type: order-size, maxQuantity: 10 }
  - { id: approve-big, type: require-approval, outcome: hold, minQuantity: 8 }
`,
  );
  const at = async (riskScore: number | undefined, qty = '1') => f.engine.evaluate(f.call('kt10000', BUY(qty), riskScore === undefined ? {} : { riskScore }));
  t.equal((await at(0.69)).outcome, 'allow');
  t.equal((await at(0.7)).outcome, 'allow', 'exactly at the threshold is not above it');
  t.match(await at(0.71), { outcome: 'step-up', ruleId: 'builtin.risk-step-up', ruleKind: 'risk-score', reason: /needs step-up approval \(threshold 0\.7\)/ });
  t.match(await at(0.9), { outcome: 'step-up' });
  t.match(await at(0.91), { outcome: 'hold', ruleId: 'builtin.risk-approval', reason: /needs admin approval \(threshold 0\.9\)/ });
  t.match(await at(0.99, '11'), { outcome: 'deny', ruleId: 'size' });
  t.match(await at(undefined, '8'), { outcome: 'hold', ruleId: 'approve-big', ruleKind: 'approval' });
  t.match(await at(0.75, '8'), { outcome: 'hold', ruleId: 'approve-big' }, 'hold outranks step-up');
  t.equal((await at(Number.NaN)).outcome, 'allow', 'a NaN score is ignored, not a crash');
});

t.test('cancel ratio counts broker-confirmed orders and cancels from recordOutcome', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: ratio, type: cancel-ratio, maxCancelsPerOrder: 0.5, minOrders: 2 }
`,
  );
  const ok = async (apiId: string, body: Record<string, unknown>) => {
    const c = f.call(apiId, body);
    const d = await f.engine.evaluate(c);
    if (d.outcome !== 'deny') await f.engine.recordOutcome(c, d, { ok: true, orderNo: '1' });
    return d;
  };
  t.equal((await ok('kt10003', CANCEL)).outcome, 'allow', 'below minOrders nothing is checked');
  await ok('kt10000', BUY());
  await ok('kt10000', BUY('2'));
  await f.engine.recordOutcome(f.call('kt10000', BUY('3')), { outcome: 'allow', matched: [], shadowDenies: [], policyVersion: 'x' }, { ok: false });
  // 2 orders, 1 cancel so far: (1 + 1) / 2 = 1 > 0.5
  t.match(await ok('kt10003', CANCEL), { outcome: 'deny', ruleId: 'ratio', reason: /orders 2, cancels 1/ });
  await ok('kt10000', BUY('4'));
  await ok('kt10000', BUY('5'));
  t.equal((await ok('kt10003', CANCEL)).outcome, 'allow', '(1 + 1) / 4 = 0.5 is at the limit');
});

t.test('max open orders uses the live count and fails closed without it', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: open, type: max-open-orders, max: 3 }
`,
  );
  f.market.open = 2;
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY()))).outcome, 'allow');
  f.market.open = 3;
  t.match(await f.engine.evaluate(f.call('kt10000', BUY())), { outcome: 'deny', ruleId: 'open' });
  f.market.open = undefined;
  t.match(await f.engine.evaluate(f.call('kt10000', BUY())), { outcome: 'deny', reason: /unavailable/ });
  t.equal((await f.engine.evaluate(f.call('kt10003', CANCEL))).outcome, 'allow', 'cancels do not need the count');
  t.equal(f.market.calls.open, 3);
});

t.test('reasons default to Korean', async (t) => {
  const f = await fixture(t, 'version: 1\nrules:\n  - { id: size, type: order-size, maxQuantity: 1 }\n', { language: 'ko' });
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('2'))), { reason: '주문수량 2주가 한도 1주를 초과합니다' });
  const g = await fixture(t, 'version: 1\nlanguage: en\nrules:\n  - { id: size, type: order-size, maxQuantity: 1, message: "Desk limit: one share" }\n', {
    language: 'ko',
  });
  t.match(await g.engine.evaluate(g.call('kt10000', BUY('2'))), { reason: 'Desk limit: one share' });
});

t.test('a failing store fails closed with KG7001', async (t) => {
  const f = await fixture(t, 'version: 1\nrules:\n  - { id: rl, type: rate-limit, limits: [{ max: 5, per: 1s }] }\n');
  await f.store.close();
  const err = await f.engine.evaluate(f.call('kt10000', BUY())).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof GuardError, 'a GuardError');
  t.equal((err as GuardError).code, 'KG7001');
});

t.test('property: no generated call gets past a deny-all policy', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: deny-all, type: deny-apis, kinds: [order, modify, cancel, query, account, auth, transfer, realtime] }
`,
  );
  const apiIds = allApis().map((a) => a.apiId);
  const value = fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String), fc.constantFrom('', '0', 'KRX', 'NXT', 'SOR', '005930', '3', '-1', '1e9'));
  const callArb = fc.record({
    botId: fc.oneof(fc.constantFrom('bot-1', 'deny-all', ''), fc.string({ maxLength: 10 })),
    account: fc.string({ maxLength: 10 }),
    apiId: fc.oneof(fc.constantFrom(...apiIds), fc.string({ maxLength: 8 })),
    body: fc.dictionary(fc.constantFrom('stk_cd', 'ord_qty', 'ord_uv', 'trde_tp', 'dmst_stex_tp', 'mdfy_qty', 'cncl_qty', 'x'), value),
    intentional: fc.boolean(),
    riskScore: fc.option(fc.double({ min: -1, max: 2, noNaN: false }), { nil: undefined }),
    at: fc.integer({ min: Date.parse('2020-01-01'), max: Date.parse('2030-01-01') }),
  });
  await fc.assert(
    fc.asyncProperty(callArb, async (c) => {
      const d = await f.engine.evaluate({
        botId: c.botId,
        account: c.account,
        apiId: c.apiId,
        entry: lookupApi(c.apiId),
        body: c.body,
        intentional: c.intentional,
        now: new Date(c.at),
        ...(c.riskScore === undefined ? {} : { riskScore: c.riskScore }),
      });
      return d.outcome === 'deny';
    }),
    { numRuns: 1500 },
  );
  t.pass('1500 generated calls denied');
});

t.test('property: a read-only allow-list never lets an order-like call through', async (t) => {
  const f = await fixture(t, 'version: 1\nrules:\n  - { id: ro, type: allow-apis, kinds: [query, account] }\n');
  const writers = allApis().filter((a) => ['order', 'modify', 'cancel', 'transfer', 'auth', 'realtime'].includes(a.kind));
  t.ok(writers.length > 10);
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...writers), fc.string({ maxLength: 8 }), async (entry, bot) => {
      const d = await f.engine.evaluate({ botId: bot, account: 'a', apiId: entry.apiId, entry, body: BUY() });
      return d.outcome === 'deny' && d.ruleId === 'ro';
    }),
    { numRuns: 500 },
  );
});

t.test('a shadow override is tried beside the rule it would replace, which stays enforced', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: size, type: order-size, maxQuantity: 10 }
  - { id: size-trial, overrides: size, mode: shadow, type: order-size, maxQuantity: 5, when: { bots: [bot-1] } }
`,
  );
  const big = await f.engine.evaluate(f.call('kt10000', BUY('5000')));
  t.match(big, { outcome: 'deny', ruleId: 'size' }, 'the enforced default still denies');
  const mid = await f.engine.evaluate(f.call('kt10000', BUY('7')));
  t.match(mid, { outcome: 'allow', shadowDenies: ['size-trial'] }, 'the shadow override only records what it would do');
  const explained = await f.engine.evaluateWith(f.call('kt10000', BUY('5000')), { trace: [], dryRun: true });
  t.match(explained, { outcome: 'deny', ruleId: 'size' }, 'explain agrees');
});

t.test('an identical order that loses the duplicate race is not charged against limits', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: dup, type: duplicate-guard, windowSeconds: 60 }
  - { id: cap, type: daily-cap, maxOrders: 2 }
`,
  );
  const both = await Promise.all([f.engine.evaluate(f.call('kt10000', BUY('7'))), f.engine.evaluate(f.call('kt10000', BUY('7')))]);
  t.same(both.map((d) => d.outcome).sort(), ['allow', 'deny']);
  t.match(
    both.find((d) => d.outcome === 'deny'),
    { ruleId: 'dup' },
  );
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('8')))).outcome, 'allow', 'one order went out: the cap of 2 has room for another');
});

t.test('a call denied by a limit leaves no duplicate claim behind', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: dup, type: duplicate-guard, windowSeconds: 60 }
  - { id: rl, type: rate-limit, limits: [{ max: 1, per: 1s }] }
`,
  );
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('1')))).outcome, 'allow');
  t.match(await f.engine.evaluate(f.call('kt10000', BUY('2'))), { outcome: 'deny', ruleId: 'rl' });
  f.clock.ms += 1000;
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('2')))).outcome, 'allow', 'the refused order was never sent: sending it now is not a duplicate');
});

t.test('a shadow REDUCING rule does not make a sell that is denied without market data fetch any', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: size, type: order-size, maxQuantity: 10, maxNotional: 100000000 }
  - { id: collar, type: price-collar, maxDeviationPercent: 5 }
  - { id: try-reducing, type: trading-state, state: REDUCING, mode: shadow }
`,
  );
  const plan = (body: Record<string, unknown>) => f.engine.plan(f.call('kt10001', body), { state: 'ACTIVE', source: 'default', reason: '' });
  t.match(plan(SELL('11')), { decision: { outcome: 'deny', ruleId: 'size' } }, 'the size denial is made in the plan, before any fetch');
  t.match(
    f.engine.plan(f.call('kt10001', SELL('1')), { state: 'HALTED', source: 'global', reason: 'incident' }),
    { decision: { outcome: 'deny', ruleId: 'builtin.trading-state' } },
    'so is a HALTED denial',
  );
  t.match(await f.engine.evaluate(f.call('kt10001', SELL('11'))), { outcome: 'deny', ruleId: 'size' });
  t.same(f.market.calls, {}, 'no market data was asked for');
  f.market.held = 0;
  const d = await f.engine.evaluate(f.call('kt10001', SELL('5')));
  t.match(d, { outcome: 'allow', shadowDenies: ['try-reducing'] }, 'the shadow posture is still judged on the held quantity');
  t.equal(f.market.calls.held, 1);
});

t.test('an order too large for the Store to count is denied by the daily cap, naming it', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: cap, type: daily-cap, maxBuyNotional: 1000000000 }
`,
  );
  const huge = await f.engine.evaluate(f.call('kt10000', BUY('999999999999999', '999999999999999')));
  t.match(huge, { outcome: 'deny', ruleId: 'cap', ruleKind: 'daily-cap', reason: /daily buy notional cap of KRW 1,000,000,000/ });
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('10')))).outcome, 'allow', 'and charged nothing');
});

t.test('a duplicate guard window shorter than a millisecond still guards instead of failing every order', async (t) => {
  const f = await fixture(t, 'version: 1\nrules:\n  - { id: dup, type: duplicate-guard, windowSeconds: 0.0001 }\n');
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY()))).outcome, 'allow');
  t.match(await f.engine.evaluate(f.call('kt10000', BUY())), { outcome: 'deny', ruleId: 'dup' }, 'the same instant is the same order');
});

t.test('a call that fails on the Store while charging limits leaves no duplicate claim behind', async (t) => {
  const f = await fixture(
    t,
    'version: 1\nrules:\n  - { id: dup, type: duplicate-guard, windowSeconds: 60 }\n  - { id: rl, type: rate-limit, limits: [{ max: 5, per: 1s }] }\n',
  );
  const consume = f.store.consume;
  f.store.consume = async () => {
    throw new GuardError('KG7001', 'unavailable');
  };
  await t.rejects(f.engine.evaluate(f.call('kt10000', BUY())), { code: 'KG7001' });
  f.store.consume = consume;
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY()))).outcome, 'allow', 'the failed call was never sent: sending it again is not a duplicate');
});

t.test("a daily notional cap's denial reports what was used before the order, and the order's own cost", async (t) => {
  const yaml = `version: 1
rules:
  - { id: cap, type: daily-cap, maxBuyNotional: 1000000 }
`;
  const f = await fixture(t, yaml);
  t.equal((await f.engine.evaluate(f.call('kt10000', BUY('10')))).outcome, 'allow', '700,000 used');
  const denied = await f.engine.evaluate(f.call('kt10000', BUY('5')));
  t.match(denied, {
    outcome: 'deny',
    ruleId: 'cap',
    reason: 'daily buy notional cap of KRW 1,000,000 would be exceeded (used KRW 700,000, this order KRW 350,000)',
  });
  const explained = await f.engine.evaluateWith(f.call('kt10000', BUY('5')), { trace: [], dryRun: true });
  t.equal(explained.reason, denied.reason, 'explain (a peek) says the same');
  const alone = await f.engine.evaluate(f.call('kt10000', BUY('20')));
  t.equal(alone.reason, 'daily buy notional cap of KRW 1,000,000 would be exceeded (this order KRW 1,400,000)', 'an order over the cap on its own');

  const ko = await fixture(t, yaml, { language: 'ko' });
  t.equal((await ko.engine.evaluate(ko.call('kt10000', BUY('10')))).outcome, 'allow');
  t.match(await ko.engine.evaluate(ko.call('kt10000', BUY('5'))), {
    outcome: 'deny',
    reason: '일일 매수 금액 한도 1,000,000원을 초과합니다 (사용 700,000원, 이 주문 350,000원)',
  });
});

t.test('cancel ratio: cancels sent at once are counted as they are admitted, given back when refused, kept when their fate is unknown', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: ratio, type: cancel-ratio, maxCancelsPerOrder: 0.5, minOrders: 2 }
`,
  );
  for (const qty of ['1', '2', '3', '4']) {
    const c = f.call('kt10000', BUY(qty));
    await f.engine.recordOutcome(c, await f.engine.evaluate(c), { ok: true, orderNo: qty });
  }
  // 4 orders: (cancels + 1) / 4 <= 0.5 lets 2 cancels through.
  const burst = await Promise.all([1, 2, 3].map(() => f.engine.evaluate(f.call('kt10003', CANCEL))));
  t.same(
    burst.map((d) => d.outcome),
    ['allow', 'allow', 'deny'],
    'a burst does not all see the same ratio',
  );
  t.match(burst[2], { ruleId: 'ratio', reason: /orders 4, cancels 2/ });
  // One of the two is refused by the broker: it was never a cancel, so it gives its count back.
  await f.engine.recordOutcome(f.call('kt10003', CANCEL), burst[0]!, { ok: true, orderNo: '5' });
  await f.engine.recordOutcome(f.call('kt10003', CANCEL), burst[1]!, { ok: false, notPlaced: true });
  const unknown = await f.engine.evaluate(f.call('kt10003', CANCEL));
  t.equal(unknown.outcome, 'allow', 'the refused cancel left room for one');
  // Written and never answered (a time-out, a dropped connection): it may have cancelled, so it stays counted.
  await f.engine.recordOutcome(f.call('kt10003', CANCEL), unknown, { ok: false });
  t.match(await f.engine.evaluate(f.call('kt10003', CANCEL)), { outcome: 'deny', ruleId: 'ratio' }, 'a cancel of unknown fate is counted');

  // A cancel refused by a later rule (the rate limit) is not counted either.
  const g = await fixture(
    t,
    `version: 1
rules:
  - { id: ratio, type: cancel-ratio, maxCancelsPerOrder: 1, minOrders: 1 }
  - { id: cancel-rate, type: rate-limit, when: { kinds: [cancel] }, limits: [{ max: 1, per: 1s }] }
`,
  );
  for (const qty of ['1', '2']) {
    const c = g.call('kt10000', BUY(qty));
    await g.engine.recordOutcome(c, await g.engine.evaluate(c), { ok: true, orderNo: qty });
  }
  const first = await g.engine.evaluate(g.call('kt10003', CANCEL));
  t.equal(first.outcome, 'allow');
  await g.engine.recordOutcome(g.call('kt10003', CANCEL), first, { ok: true, orderNo: '3' });
  t.match(await g.engine.evaluate(g.call('kt10003', CANCEL)), { outcome: 'deny', ruleId: 'cancel-rate' });
  g.clock.ms += 1000;
  t.equal((await g.engine.evaluate(g.call('kt10003', CANCEL))).outcome, 'allow', '(1 + 1) / 2: the rate-limited cancel was not counted');
});

const MODIFY = (orig: string, qty: string, price: string) => ({ dmst_stex_tp: 'KRX', orig_ord_no: orig, stk_cd: '005930', mdfy_qty: qty, mdfy_uv: price });

t.test('daily notional caps charge a modify what it adds over the order it modifies', async (t) => {
  const yaml = `version: 1
rules:
  - { id: buy-cap, type: daily-cap, maxBuyNotional: 1000000, maxOrders: 10 }
`;
  const f = await fixture(t, yaml);
  let next = 1;
  /** Judged, and when allowed accepted by the broker under the next order number. */
  const send = async (apiId: string, body: Record<string, unknown>) => {
    const c = f.call(apiId, body);
    const d = await f.engine.evaluate(c);
    const orderNo = String(next++).padStart(7, '0');
    if (d.outcome !== 'deny') await f.engine.recordOrder(c, d, orderNo);
    return { ...d, orderNo };
  };
  const small = await send('kt10000', BUY('10', '50000'));
  t.equal(small.outcome, 'allow', '500,000');
  const up = await send('kt10002', MODIFY(small.orderNo, '10', '90000'));
  t.equal(up.outcome, 'allow', 'the modify adds 400,000: 900,000 used');
  t.match(await send('kt10000', BUY('2', '70000')), {
    outcome: 'deny',
    ruleId: 'buy-cap',
    reason: 'daily buy notional cap of KRW 1,000,000 would be exceeded (used KRW 900,000, this order KRW 140,000)',
  });
  // A modify of the modify is judged against the modify's terms (90,000), not the first order's (50,000).
  const again = await send('kt10002', MODIFY(up.orderNo, '10', '95000'));
  t.equal(again.outcome, 'allow', 'adds 50,000: 950,000 used');
  t.match(await send('kt10002', MODIFY(again.orderNo, '10', '101000')), { outcome: 'deny', ruleId: 'buy-cap', reason: /this order KRW 60,000\)/ });
  t.match(
    await send('kt10002', MODIFY(up.orderNo, '10', '95000')),
    { outcome: 'deny', reason: /this order KRW 950,000/ },
    'nothing is left of a modified order',
  );
  t.equal((await send('kt10002', MODIFY(again.orderNo, '10', '10000'))).outcome, 'allow', 'a modify that lowers the price charges nothing, even at the cap');
  t.equal((await send('kt10000', BUY('1', '50000'))).outcome, 'allow', 'lowering refunds nothing either: 950,000 + 50,000 is the cap');
  t.match(await send('kt10000', BUY('1', '1')), { outcome: 'deny', ruleId: 'buy-cap' });

  // A modify of an order the sidecar never saw (placed before it started) is charged its whole notional.
  const g = await fixture(t, yaml);
  const c = g.call('kt10000', BUY('10', '50000'));
  await g.engine.recordOrder(c, await g.engine.evaluate(c), '0000001');
  t.match(await g.engine.evaluate(g.call('kt10002', MODIFY('0000777', '10', '60000'))), {
    outcome: 'deny',
    ruleId: 'buy-cap',
    reason: 'daily buy notional cap of KRW 1,000,000 would be exceeded (used KRW 500,000, this order KRW 600,000)',
  });
  // The shares a modify moves beyond what is left of the order cost their whole price; a bot may drop the zero padding.
  t.equal((await g.engine.evaluate(g.call('kt10002', MODIFY('1', '12', '50000')))).outcome, 'allow', '2 shares beyond the 10: 100,000');
  t.match(await g.engine.evaluate(g.call('kt10000', BUY('9', '50000'))), { outcome: 'deny', reason: /used KRW 600,000/ });
});

t.test('a modify inherits the side of the order it modifies; the records are bounded and end with the Seoul day', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: buy-cap, type: daily-cap, maxBuyNotional: 1000000 }
  - { id: sell-cap, type: daily-cap, maxSellNotional: 1000000 }
`,
    { config: { maxOrderRecords: 2 }, at: '2026-03-03T15:00:00' },
  );
  const send = placing(f);
  t.equal((await send('kt10001', SELL('10', '50000'), '0000001')).outcome, 'allow');
  t.equal((await send('kt10002', MODIFY('0000001', '10', '90000'), '0000002')).outcome, 'allow', 'a sell re-priced: 900,000 sold');
  t.equal((await send('kt10000', BUY('14', '70000'), '0000003')).outcome, 'allow', 'the buy cap was not charged by it');
  t.match(await f.engine.evaluate(f.call('kt10001', SELL('2', '70000'))), { outcome: 'deny', ruleId: 'sell-cap' });
  // Past maxOrderRecords (2 per account and day) an order is not recorded: a modify of it is charged in full, on both sides.
  t.match(await f.engine.evaluate(f.call('kt10002', MODIFY('0000003', '1', '60000'))), { outcome: 'deny', ruleId: 'buy-cap', reason: /this order KRW 60,000/ });
  const key = 'kguard:{policy}:ord:5001:2026-03-03';
  t.same(Object.keys(await f.store.hgetall(key)).sort(), ['1', '2']);
  t.same(await f.store.hget(key, '1'), '0:50000:s:005930', 'the modified order has nothing left (its stock kept)');
  f.clock.ms = KST('2026-03-04T00:00:00');
  t.same(await f.store.hgetall(key), {}, 'the records end at Seoul midnight');
});

t.test('when.sides: a modify or cancel is judged as the side of the order it names', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: buy-size, type: order-size, maxNotional: 1000000, when: { sides: [buy] } }
  - { id: buy-cancels, type: rate-limit, when: { kinds: [cancel], sides: [buy] }, limits: [{ max: 1, per: day }] }
`,
  );
  t.ok(f.engine.recordsOrders(), 'a rule that selects modifies or cancels by side needs the orders recorded');
  const send = placing(f);
  t.equal((await send('kt10000', BUY('10', '50000'), '0000001')).outcome, 'allow', 'a buy of 500,000');
  t.match(
    await send('kt10002', MODIFY('0000001', '10', '150000'), '0000002'),
    { outcome: 'deny', ruleId: 'buy-size', reason: 'order notional KRW 1,500,000 exceeds the limit of KRW 1,000,000' },
    're-priced to 1,500,000 it is a buy over the rule',
  );
  t.equal((await send('kt10001', SELL('10', '50000'), '0000003')).outcome, 'allow');
  t.equal((await send('kt10002', MODIFY('0000003', '10', '150000'), '0000004')).outcome, 'allow', 'a sell re-priced is no buy');

  t.equal((await send('kt10003', { ...CANCEL, orig_ord_no: '0000004', cncl_qty: '1' }, '0000005')).outcome, 'allow', 'a cancel of a sell');
  t.equal((await send('kt10003', { ...CANCEL, orig_ord_no: '0000001', cncl_qty: '1' }, '0000006')).outcome, 'allow', "the day's one cancel of a buy");
  t.match(await send('kt10003', { ...CANCEL, orig_ord_no: '1', cncl_qty: '1' }, '0000007'), { outcome: 'deny', ruleId: 'buy-cancels' }, 'a second');
  t.equal((await send('kt10003', { ...CANCEL, orig_ord_no: '0000003', cncl_qty: '1' }, '0000008')).outcome, 'allow', 'sells are not counted');

  // An order the sidecar never recorded (placed elsewhere, past the bound, another replica's memory): both sides' rules judge it.
  t.match(await f.engine.evaluate(f.call('kt10002', MODIFY('0000777', '10', '150000'))), {
    outcome: 'deny',
    ruleId: 'buy-size',
    reason: /^order notional KRW 1,500,000 exceeds the limit of KRW 1,000,000 \(the side of order 0000777 is not known to the sidecar/,
  });
  t.equal((await f.engine.evaluate(f.call('kt10002', MODIFY('0000777', '10', '90000')))).outcome, 'allow', 'within the rules of both sides');
  t.match(await f.engine.evaluate(f.call('kt10003', { ...CANCEL, orig_ord_no: '0000777' })), { outcome: 'deny', ruleId: 'buy-cancels' });
  t.match(
    await f.engine.evaluate(f.call('kt10002', { ...MODIFY('1', '10', '150000'), orig_ord_no: undefined })),
    { outcome: 'deny', ruleId: 'buy-size' },
    'no order named',
  );

  // A rule on a side that does not name cancels in when.kinds never stands in the way of a cancel, known side or not.
  const g = await fixture(
    t,
    `version: 1
rules:
  - { id: buy-hours, type: trading-window, when: { sides: [buy] }, windows: [{ start: "09:00", end: "09:01" }] }
`,
  );
  const gs = placing(g);
  t.match(await gs('kt10000', BUY('10', '50000'), '0000001'), { outcome: 'deny', ruleId: 'buy-hours' }, 'a buy outside the buy window');
  t.match(await gs('kt10002', MODIFY('0000777', '10', '50000'), '0000002'), { outcome: 'deny', ruleId: 'buy-hours' }, 'a modify of unknown side');
  t.equal((await gs('kt10003', { ...CANCEL, orig_ord_no: '0000777' }, '0000003')).outcome, 'allow', 'a cancel of unknown side goes');

  // The record cannot be read: the call fails closed with the Store's error, as a trading-state read would.
  f.store.hget = async () => {
    throw new Error('store down');
  };
  await t.rejects(f.engine.originalOrder(f.call('kt10003', CANCEL)), { code: 'KG7001' });
  await t.rejects(f.engine.evaluate(f.call('kt10002', MODIFY('0000001', '1', '1'))), { code: 'KG7001' });
  t.equal(await f.engine.originalOrder(f.call('kt10000', BUY())), undefined, 'an order needs no record');
});

t.test('when.sides: an override narrowed by side replaces a rule only for a modify whose side is known', async (t) => {
  const f = await fixture(
    t,
    `version: 1
rules:
  - { id: size, type: order-size, maxNotional: 3000000 }
  - { id: sellers-size, overrides: size, type: order-size, maxNotional: 10000000, when: { sides: [sell] } }
`,
  );
  const send = placing(f);
  t.equal((await send('kt10001', SELL('10', '50000'), '0000001')).outcome, 'allow');
  t.equal((await send('kt10002', MODIFY('0000001', '10', '500000'), '0000002')).outcome, 'allow', 'a sell of 5,000,000 is under the sellers rule');
  t.equal((await send('kt10000', BUY('10', '50000'), '0000003')).outcome, 'allow');
  t.match(await send('kt10002', MODIFY('0000003', '10', '500000'), '0000004'), { outcome: 'deny', ruleId: 'size' }, 'a buy is not');
  t.match(
    await f.engine.evaluate(f.call('kt10002', MODIFY('0000777', '10', '500000'))),
    { outcome: 'deny', ruleId: 'size', reason: /is not known to the sidecar/ },
    'an order of unknown side may be a buy: the sellers rule does not replace the default for it',
  );
});
