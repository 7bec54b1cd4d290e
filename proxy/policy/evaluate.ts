// Evaluating one call against a compiled policy, in three steps that the
// request pipeline runs as separate stages:
//   planPolicy (pure): unknown api-id → plain rules → transfer grant → trading
//     state (read earlier) → which market data the remaining rules need;
//   decideOnSnapshot (pure): rules over the fetched market snapshot → risk score;
//   chargeLimits (Store): counters read, then charged atomically.
// The first enforce-mode deny decides; shadow rules are recorded, never obeyed.
// A deny in the plan costs no market data (so no key unwrap, no broker token).
// Counters are charged last and only when nothing denied before them, so a
// denied call does not use up a bot's rate limit.
import type { Store } from '../state/types.js';
import { Accumulator, applies, type TraceEntry } from './accumulator.js';
import {
  NEEDS_HELD_QUANTITY,
  NEEDS_OPEN_ORDERS,
  NEEDS_REFERENCE_PRICE,
  NEEDS_REFERENCE_PRICE_IF_LIMIT,
  NEEDS_REFERENCE_PRICE_IF_MARKET,
  say,
  type CompiledPolicy,
  type CompiledRule,
  type MarketSnapshot,
  type RuleList,
  type Verdict,
} from './compiled.js';
import { callFacts, type CallFacts } from './facts.js';
import { orderNamedBy } from './orders.js';
import { statefulPhase } from './stateful.js';
import type { Decision, EffectiveTradingState, PolicyCall, TradingState } from './types.js';

export type { TraceEntry } from './accumulator.js';

export interface EvalDeps {
  store: Store;
  /** Fetches what `needs` asks for; failures come back as null (the rules then fail closed). */
  market(needs: number, f: CallFacts): Promise<MarketSnapshot>;
  /** Trading state set by operators (global/bot/account), most restrictive first. */
  tradingState(botId: string, account: string): Promise<{ state: TradingState; source: string; reason: string }>;
}

export interface EvalOptions {
  /** Record every rule considered (explain). Evaluation continues past the first deny. */
  trace?: TraceEntry[];
  /** Do not charge or set counters (explain). */
  dryRun?: boolean;
}

export const BUILTIN = {
  unknownApi: 'builtin.unknown-api',
  orderSymbol: 'builtin.order-symbol',
  transfer: 'builtin.transfer',
  tradingState: 'builtin.trading-state',
  riskStepUp: 'builtin.risk-step-up',
  riskApproval: 'builtin.risk-approval',
} as const;

/** Kinds that stay open in each posture; REDUCING also lets sells of held stock through. */
const OPEN_WHEN_HALTED = new Set(['cancel', 'query', 'account', 'auth', 'realtime']);

const NO_DATA: MarketSnapshot = {};

/** The hot loop: true when an enforced deny stops evaluation. */
function walk(rules: CompiledRule[], f: CallFacts, acc: Accumulator): boolean {
  const tracing = acc.trace !== undefined;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.select !== null && !r.select(f)) {
      if (tracing) acc.skip(r, 'not-selected');
      continue;
    }
    if (r.overriddenBy !== undefined && !applies(r, f, acc)) continue;
    const v = r.check!(f, NO_DATA);
    if (v === undefined) {
      if (tracing) acc.record(r, undefined);
      continue;
    }
    if (acc.record(r, v)) return true;
  }
  return false;
}

export function ruleListFor(policy: CompiledPolicy, botId: string, kind: NonNullable<CallFacts['kind']>): RuleList {
  return (policy.byBot.get(botId) ?? policy.byKind).get(kind)!;
}

function postureVerdict(state: TradingState, f: CallFacts, m: MarketSnapshot, lang: 'ko' | 'en', reason: string): Verdict | undefined {
  if (state === 'ACTIVE' || (f.kind !== undefined && OPEN_WHEN_HALTED.has(f.kind))) return undefined;
  const why = reason ? ` — ${reason}` : '';
  if (state === 'HALTED') {
    return { outcome: 'deny', reason: say(lang, `거래 중지 상태입니다 (취소와 조회만 가능)${why}`, `trading is HALTED (only cancels and queries)${why}`) };
  }
  // REDUCING: only sells of stock actually held.
  if (f.kind === 'order' && f.side === 'sell') {
    const held = m.heldQuantity;
    const qty = f.quantity;
    if (held === undefined || held === null)
      return { outcome: 'deny', reason: say(lang, `보유수량을 확인할 수 없습니다 (축소 전용 상태)${why}`, `held quantity unavailable while REDUCING${why}`) };
    if (qty !== undefined && !Number.isNaN(qty) && qty <= held) return undefined;
    return {
      outcome: 'deny',
      reason: say(
        lang,
        `축소 전용 상태: 매도수량 ${qty ?? '-'}주가 보유수량 ${held}주를 초과합니다${why}`,
        `REDUCING: selling ${qty ?? '-'} exceeds the ${held} held${why}`,
      ),
    };
  }
  return {
    outcome: 'deny',
    reason: say(lang, `축소 전용 상태입니다 (보유 종목 매도와 취소만 가능)${why}`, `trading is REDUCING (only sells of held stock and cancels)${why}`),
  };
}

/** Said after a side-narrowed rule's reason when it judged a modify or cancel of unknown side (why a sell rule may refuse a buy's modify). */
function unknownSideNote(lang: 'ko' | 'en', orderNo: string | undefined): string {
  return orderNo === undefined
    ? say(
        lang,
        '(원주문번호가 없어 매수/매도 구분을 알 수 없으므로 매수·매도 규칙을 모두 적용합니다)',
        '(no order named: the rules for buys and for sells both apply)',
      )
    : say(
        lang,
        `(원주문 ${orderNo}의 매수/매도 구분을 알 수 없어 매수·매도 규칙을 모두 적용합니다)`,
        `(the side of order ${orderNo} is not known to the sidecar: the rules for buys and for sells both apply)`,
      );
}

const STATE_RANK: Record<TradingState, number> = { ACTIVE: 0, REDUCING: 1, HALTED: 2 };

/** What the plan leaves for the snapshot and the counters; opaque outside the policy part. */
export interface PolicyPlan {
  readonly policy: CompiledPolicy;
  readonly facts: CallFacts;
  /** Market data the remaining rules need (NEEDS_* bits); 0 = none, nothing to fetch. */
  readonly wanted: number;
  readonly acc: Accumulator;
  readonly activeData: readonly CompiledRule[];
  readonly activeStateful: readonly CompiledRule[];
  readonly enforcedPosture: { state: TradingState; id: string; type: string; reason: string };
  readonly shadowPostures: readonly CompiledRule[];
  readonly reducingSell: boolean;
  /** The shadow postures wait for the held quantity (the enforced one was judged in the plan). */
  readonly shadowHeld: boolean;
  readonly opts: EvalOptions;
  market?: MarketSnapshot;
}

/** Either the decision is made, or the plan says what is still needed. */
export type Step = { readonly decision: Decision; readonly plan?: undefined } | { readonly decision?: undefined; readonly plan: PolicyPlan };

function decided(policy: CompiledPolicy, acc: Accumulator, market?: MarketSnapshot): Step {
  const d = acc.decision(policy.version);
  return { decision: market ? { ...d, market: { ...market } } : d };
}

/**
 * The deny-symbols rules naming any of several codes (a quote may name several): each rule once, in file order, so
 * a shadow rule is recorded once and the first rule in the file is the one that denies.
 */
function rulesNaming(bySymbol: ReadonlyMap<string, CompiledRule[]>, symbols: readonly string[]): CompiledRule[] | undefined {
  const named = new Set(symbols.flatMap((symbol) => bySymbol.get(symbol) ?? []));
  return named.size === 0 ? undefined : [...named].sort((a, b) => a.index - b.index);
}

/** Two lists, each in file order already: one list in file order. */
function inFileOrder(a: readonly CompiledRule[], b: readonly CompiledRule[]): CompiledRule[] {
  return [...a, ...b].sort((x, y) => x.index - y.index);
}

/** Pure: everything that needs neither market data nor counters. */
export function planPolicy(policy: CompiledPolicy, call: PolicyCall, operator: EffectiveTradingState, now: number, opts: EvalOptions = {}): Step {
  const acc = new Accumulator(opts.trace);
  const lang = policy.language;
  const f = callFacts(call, now);
  const done = () => decided(policy, acc);
  if (f.sideUnknown) acc.unknownSideNote = unknownSideNote(lang, f.origOrderNo);

  if (call.entry === undefined || f.kind === undefined) {
    acc.record(
      { id: BUILTIN.unknownApi, type: 'builtin', kind: 'unknown-api', mode: 'enforce' },
      {
        outcome: 'deny',
        reason: say(lang, `알 수 없는 API ID입니다 (${call.apiId})`, `unknown api-id ${call.apiId}; denied by default`),
      },
    );
    return done();
  }
  const list = ruleListFor(policy, f.botId, f.kind);
  // A modify acts on the order it names: its symbol rules and price collar would judge a stk_cd the broker does not act on.
  const booked = call.original?.symbol;
  if (policy.symbolsOnBook && f.kind === 'modify' && booked !== undefined && f.symbol !== booked) {
    acc.record(
      { id: BUILTIN.orderSymbol, type: 'builtin', kind: 'order-symbol', mode: 'enforce' },
      {
        outcome: 'deny',
        reason: say(
          lang,
          `정정 주문의 종목코드(${f.symbol ?? '없음'})가 원주문(${f.origOrderNo})의 종목(${booked})과 다릅니다`,
          `stk_cd ${f.symbol ?? '(none)'} is not the stock of order ${f.origOrderNo} (${booked}) this modify acts on`,
        ),
      },
    );
    return done();
  }

  // Plain rules. Explain walks every rule in file order; evaluation finds
  // account-scoped and deny-symbols rules through indexes and walks them with
  // the rest in file order, so the first deny in the file decides, as explain
  // shows (walked after the rest, a later rule named the refusal).
  if (opts.trace) {
    if (walk(list.plain, f, acc)) return done();
  } else {
    // The account's list is `linear` with its own rules merged in at compile; deny-symbols rules are merged here.
    const base = list.byAccount.get(f.account) ?? list.linear;
    const named = f.symbols.length === 1 ? list.bySymbol.get(f.symbols[0]!) : rulesNaming(list.bySymbol, f.symbols);
    if (walk(named === undefined ? base : inFileOrder(base, named), f, acc)) return done();
  }

  // Transfers move money out: only an explicit allow-apis grant lets one through.
  if (f.kind === 'transfer') {
    let granted = false;
    for (const r of list.allowApis) if (r.mode === 'enforce' && (r.select === null || r.select(f)) && r.check!(f, NO_DATA) === undefined) granted = true;
    if (
      !granted &&
      acc.record(
        { id: BUILTIN.transfer, type: 'builtin', kind: 'transfer', mode: 'enforce' },
        {
          outcome: 'deny',
          reason: say(lang, '이체성 API는 정책에서 명시적으로 허용해야 합니다', 'transfers are denied unless a rule explicitly allows them'),
        },
      )
    )
      return done();
  }

  // Trading state (operators' kill switch and the policy's own postures).
  let enforcedPosture: PolicyPlan['enforcedPosture'] = { state: operator.state, id: BUILTIN.tradingState, type: 'builtin', reason: operator.reason };
  const shadowPostures: CompiledRule[] = [];
  for (const r of list.postures) {
    if (!applies(r, f, acc)) continue;
    if (r.mode === 'shadow') shadowPostures.push(r);
    else if (STATE_RANK[r.posture!] > STATE_RANK[enforcedPosture.state]) enforcedPosture = { state: r.posture!, id: r.id, type: r.type, reason: '' };
  }

  // The rules still to judge; which market data they need is resolved per call (wantedFor).
  const activeData: CompiledRule[] = [];
  const activeStateful: CompiledRule[] = [];
  for (const r of list.data) if (applies(r, f, acc)) activeData.push(r);
  for (const r of list.stateful) if (applies(r, f, acc)) activeStateful.push(r);
  const sell = f.kind === 'order' && f.side === 'sell';
  const reducingSell = sell && enforcedPosture.state === 'REDUCING';
  // A shadow REDUCING posture needs the held quantity too, but only to be recorded: it must not hold back
  // a denial that needs no market data (nor fetch anything for a call HALTED refuses anyway).
  const shadowHeld = sell && !reducingSell && enforcedPosture.state !== 'HALTED' && shadowPostures.some((r) => r.posture === 'REDUCING');

  // The posture is judged now unless it needs the held quantity; so are the
  // data rules that need nothing for this call (a limit order's size cap):
  // a denial that needs no market data costs no fetch, no unwrap, no token.
  if (!reducingSell) {
    if (recordPosture(enforcedPosture, shadowHeld ? [] : shadowPostures, f, NO_DATA, lang, acc)) return done();
    const later: CompiledRule[] = [];
    for (const r of activeData) {
      if (wantedFor(r.needs, f) !== 0) later.push(r);
      else if (acc.record(r, r.check!(f, NO_DATA))) return done();
    }
    activeData.length = 0;
    activeData.push(...later);
  }
  return {
    plan: {
      policy,
      facts: f,
      wanted: wantedFor(needsOf(activeData, activeStateful, reducingSell || shadowHeld), f),
      acc,
      activeData,
      activeStateful,
      enforcedPosture,
      shadowPostures,
      reducingSell,
      shadowHeld,
      opts,
    },
  };
}

/** The market data a set of NEEDS_* bits asks for on this call (the conditional bits resolved). */
function wantedFor(needs: number, f: CallFacts): number {
  return (
    (needs & (NEEDS_HELD_QUANTITY | NEEDS_OPEN_ORDERS | NEEDS_REFERENCE_PRICE)) |
    (needs & NEEDS_REFERENCE_PRICE_IF_MARKET && f.limitPrice === undefined ? NEEDS_REFERENCE_PRICE : 0) |
    (needs & NEEDS_REFERENCE_PRICE_IF_LIMIT && f.limitPrice !== undefined && !Number.isNaN(f.limitPrice) ? NEEDS_REFERENCE_PRICE : 0)
  );
}

function needsOf(data: readonly CompiledRule[], stateful: readonly CompiledRule[], reducingSell: boolean): number {
  let needs = reducingSell ? NEEDS_HELD_QUANTITY : 0;
  for (const r of data) needs |= r.needs;
  for (const r of stateful) needs |= r.needs;
  return needs;
}

function recordPosture(
  enforced: PolicyPlan['enforcedPosture'],
  shadows: readonly CompiledRule[],
  f: CallFacts,
  market: MarketSnapshot,
  lang: 'ko' | 'en',
  acc: Accumulator,
): boolean {
  const stop = acc.record(
    { id: enforced.id, type: enforced.type, kind: 'trading-state', mode: 'enforce' },
    postureVerdict(enforced.state, f, market, lang, enforced.reason),
  );
  for (const r of shadows) acc.record(r, postureVerdict(r.posture!, f, market, lang, ''));
  return stop;
}

/**
 * The risk rule a score above step-up meets: its id, what it does to a REST call and why. A realtime LOGIN or
 * condition search, which cannot wait for an approval, is refused with the same rule and reason.
 */
export function riskRuleFor(
  score: number,
  policy: Pick<CompiledPolicy, 'stepUp' | 'approval' | 'language'>,
): { id: string; outcome: 'hold' | 'step-up'; reason: string } | undefined {
  const admin = score > policy.approval;
  if (!admin && !(score > policy.stepUp)) return undefined;
  const [threshold, ko, en] = admin ? [policy.approval, '관리자 승인', 'admin approval'] : [policy.stepUp, '추가 승인', 'step-up approval'];
  const s = score.toFixed(2);
  return {
    id: admin ? BUILTIN.riskApproval : BUILTIN.riskStepUp,
    outcome: admin ? 'hold' : 'step-up',
    reason: say(policy.language, `위험 점수 ${s}: ${ko}이 필요합니다 (기준 ${threshold})`, `risk score ${s} needs ${en} (threshold ${threshold})`),
  };
}

/** Pure: the rules over the market snapshot (empty when nothing was wanted), then the risk score. */
export function decideOnSnapshot(plan: PolicyPlan, market: MarketSnapshot): Step {
  const { policy, facts: f, acc } = plan;
  const lang = policy.language;
  if (plan.wanted !== 0) plan.market = market;
  const done = () => decided(policy, acc, plan.market);
  if (plan.reducingSell && recordPosture(plan.enforcedPosture, plan.shadowPostures, f, market, lang, acc)) return done();
  if (plan.shadowHeld) for (const r of plan.shadowPostures) acc.record(r, postureVerdict(r.posture!, f, market, lang, ''));

  for (const r of plan.activeData) if (acc.record(r, r.check!(f, market))) return done();

  const rule = f.riskScore === undefined ? undefined : riskRuleFor(f.riskScore, policy);
  if (rule) acc.record({ id: rule.id, type: 'builtin', kind: 'risk-score', mode: 'enforce' }, { outcome: rule.outcome, reason: rule.reason });
  if (plan.activeStateful.length === 0) return done();
  if (acc.deny !== undefined && plan.opts.trace === undefined) return done();
  return { plan };
}

/** The Store step: counters read, then charged atomically (peeked only in explain or after a deny). */
export async function chargeLimits(plan: PolicyPlan, store: Store): Promise<Decision> {
  const dryRun = plan.opts.dryRun === true || plan.acc.deny !== undefined;
  await statefulPhase(plan.activeStateful, plan.facts, plan.market ?? NO_DATA, store, plan.acc, dryRun);
  return decided(plan.policy, plan.acc, plan.market).decision!;
}

/** The three steps in one, for callers outside the request pipeline (explain, `policy test`, the engine). */
export async function evaluatePolicy(policy: CompiledPolicy, given: PolicyCall, deps: EvalDeps, now: number, opts: EvalOptions = {}): Promise<Decision> {
  let call = given;
  if ((policy.sidesOnBook || policy.symbolsOnBook) && call.original === undefined) {
    const original = await orderNamedBy(deps.store, call, now);
    if (original !== undefined) call = { ...call, original };
  }
  const known = call.entry !== undefined;
  const operator = known ? await deps.tradingState(call.botId, call.account) : { state: 'ACTIVE' as const, source: '', reason: '' };
  const planned = planPolicy(policy, call, operator, now, opts);
  if (planned.decision) return planned.decision;
  const market = planned.plan.wanted !== 0 ? await deps.market(planned.plan.wanted, planned.plan.facts) : NO_DATA;
  const judged = decideOnSnapshot(planned.plan, market);
  if (judged.decision) return judged.decision;
  return chargeLimits(judged.plan, deps.store);
}
