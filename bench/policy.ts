// Policy benchmark: evaluating one order against a 1,000-rule policy through
// the real engine (real in-memory Store for trading state, rate limits, caps
// and the duplicate guard; a cached reference price), against the same engine
// with an empty policy in the same process. ~900 of the rules apply to the
// benchmarked bot's order (symbol lists, sizes, order types, venues, windows,
// collars, counters); the rest select other bots and are skipped by the index.
// Prints JSON: p50/p99 in microseconds and the ratio to the no-policy run.
// Run: npm run build && node dist/bench/policy.js   (BENCH_CALLS, default 50000)
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { lookupApi } from '../proxy/kiwoom/catalogue.js';
import { compilePolicy, createPolicyEngine, parsePolicyConfig, parsePolicySource, type PolicyCall, type PolicyEngine } from '../proxy/policy/index.js';
import { evaluatePolicy, type EvalDeps } from '../proxy/policy/evaluate.js';
import type { Store } from '../proxy/state/types.js';
import { createMemoryStore } from '../proxy/state/index.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 50_000);
const WARMUP = 5_000;

const code = (i: number) => String(100000 + i).padStart(6, '0');
const COUNTERS = [
  '  - { id: rate, type: rate-limit, when: { kinds: [order] }, limits: [{ max: 1000000000, per: 1s }, { max: 1000000000, per: day }] }',
  '  - { id: caps, type: daily-cap, maxOrders: 1000000000, maxGrossNotional: 1000000000000000 }',
  '  - { id: dup, type: duplicate-guard, windowSeconds: 1 }',
];

/**
 * A desk-sized policy: a 2,000-code restricted list split over 400 rules,
 * 100 bots with 4 rules each (overrides, own universe, own limits), 188
 * account-scoped rules, and global checks and counters.
 */
export function mixedPolicy(): string {
  const rules: string[] = [
    '  - { id: least-privilege, type: allow-apis, kinds: [query, account, order, modify, cancel] }',
    '  - { id: no-credit, type: deny-apis, apiIds: [kt10006, kt10007, kt10008, kt10009] }',
    '  - { id: size, type: order-size, maxQuantity: 5000, maxNotional: 500000000 }',
    '  - { id: types, type: trade-types, allow: [limit, market, best] }',
    '  - { id: venues, type: markets, allow: [KRX, NXT] }',
    '  - { id: hours, type: trading-window, windows: [{ days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00" }] }',
    '  - { id: collar, type: price-collar, maxDeviationPercent: 30 }',
    '  - { id: shadow-size, type: order-size, maxQuantity: 5, mode: shadow }',
    '  - { id: approve-huge, type: require-approval, minNotional: 400000000 }',
    ...COUNTERS,
  ];
  for (let i = 0; i < 400; i++)
    rules.push(`  - { id: restricted-${i}, type: deny-symbols, symbols: [${Array.from({ length: 5 }, (_, k) => `"${code(i * 5 + k)}"`).join(', ')}] }`);
  for (let b = 0; b < 100; b++) {
    const bot = `bot-${b}`;
    rules.push(`  - { id: size-${b}, overrides: size, type: order-size, maxQuantity: ${2000 + b}, when: { bots: [${bot}] } }`);
    rules.push(`  - { id: universe-${b}, type: allow-symbols, symbols: ["005930", "000660", "${code(9000 + b)}"], when: { bots: [${bot}] } }`);
    rules.push(`  - { id: burst-${b}, type: rate-limit, when: { bots: [${bot}], kinds: [order, cancel] }, limits: [{ max: 1000000000, per: 1s }] }`);
    rules.push(`  - { id: cap-${b}, type: daily-cap, maxOrders: 1000000000, when: { bots: [${bot}] } }`);
  }
  for (let a = 0; a < 188; a++) rules.push(`  - { id: acct-size-${a}, type: order-size, maxQuantity: ${3000 + a}, when: { accounts: ["${7000 + a}"] } }`);
  if (rules.length !== 1000) throw new Error(`expected 1000 rules, built ${rules.length}`);
  return `version: 1\nname: bench-mixed-1000\nrules:\n${rules.join('\n')}\n`;
}

/** Worst case: every one of the 1,000 rules applies to the order and is walked one by one. */
export function allApplyPolicy(): string {
  const rules: string[] = ['  - { id: least-privilege, type: allow-apis, kinds: [query, account, order, modify, cancel] }'];
  for (let i = 0; i < 300; i++) rules.push(`  - { id: universe-${i}, type: allow-symbols, symbols: ["005930", "${code(i)}"] }`);
  for (let i = 0; i < 250; i++) rules.push(`  - { id: size-${i}, type: order-size, maxQuantity: ${10_000 + i}, maxNotional: ${1_000_000_000 + i} }`);
  for (let i = 0; i < 100; i++) rules.push(`  - { id: types-${i}, type: trade-types, allow: [limit, market, best] }`);
  for (let i = 0; i < 100; i++) rules.push(`  - { id: venues-${i}, type: markets, allow: [KRX, NXT] }`);
  for (let i = 0; i < 100; i++)
    rules.push(`  - { id: hours-${i}, type: trading-window, windows: [{ days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00" }] }`);
  for (let i = 0; i < 145; i++) rules.push(`  - { id: collar-${i}, type: price-collar, maxDeviationPercent: ${20 + (i % 50)} }`);
  rules.push('  - { id: shadow-size, type: order-size, maxQuantity: 5, mode: shadow }', ...COUNTERS);
  if (rules.length !== 1000) throw new Error(`expected 1000 rules, built ${rules.length}`);
  return `version: 1\nname: bench-all-apply-1000\nrules:\n${rules.join('\n')}\n`;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Dependencies that cost nothing: isolates the policy's own work (rule walk,
 * decision building, counter requests) from the Store and market data.
 */
function zeroCostDeps(): EvalDeps {
  const store = {
    async get() {
      return null;
    },
    async peek(l: readonly unknown[]) {
      return l.map(() => 0);
    },
    async consume(l: readonly unknown[]) {
      return { allowed: true, usage: l.map(() => 1) };
    },
    async setIfAbsent() {
      return true;
    },
  } as unknown as Store;
  return { store, market: async () => ({ referencePrice: 70_000 }), tradingState: async () => ({ state: 'ACTIVE', source: 'default', reason: '' }) };
}

function rulesOnly(yaml: string): Pick<PolicyEngine, 'evaluate'> {
  const policy = compilePolicy(parsePolicySource(yaml, 'bench.yaml'), 'en');
  const deps = zeroCostDeps();
  return { evaluate: (call) => evaluatePolicy(policy, call, deps, Date.now()) };
}

async function measure(
  engine: Pick<PolicyEngine, 'evaluate'>,
): Promise<{ p50us: number; p99us: number; p999us: number; meanUs: number; decisions: Record<string, number> }> {
  const entry = lookupApi('kt10000');
  const decisions: Record<string, number> = {};
  // A sidecar serving 100 bots, round robin (each bot has its own rules and counters in the mixed policy).
  const call = (i: number): PolicyCall => ({
    botId: `bot-${i % 100}`,
    account: String(5000 + (i % 100)),
    apiId: 'kt10000',
    entry,
    // A different quantity/price pair each call so the duplicate guard does real work and never fires.
    body: { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: String(10 + (i % 1000)), ord_uv: String(60_000 + (Math.floor(i / 1000) % 20_000)), trde_tp: '0' },
  });
  for (let i = 0; i < WARMUP; i++) await engine.evaluate(call(i));
  const samples = new Array<number>(CALLS);
  for (let i = 0; i < CALLS; i++) {
    const c = call(WARMUP + i);
    const t0 = process.hrtime.bigint();
    const d = await engine.evaluate(c);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1_000;
    decisions[d.outcome] = (decisions[d.outcome] ?? 0) + 1;
  }
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  samples.sort((a, b) => a - b);
  return {
    p50us: +quantile(samples, 0.5).toFixed(2),
    p99us: +quantile(samples, 0.99).toFixed(2),
    p999us: +quantile(samples, 0.999).toFixed(2),
    meanUs: +mean.toFixed(2),
    decisions,
  };
}

async function engineFor(dir: string, name: string, yaml: string): Promise<{ engine: PolicyEngine; close(): Promise<void> }> {
  const file = path.join(dir, name);
  await writeFile(file, yaml);
  const store = createMemoryStore();
  const market = { referencePrice: async () => 70_000, heldQuantity: async () => 0, openOrderCount: async () => 0 };
  const engine = await createPolicyEngine({
    config: parsePolicyConfig({ file, watch: false, referencePriceTtlMs: 3_600_000 }, dir),
    store,
    market,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
  });
  if (!engine.current()) throw new Error(`${name} did not load: ${engine.lastError()?.message}`);
  return {
    engine,
    async close() {
      await engine.close();
      await store.close();
    },
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-policy-'));
  try {
    const empty = await engineFor(dir, 'empty.yaml', 'version: 1\nrules: []\n');
    const mixed = await engineFor(dir, 'mixed.yaml', mixedPolicy());
    const allApply = await engineFor(dir, 'all.yaml', allApplyPolicy());
    // Interleaved rounds so every run sees the same machine conditions; the better round of two is kept.
    type M = Awaited<ReturnType<typeof measure>>;
    const best = (a: M, b: M) => (a.p99us <= b.p99us ? a : b);
    const rounds: M[][] = [[], [], []];
    for (let round = 0; round < 2; round++) {
      rounds[0]!.push(await measure(empty.engine));
      rounds[1]!.push(await measure(mixed.engine));
      rounds[2]!.push(await measure(allApply.engine));
    }
    const [noPolicy, mixed1000, allApply1000] = rounds.map((r) => best(r[0]!, r[1]!)) as [M, M, M];
    await Promise.all([empty.close(), mixed.close(), allApply.close()]);
    const ratio = (m: M, base: M) => ({
      ratioP50: +(m.p50us / base.p50us).toFixed(2),
      ratioP99: +(m.p99us / base.p99us).toFixed(2),
      addedP99us: +(m.p99us - base.p99us).toFixed(2),
    });

    const ruleRounds: M[][] = [[], [], []];
    const engines = [rulesOnly('version: 1\nrules: []\n'), rulesOnly(mixedPolicy()), rulesOnly(allApplyPolicy())];
    for (let round = 0; round < 2; round++) for (let k = 0; k < 3; k++) ruleRounds[k]!.push(await measure(engines[k]!));
    const [rNo, rMixed, rAll] = ruleRounds.map((r) => best(r[0]!, r[1]!)) as [M, M, M];

    const out = {
      bench: 'policy',
      what: 'evaluate one kt10000 order (100 bots round robin), sequential on one core',
      calls: CALLS,
      node: process.version,
      // The policy's own cost: Store and MarketData replaced by zero-cost stubs.
      rulesOnly: { noPolicy: rNo, mixed1000: { ...rMixed, ...ratio(rMixed, rNo) }, allApply1000: { ...rAll, ...ratio(rAll, rNo) } },
      // The whole engine: in-memory Store (trading state, 6 layered limits, duplicate guard), metrics, cached reference price.
      engine: { noPolicy, mixed1000: { ...mixed1000, ...ratio(mixed1000, noPolicy) }, allApply1000: { ...allApply1000, ...ratio(allApply1000, noPolicy) } },
      targetP99us: 20,
      meetsTarget: rMixed.p99us < 20,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Run when executed directly (the policy generators are also imported by tests and tools).
if (process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]))) await main();
