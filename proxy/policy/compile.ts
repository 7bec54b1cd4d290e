// Compile a validated policy document once into plain closures, indexed by
// bot and api kind so a call only walks the rules that can apply to it.
import type { ApiKind } from '../kiwoom/types.js';
import type { Language } from '../common/errors.js';
import { ALL_KINDS, type CompiledPolicy, type CompiledRule, type RuleList } from './compiled.js';
import type { PolicyDoc, RuleDoc, Scope } from './document.js';
import type { LoadedPolicy } from './load.js';
import { compileApis, compileMarkets, compileSymbols, compileTradeTypes } from './rules/access.js';
import { base, type CompileContext } from './rules/common.js';
import { compileCancelRatio, compileDailyCap, compileDuplicateGuard, compileMaxOpenOrders, compileRateLimit } from './rules/counters.js';
import { compileOrderSize, compilePriceCollar, compileRequireApproval } from './rules/order.js';
import { compileTradingStateRule, compileTradingWindow } from './rules/window.js';

export const DEFAULT_STEP_UP = 0.7;
export const DEFAULT_APPROVAL = 0.9;

/**
 * Every compiled rule gets the same fields in the same order, so the hot loop
 * sees one object shape (monomorphic property access) instead of sixteen.
 */
function uniform(r: CompiledRule): CompiledRule {
  return {
    id: r.id,
    type: r.type,
    kind: r.kind,
    mode: r.mode,
    index: r.index,
    kinds: r.kinds,
    bots: r.bots,
    accounts: r.accounts,
    select: r.select,
    sided: r.sided,
    overrides: r.overrides,
    needs: r.needs,
    check: r.check,
    limits: r.limits,
    limitReason: r.limitReason,
    needsOriginalOrder: r.needsOriginalOrder,
    refundable: r.refundable,
    counterKeys: r.counterKeys,
    checkCounters: r.checkCounters,
    counterCharge: r.counterCharge,
    duplicateKey: r.duplicateKey,
    duplicateTtlMs: r.duplicateTtlMs,
    duplicateReason: r.duplicateReason,
    posture: r.posture,
    grantsTransfer: r.grantsTransfer,
    realtimeCaps: r.realtimeCaps,
    denySymbols: r.denySymbols,
    scope: (r as { scope?: Scope }).scope,
    botKeys: r.botKeys,
    overriddenBy: undefined,
  } as CompiledRule;
}

export function compileRule(doc: RuleDoc, index: number, ctx: CompileContext): CompiledRule {
  return uniform(compileRuleShape(doc, index, ctx));
}

function compileRuleShape(doc: RuleDoc, index: number, ctx: CompileContext): CompiledRule {
  switch (doc.type) {
    case 'allow-apis':
    case 'deny-apis':
      return compileApis(doc, index, ctx);
    case 'allow-symbols':
    case 'deny-symbols':
      return compileSymbols(doc, index, ctx);
    case 'markets':
      return compileMarkets(doc, index, ctx);
    case 'trade-types':
      return compileTradeTypes(doc, index, ctx);
    case 'order-size':
      return compileOrderSize(doc, index, ctx);
    case 'price-collar':
      return compilePriceCollar(doc, index, ctx);
    case 'require-approval':
      return compileRequireApproval(doc, index, ctx);
    case 'trading-window':
      return compileTradingWindow(doc, index, ctx);
    case 'trading-state':
      return compileTradingStateRule(doc, index, ctx);
    case 'rate-limit':
      return compileRateLimit(doc, index, ctx);
    case 'daily-cap':
      return compileDailyCap(doc, index, ctx);
    case 'cancel-ratio':
      return compileCancelRatio(doc, index, ctx);
    case 'realtime-limits':
      return {
        ...base(doc, index, 'realtime-limits', ['realtime'], true),
        needs: 0,
        realtimeCaps: {
          ...(doc.maxRegistrations !== undefined ? { maxRegistrations: doc.maxRegistrations } : {}),
          ...(doc.maxLiveSearches !== undefined ? { maxLiveSearches: doc.maxLiveSearches } : {}),
        },
        check: () => undefined,
      };
    case 'max-open-orders':
      return compileMaxOpenOrders(doc, index, ctx);
    case 'duplicate-guard':
      return compileDuplicateGuard(doc, index, ctx);
  }
}

function buildList(rules: readonly CompiledRule[]): RuleList {
  const list: RuleList = { plain: [], linear: [], bySymbol: new Map(), byAccount: new Map(), data: [], stateful: [], postures: [], allowApis: [] };
  const present = new Set(rules);
  for (const r of rules) {
    if (r.posture !== undefined) list.postures.push(r);
    else if (r.limits || r.counterKeys || r.duplicateKey) list.stateful.push(r);
    else if (r.needs !== 0) list.data.push(r);
    else list.plain.push(r);
    if (r.type === 'allow-apis') list.allowApis.push(r);
  }
  const push = (map: Map<string, CompiledRule[]>, key: string, r: CompiledRule) => {
    const at = map.get(key);
    if (at) at.push(r);
    else map.set(key, [r]);
  };
  for (const r of list.plain) {
    // Account-scoped rules are found by account; deny-symbols by symbol; the rest are walked.
    if (r.accounts !== undefined) for (const a of r.accounts) push(list.byAccount, a, r);
    else if (r.denySymbols !== undefined) for (const sym of r.denySymbols) push(list.bySymbol, sym, r);
    else list.linear.push(r);
  }
  // Overrides only matter between rules that are both in this list.
  for (const r of rules) {
    const by = (r.overriddenBy ?? []).filter((o) => present.has(o));
    if (by.length !== (r.overriddenBy?.length ?? 0)) {
      // A per-list copy keeps the shared rule object untouched.
      const copy = uniform(r);
      copy.overriddenBy = by.length > 0 ? by : undefined;
      for (const arr of [
        list.plain,
        list.data,
        list.stateful,
        list.postures,
        list.allowApis,
        ...list.bySymbol.values(),
        ...list.byAccount.values(),
        list.linear,
      ]) {
        const i = arr.indexOf(r);
        if (i >= 0) arr[i] = copy;
      }
    }
  }
  // Each account's rules walked with the rest in file order, merged here once rather than on every call.
  for (const [account, rules] of list.byAccount)
    list.byAccount.set(
      account,
      [...list.linear, ...rules].sort((a, b) => a.index - b.index),
    );
  return list;
}

function listsFor(rules: readonly CompiledRule[], bot: string | undefined): Map<ApiKind, RuleList> {
  const out = new Map<ApiKind, RuleList>();
  for (const kind of ALL_KINDS) {
    out.set(kind, buildList(rules.filter((r) => r.kinds.has(kind) && (r.bots === undefined || (bot !== undefined && r.bots.has(bot))))));
  }
  return out;
}

export function compilePolicy(loaded: LoadedPolicy, defaultLanguage: Language): CompiledPolicy {
  const doc: PolicyDoc = loaded.doc;
  const language = doc.language ?? defaultLanguage;
  const holidays = new Set(doc.calendar?.holidays ?? []);
  const ctx: CompileContext = { lang: language, holidays };
  const rules = doc.rules.map((r, i) => compileRule(r, i, ctx));
  const byId = new Map(rules.map((r) => [r.id, r]));
  for (const r of rules) {
    // A shadow rule never changes an outcome: a shadow override is tried beside its default, which stays in force.
    if (r.overrides === undefined || r.mode === 'shadow') continue;
    const target = byId.get(r.overrides);
    if (target) {
      target.overriddenBy ??= [];
      target.overriddenBy.push(r);
    }
  }
  const counterScopes = new Set<Scope>();
  for (const r of rules) if (r.counterKeys && r.scope) counterScopes.add(r.scope);

  const namedBots = new Set<string>();
  for (const r of rules) for (const b of r.bots ?? []) namedBots.add(b);
  const byBot = new Map<string, Map<ApiKind, RuleList>>();
  for (const bot of namedBots) byBot.set(bot, listsFor(rules, bot));
  // A modify or cancel takes its side from the order it names: the sidecar must know its orders' sides.
  const sidesOnBook = rules.some((r) => r.sided && (r.kinds.has('modify') || r.kinds.has('cancel')));
  // A modify judged by its stock must be judged by the stock of the order it acts on, not by the stk_cd it names.
  const symbolsOnBook = rules.some((r) => (r.kind === 'symbols' || r.kind === 'price-collar') && r.kinds.has('modify'));

  return {
    version: loaded.version,
    file: loaded.file,
    name: doc.name ?? '',
    language,
    rules,
    stepUp: doc.riskThresholds?.stepUp ?? DEFAULT_STEP_UP,
    approval: doc.riskThresholds?.approval ?? DEFAULT_APPROVAL,
    holidays,
    counterScopes,
    recordsOrders: sidesOnBook || symbolsOnBook || rules.some((r) => r.needsOriginalOrder === true),
    sidesOnBook,
    symbolsOnBook,
    byBot,
    byKind: listsFor(rules, undefined),
  };
}
