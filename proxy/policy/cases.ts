// Table-driven policy tests ("unit tests for rules"): each case is a call,
// the market data and trading state around it, and the expected decision.
// Every case runs against its own fresh in-memory store and a fixed clock.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { GuardError, type Language } from '../common/errors.js';
import { CASE_TEXT } from './case-text.js';
import { lookupApi } from '../kiwoom/catalogue.js';
import { createMemoryStore } from '../state/memory.js';
import type { CompiledPolicy, OrderTerms } from './compiled.js';
import { PolicyLoadError, policyIssue, type PolicyIssue } from './errors.js';
import { evaluatePolicy, type EvalDeps, type TraceEntry } from './evaluate.js';
import { createMarketFetcher } from './market.js';
import { loadValidator, type ValidatorSpec } from '../common/validators.js';
import { DEFAULT_LOAD_LIMITS, parseYaml, POLICY_AJV_OPTIONS, type PositionOf } from './load.js';
import { pathText } from './schema-issues.js';
import { readTradingState, setTradingState } from './trading-state.js';
import { callFacts } from './facts.js';
import { orderNamedBy, recordAccepted } from './orders.js';
import { POLICY_CONFIG_DEFAULTS } from './config.js';
import { settleCounts } from './stateful.js';
import type { Decision, MarketData, PolicyCall, TradingState } from './types.js';
import { Counter, Registry } from 'prom-client';

export interface CaseCall {
  bot?: string;
  account?: string;
  apiId: string;
  body?: Record<string, unknown>;
  /** ISO time; default 2026-03-03T10:00:00+09:00 (a Tuesday, inside KRX hours). */
  at?: string;
  intentional?: boolean;
  riskScore?: number;
}

/** A `before` call; allowed, it is accepted by the broker under `orderNo` (so a later modify or cancel can name it). */
export interface CaseBeforeCall extends CaseCall {
  orderNo?: string;
}

export interface CaseMarket {
  /** One price for every symbol, or per symbol. */
  referencePrice?: number | Record<string, number>;
  heldQuantity?: number | Record<string, number>;
  openOrders?: number;
  /** Simulate MarketData failing. */
  unavailable?: boolean;
}

export interface PolicyCase {
  name: string;
  call: CaseCall;
  market?: CaseMarket;
  tradingState?: { global?: TradingState; bot?: TradingState; account?: TradingState };
  /** Calls sent first (same market and state), e.g. to fill a rate limit. */
  before?: CaseBeforeCall[];
  /** Send `call` this many times; the expectation is checked on the last. */
  repeat?: number;
  /** Record these as successful at the broker (feeds cancel-ratio counters). */
  succeeded?: boolean;
  /** Record these as refused by the broker: what the daily caps charged them is given back, as the sidecar does. */
  refused?: boolean;
  expect: { decision: Decision['outcome']; rule?: string; shadowDenies?: string[]; reasonContains?: string };
}

export const DEFAULT_CASE_TIME = '2026-03-03T10:00:00+09:00';

/** YYYY-MM-DDTHH:MM[:SS[.fff]] with Z or ±HH:MM, or none: Korea time, as every time in a policy. */
const CASE_TIME_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,3})?)?(Z|[+-][0-9]{2}:[0-9]{2})?$';
const KOREA_OFFSET_MINUTES = 9 * 60;

/**
 * A case's `at` as epoch ms, or undefined when it names no real moment. JavaScript's Date read a time without an
 * offset in the machine's zone (a case passed in Seoul and failed on a UTC CI runner) and rolled 2026-02-30 over
 * to 2026-03-02 (a listed holiday in the examples): both are refused or read as written, in Korea time.
 */
export function parseCaseTime(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|([+-])(\d{2}):(\d{2}))?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const local = Date.UTC(y, mo - 1, d, h, mi, s, Number((m[7] ?? '0').padEnd(3, '0')));
  // Date.UTC rolls 02-30 over to 03-02 and 24:00 to the next day: a moment that reads back differently is not one.
  const back = new Date(local);
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    back.getUTCHours() !== h ||
    back.getUTCMinutes() !== mi ||
    s > 59
  )
    return undefined;
  const offsetMinutes = m[8] === undefined ? KOREA_OFFSET_MINUTES : m[8] === 'Z' ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  if (Math.abs(offsetMinutes) > 14 * 60) return undefined;
  return local - offsetMinutes * 60_000;
}

/**
 * Every `at` of the calls in a case-shaped value that has the shape of a time and names no real moment, with its
 * path. Read from a value the schema may have refused elsewhere: anything not of the expected shape is skipped
 * (the schema reports it).
 */
function badTimes(c: unknown, at: (string | number)[]): { path: (string | number)[]; value: string }[] {
  if (c === null || typeof c !== 'object') return [];
  const { call, before } = c as { call?: unknown; before?: unknown };
  const calls: [unknown, (string | number)[]][] = [
    [call, [...at, 'call']],
    ...(Array.isArray(before) ? before : []).map((b, i): [unknown, (string | number)[]] => [b, [...at, 'before', i]]),
  ];
  const shaped = new RegExp(CASE_TIME_PATTERN);
  return calls.flatMap(([x, path]) => {
    const value = x !== null && typeof x === 'object' ? (x as { at?: unknown }).at : undefined;
    return typeof value === 'string' && shaped.test(value) && parseCaseTime(value) === undefined ? [{ path: [...path, 'at'], value }] : [];
  });
}

const callSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['apiId'],
  properties: {
    bot: { type: 'string', minLength: 1 },
    account: { type: 'string', minLength: 1 },
    apiId: { type: 'string', minLength: 1 },
    body: { type: 'object' },
    at: { type: 'string', pattern: CASE_TIME_PATTERN },
    intentional: { type: 'boolean' },
    riskScore: { type: 'number', minimum: 0, maximum: 1 },
  },
};
const beforeSchema = {
  ...callSchema,
  properties: { ...callSchema.properties, orderNo: { type: 'string', pattern: '^[0-9]{1,10}$' } },
};
const numberOrMap = {
  anyOf: [
    { type: 'number', minimum: 0 },
    { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
  ],
};
const stateEnum = { enum: ['ACTIVE', 'REDUCING', 'HALTED'] };
const caseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'call', 'expect'],
  properties: {
    name: { type: 'string', minLength: 1 },
    call: callSchema,
    market: {
      type: 'object',
      additionalProperties: false,
      properties: { referencePrice: numberOrMap, heldQuantity: numberOrMap, openOrders: { type: 'integer', minimum: 0 }, unavailable: { type: 'boolean' } },
    },
    tradingState: { type: 'object', additionalProperties: false, properties: { global: stateEnum, bot: stateEnum, account: stateEnum } },
    before: { type: 'array', items: beforeSchema, maxItems: 10_000 },
    repeat: { type: 'integer', minimum: 1, maximum: 10_000 },
    succeeded: { type: 'boolean' },
    refused: { type: 'boolean' },
    expect: {
      type: 'object',
      additionalProperties: false,
      required: ['decision'],
      properties: {
        decision: { enum: ['allow', 'deny', 'step-up', 'hold'] },
        rule: { type: 'string' },
        shadowDenies: { type: 'array', items: { type: 'string' } },
        reasonContains: { type: 'string' },
      },
    },
  },
};
export const CASES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['cases'],
  properties: { policy: { type: 'string' }, description: { type: 'string' }, cases: { type: 'array', minItems: 1, items: caseSchema } },
};
/** `kguard policy explain --call`: a case without `expect`/`name`, or just a call. */
const EXPLAIN_SCHEMA = {
  anyOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['call'],
      properties: {
        name: { type: 'string' },
        call: callSchema,
        market: caseSchema.properties.market,
        tradingState: caseSchema.properties.tradingState,
        before: caseSchema.properties.before,
        expect: caseSchema.properties.expect,
      },
    },
    callSchema,
  ],
};

export const CASES_VALIDATOR: ValidatorSpec = { name: 'policy-cases', schema: CASES_SCHEMA, options: POLICY_AJV_OPTIONS };
export const EXPLAIN_VALIDATOR: ValidatorSpec = { name: 'policy-explain', schema: EXPLAIN_SCHEMA, options: POLICY_AJV_OPTIONS };
let casesValidator: ValidateFunction | undefined;
let explainValidator: ValidateFunction | undefined;

/** A test file's cases, and the policy file its `policy:` names (resolved next to the test file), if any. */
export async function loadCaseFile(file: string): Promise<{ cases: PolicyCase[]; policy?: { written: string; resolved: string } }> {
  casesValidator ??= loadValidator(CASES_VALIDATOR).validate;
  const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new PolicyLoadError(file, [policyIssue({ file, line: 1, column: 1, path: '' }, 'unreadable', { reason: err.code ?? 'error' })]);
  });
  const { value, position, schema } = parseYaml(bytes, file, { ...DEFAULT_LOAD_LIMITS, maxFileBytes: 16 * 1024 * 1024 }, casesValidator);
  const { cases, policy } = (value ?? {}) as { cases?: unknown; policy?: string };
  refuseProblems(file, position, schema, Array.isArray(cases) ? cases.flatMap((c, i) => badTimes(c, ['cases', i])) : []);
  return { cases: cases as PolicyCase[], ...(policy !== undefined ? { policy: { written: policy, resolved: path.resolve(path.dirname(file), policy) } } : {}) };
}

export async function loadCases(file: string): Promise<PolicyCase[]> {
  return (await loadCaseFile(file)).cases;
}

/** Reads a call for explain (JSON or YAML): either a bare call or a case-shaped object. */
export async function loadExplainCall(file: string): Promise<Omit<PolicyCase, 'expect' | 'name'>> {
  explainValidator ??= loadValidator(EXPLAIN_VALIDATOR).validate;
  const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new PolicyLoadError(file, [policyIssue({ file, line: 1, column: 1, path: '' }, 'unreadable', { reason: err.code ?? 'error' })]);
  });
  const { value, position, schema } = parseYaml(bytes, file, DEFAULT_LOAD_LIMITS, explainValidator);
  const v = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const bare = !('call' in v);
  refuseProblems(file, position, schema, bare ? badTimes({ call: v }, []).map((b) => ({ ...b, path: ['at'] })) : badTimes(v, []));
  return bare ? { call: v as unknown as CaseCall } : (v as unknown as PolicyCase);
}

/** The schema's problems and the times that name no real moment, in one PolicyLoadError; nothing when none. */
function refuseProblems(file: string, position: PositionOf, schema: readonly PolicyIssue[], bad: { path: (string | number)[]; value: string }[]): void {
  if (schema.length === 0 && bad.length === 0) return;
  const times = bad.map((b) => policyIssue({ file, ...position(b.path), path: pathText(b.path) }, 'not-a-time', { value: JSON.stringify(b.value) }));
  throw new PolicyLoadError(file, [...schema, ...times]);
}

function pick(v: number | Record<string, number> | undefined, symbol: string): number | undefined {
  return typeof v === 'number' ? v : v?.[symbol];
}

function toPolicyCall(c: CaseCall): PolicyCall {
  const ms = parseCaseTime(c.at ?? DEFAULT_CASE_TIME);
  if (ms === undefined) throw new GuardError('KG3017', `call.at ${JSON.stringify(c.at)} is not a date-time`);
  const at = new Date(ms);
  return {
    botId: c.bot ?? 'bot',
    account: c.account ?? '00000000',
    apiId: c.apiId,
    entry: lookupApi(c.apiId),
    body: c.body ?? {},
    now: at,
    ...(c.intentional !== undefined ? { intentional: c.intentional } : {}),
    ...(c.riskScore !== undefined ? { riskScore: c.riskScore } : {}),
  };
}

export interface CaseResult {
  name: string;
  passed: boolean;
  decision: Decision;
  problems: string[];
  trace?: TraceEntry[];
  /** A modify's or cancel's side, as the policy judged it: the side of the order it names, or unknown. */
  side?: 'buy' | 'sell' | 'unknown';
  /** Where that side came from, for people. */
  sideWhy?: string;
}

function sideOf(call: PolicyCall, original: OrderTerms | null, lang: Language): Pick<CaseResult, 'side' | 'sideWhy'> {
  const say = CASE_TEXT[lang];
  const no = callFacts(call, 0).origOrderNo;
  if (original?.side !== undefined) return { side: original.side, sideWhy: say.sideOfOrder(no) };
  const why = no === undefined ? say.noOrderNamed : original === null ? say.notPlaced(no) : say.unknownSide(no);
  return { side: 'unknown', sideWhy: say.bothSides(why) };
}

/** Runs one case (or an explain request when `trace` is given); `lang` is the language of its problems, not of the reasons. */
export async function runCase(
  policy: CompiledPolicy,
  c: Omit<PolicyCase, 'expect' | 'name'> & Partial<Pick<PolicyCase, 'expect' | 'name'>>,
  trace?: TraceEntry[],
  lang: Language = 'en',
): Promise<CaseResult> {
  const say = CASE_TEXT[lang];
  let clock = parseCaseTime(c.call.at ?? DEFAULT_CASE_TIME) ?? Number.NaN;
  const store = createMemoryStore({ now: () => clock });
  try {
    const m = c.market ?? {};
    const fail = async (): Promise<never> => {
      throw new Error('market data unavailable (case)');
    };
    const market: MarketData = m.unavailable
      ? { referencePrice: fail, heldQuantity: fail, openOrderCount: fail }
      : {
          referencePrice: async (_b, s) => pick(m.referencePrice, s),
          heldQuantity: async (_b, _a, s) => pick(m.heldQuantity, s),
          openOrderCount: async () => m.openOrders,
        };
    const fetcher = createMarketFetcher({
      market,
      ttlMs: 0,
      cacheSize: 1,
      timeoutMs: 1000,
      now: () => clock,
      errors: new Counter({ name: 'case_market_errors', help: 'x', labelNames: ['source'], registers: [new Registry()] }),
      onError: () => undefined,
    });
    const deps: EvalDeps = { store, market: (n, f) => fetcher.fetch(n, f), tradingState: (b, a) => readTradingState(store, b, a) };
    const main = toPolicyCall(c.call);
    const ts = c.tradingState ?? {};
    const at = new Date(clock);
    if (ts.global) await setTradingState(store, { global: true }, ts.global, 'case', at);
    if (ts.bot) await setTradingState(store, { botId: main.botId }, ts.bot, 'case', at);
    if (ts.account) await setTradingState(store, { account: main.account }, ts.account, 'case', at);

    // What the broker made of the calls before the last: accepted, refused, or (neither said) not known.
    const pc = c as Partial<PolicyCase>;
    if (pc.succeeded === true && pc.refused === true) throw new GuardError('KG3017', say.bothOutcomes);
    if (pc.refused === true && c.before?.some((b) => b.orderNo !== undefined)) throw new GuardError('KG3017', say.refusedOrderNo);
    const outcome = { ok: pc.succeeded === true, ...(pc.refused === true ? { notPlaced: true } : {}) };
    for (const b of c.before ?? []) {
      const call = toPolicyCall(b);
      clock = call.now!.getTime();
      const d = await evaluatePolicy(policy, call, deps, clock);
      await settleCounts(store, policy.counterScopes, callFacts(call, clock), d, outcome);
      // As the sidecar records an order, modify or cancel the broker accepted (order-book.ts).
      if (b.orderNo !== undefined && d.outcome !== 'deny') {
        const accepted = { f: callFacts(call, clock), orderNo: b.orderNo, referencePrice: d.market?.referencePrice ?? undefined };
        await recordAccepted(store, accepted, POLICY_CONFIG_DEFAULTS.maxOrderRecords);
      }
    }
    clock = main.now!.getTime();
    const original = await orderNamedBy(store, main, clock);
    if (original !== undefined) main.original = original;
    const repeat = (c as PolicyCase).repeat ?? 1;
    let decision!: Decision;
    for (let i = 0; i < repeat; i++) {
      const last = i === repeat - 1;
      decision = await evaluatePolicy(policy, main, deps, clock, last && trace ? { trace } : {});
      if (!last) await settleCounts(store, policy.counterScopes, callFacts(main, clock), decision, outcome);
    }
    const problems: string[] = [];
    const e = c.expect;
    if (e) {
      if (decision.outcome !== e.decision) problems.push(say.outcome(e.decision, decision.outcome, decision.ruleId, decision.reason));
      if (e.rule !== undefined && decision.ruleId !== e.rule) problems.push(say.rule(e.rule, decision.ruleId));
      if (e.shadowDenies !== undefined && [...decision.shadowDenies].sort().join(',') !== [...e.shadowDenies].sort().join(',')) {
        problems.push(say.shadow(e.shadowDenies.join(', '), decision.shadowDenies.join(', ')));
      }
      if (e.reasonContains !== undefined && !(decision.reason ?? '').includes(e.reasonContains))
        problems.push(say.reason(JSON.stringify(decision.reason ?? ''), JSON.stringify(e.reasonContains)));
    }
    return {
      name: c.name ?? '(call)',
      passed: problems.length === 0,
      decision,
      problems,
      ...(trace ? { trace } : {}),
      ...(original !== undefined ? sideOf(main, original, lang) : {}),
    };
  } finally {
    await store.close();
  }
}
