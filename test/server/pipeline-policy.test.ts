// The policy stages on a real engine: `policy` plans (pure), `market-data`
// fetches only what the plan asked for, `decide` judges the snapshot (pure),
// `limits` charges the counters. A denial that needs no market data never
// reaches the fetch: no key unwrap, no broker token.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import { createPolicyEngine, parsePolicyConfig } from '../../proxy/policy/index.js';
import type { RequestContext } from '../../proxy/server/context.js';
import { decide, limits, marketData, policy } from '../../proxy/server/pipeline/policy.js';

const POLICY = `version: 1
language: en
rules:
  - id: order-size
    type: order-size
    maxQuantity: 100
  - id: price-collar
    type: price-collar
    maxDeviationPercent: 10
  - id: order-rate
    type: rate-limit
    when: { kinds: [order] }
    limits:
      - { max: 2, per: 1s }
`;

const fetched: string[] = [];
const market = {
  async referencePrice() {
    fetched.push('price');
    return 70_000;
  },
  async heldQuantity() {
    fetched.push('held');
    return 0;
  },
  async openOrderCount() {
    fetched.push('open');
    return 0;
  },
};

const dir = await mkdtemp(path.join(tmpdir(), 'kg-pipeline-policy-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const file = path.join(dir, 'policy.yaml');
await writeFile(file, POLICY);
const engine = await createPolicyEngine({
  config: parsePolicyConfig({ file, watch: false }, dir),
  store: createMemoryStore(),
  market,
  registry: new Registry(),
  logger: pino({ level: 'silent' }),
});
t.teardown(() => engine.close());
t.same(engine.lastError()?.issues ?? [], [], 'the test policy loads');
const deps = { policy: engine };
const stages = [policy(deps), marketData(deps), decide(deps), limits(deps)];

function orderCtx(body: Record<string, string>): RequestContext {
  const bot = { id: 'b1', account: '1234' };
  const state = engine.tradingState('b1', '1234');
  return {
    bot,
    apiId: 'kt10000',
    entry: lookupApi('kt10000'),
    json: { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0', ...body },
    claims: {},
    liveCheck: Promise.resolve(),
    intentional: false,
    prefetched: { tradingState: { botId: 'b1', account: '1234', state }, lockdown: Promise.resolve() },
  } as unknown as RequestContext;
}

async function run(ctx: RequestContext): Promise<string[]> {
  const reached: string[] = [];
  const names = ['policy', 'market-data', 'decide', 'limits'];
  for (let i = 0; i < stages.length; i++) {
    const before = fetched.length;
    await stages[i]!(ctx);
    if (fetched.length > before) reached.push(names[i]!);
  }
  return reached;
}

t.test('a denial that needs no market data ends in the plan: nothing fetched', async (t) => {
  fetched.length = 0;
  const ctx = orderCtx({ ord_qty: '101' });
  await policy(deps)(ctx);
  t.equal(ctx.decision?.outcome, 'deny');
  t.equal(ctx.decision?.ruleId, 'order-size');
  t.equal(ctx.pendingDecision, undefined, 'nothing left to do');
  await run(ctx);
  t.same(fetched, [], 'no market data fetched for the denial');
  t.equal(ctx.decision?.market, undefined);
});

t.test('a price collar: the plan asks for the price, market-data fetches it once, decide judges the snapshot', async (t) => {
  fetched.length = 0;
  const ctx = orderCtx({ ord_uv: '90000' });
  await policy(deps)(ctx);
  t.equal(ctx.decision, undefined, 'the plan alone cannot decide');
  t.ok(ctx.pendingDecision && ctx.pendingDecision.wanted !== 0, 'the plan names the data it needs');
  await marketData(deps)(ctx);
  t.same(fetched, ['price'], 'only the reference price, once');
  decide(deps)(ctx);
  t.equal(ctx.decision?.outcome, 'deny');
  t.equal(ctx.decision?.ruleId, 'price-collar');
  t.equal(ctx.decision?.market?.referencePrice, 70_000, 'the snapshot travels with the decision (audit intent)');
});

t.test('counters are charged by the limits stage, and only for calls that got that far', async (t) => {
  fetched.length = 0;
  const outcomes: string[] = [];
  for (let i = 0; i < 3; i++) {
    const ctx = orderCtx({ ord_uv: String(70_000 - i) });
    await run(ctx);
    outcomes.push(`${ctx.decision?.outcome}:${ctx.decision?.ruleId ?? ''}`);
    t.equal(ctx.pendingDecision, undefined, 'every call ends decided');
  }
  t.same(outcomes, ['allow:', 'allow:', 'deny:order-rate']);
  // A call denied in the plan does not use up the limit's slot of a later window.
  const denied = orderCtx({ ord_qty: '500' });
  await run(denied);
  t.equal(denied.decision?.ruleId, 'order-size');
});

t.test('decide and limits do nothing without a pending plan; decide needs no I/O', async (t) => {
  const ctx = orderCtx({});
  decide(deps)(ctx);
  await limits(deps)(ctx);
  await marketData(deps)(ctx);
  t.equal(ctx.decision, undefined);
});
