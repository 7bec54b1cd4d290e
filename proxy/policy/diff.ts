// `kguard policy diff`: what a change loosens or tightens, rule by rule, so a
// reviewer sees at a glance whether a policy edit opens anything up, and a CI
// gate (--fail-on-loosen) stops one that does. What each rule lets through is
// compared, not how it is spelt: trade types by code whether named or
// numbered, an allow list against a deny list by the types each lets through,
// trading windows by the hours of the week they open. Any change that can let
// a call through that was refused before is a loosening.
import type { Language } from '../common/errors.js';
import type { PolicyDoc, RuleDoc, Selector } from './document.js';
import { DEFAULT_APPROVAL, DEFAULT_STEP_UP } from './compile.js';
import { type DiffFact, diffText, type SelectorChange } from './diff-text.js';
import { TRADE_TYPE_NAMES } from './schema.js';
import { weekHours } from './week-hours.js';

export type Effect = 'loosens' | 'tightens' | 'changes';
export interface DiffEntry {
  effect: Effect;
  ruleId?: string;
  message: string;
}
interface Found {
  effect: Effect;
  ruleId?: string;
  fact: DiffFact;
}

type AnyRule = RuleDoc & Record<string, unknown>;

/** Limits: a bigger value lets more through; none at all is no limit. */
const MAXIMA = new Set([
  'maxQuantity',
  'maxNotional',
  'maxDeviationPercent',
  'max',
  'maxOrders',
  'maxBuyNotional',
  'maxSellNotional',
  'maxGrossNotional',
  'maxCancelsPerOrder',
  'maxRegistrations',
  'maxLiveSearches',
]);
/** Thresholds below which a rule does not judge: a bigger value exempts more calls; none is the default given. */
const MINIMA: Readonly<Record<string, number>> = { minQuantity: 0, minNotional: 0, minOrders: 10 };
/** Numbers where a bigger value lets less through. */
const TIGHTER_WHEN_BIGGER = new Set(['windowSeconds']);
/** Lists where more entries let more through. */
const ALLOW_LISTS: Record<string, string[]> = { 'allow-apis': ['kinds', 'apiIds'], 'allow-symbols': ['symbols'], markets: ['allow'] };
const DENY_LISTS: Record<string, string[]> = { 'deny-apis': ['kinds', 'apiIds'], 'deny-symbols': ['symbols'] };

function setDiff(a: readonly string[] = [], b: readonly string[] = []): { added: string[]; removed: string[] } {
  const A = new Set(a);
  const B = new Set(b);
  return { added: b.filter((x) => !A.has(x)), removed: a.filter((x) => !B.has(x)) };
}

/** Every trade-type code a trade-types rule lets through (gold's plain limit "00" goes with "0", as the rule judges it). */
const ALL_TRADE_TYPES = [...Object.values(TRADE_TYPE_NAMES), '00'];
function tradeTypesAllowed(r: AnyRule): string[] {
  const codes = (list: unknown) =>
    new Set((list as string[] | undefined)?.flatMap((t) => ((TRADE_TYPE_NAMES[t] ?? t) === '0' ? ['0', '00'] : [TRADE_TYPE_NAMES[t] ?? t])));
  const allow = r.allow === undefined ? undefined : codes(r.allow);
  const deny = codes(r.deny);
  return ALL_TRADE_TYPES.filter((c) => (allow ? allow.has(c) : !deny.has(c)));
}

function selectorEffect(oldSel: Selector = {}, newSel: Selector = {}): { effect: Effect; parts: SelectorChange[] } | undefined {
  const parts: SelectorChange[] = [];
  let wider = false;
  let narrower = false;
  for (const dim of ['bots', 'accounts', 'kinds', 'apiIds', 'sides'] as const) {
    const o = oldSel[dim] as string[] | undefined;
    const n = newSel[dim] as string[] | undefined;
    if (o === undefined && n === undefined) continue;
    if (o === undefined) {
      narrower = true;
      parts.push({ dim, change: 'only', names: n! });
      continue;
    }
    if (n === undefined) {
      wider = true;
      parts.push({ dim, change: 'all', names: o });
      continue;
    }
    const { added, removed } = setDiff(o, n);
    if (added.length) {
      wider = true;
      parts.push({ dim, change: 'added', names: added });
    }
    if (removed.length) {
      narrower = true;
      parts.push({ dim, change: 'removed', names: removed });
    }
  }
  if (parts.length === 0) return undefined;
  // A restriction that applies to more calls tightens; to fewer, loosens.
  return { effect: wider && !narrower ? 'tightens' : narrower && !wider ? 'loosens' : 'changes', parts };
}

/** Any loosening loosens; otherwise any tightening tightens. */
function overall(entries: readonly { effect: Effect }[]): Effect {
  if (entries.some((e) => e.effect === 'loosens')) return 'loosens';
  return entries.some((e) => e.effect === 'tightens') ? 'tightens' : 'changes';
}

/** An enforced override replaces `replaced` for the calls it selects: its effect there is the change from that rule to it. */
function overrideEffect(replaced: AnyRule, r: AnyRule): Effect {
  return overall(ruleChanges({ ...replaced, when: r.when, overrides: r.overrides }, r));
}

const isEnforced = (r: AnyRule) => (r.mode ?? 'enforce') === 'enforce';

function numberEffect(key: string, a: number | undefined, b: number | undefined): Effect {
  if (key in MINIMA) return (b ?? MINIMA[key]!) > (a ?? MINIMA[key]!) ? 'loosens' : 'tightens';
  if (MAXIMA.has(key)) return a === undefined ? 'tightens' : b === undefined || b > a ? 'loosens' : 'tightens';
  if (TIGHTER_WHEN_BIGGER.has(key) && a !== undefined && b !== undefined) return b > a ? 'tightens' : 'loosens';
  return 'changes';
}

/**
 * How many calls share one counter: a cap counted over fewer calls (a finer scope: global → bot) lets more through,
 * over more calls less. Bot and account are not nested (a bot may trade several accounts, an account serve several
 * bots), and a cancel ratio over another pool can go either way.
 */
const SCOPE_BREADTH: Readonly<Record<string, number>> = { global: 3, account: 2, bot: 2, 'bot-account': 1 };
function scopeEffect(type: string, from: string, to: string): Effect {
  const [a, b] = [SCOPE_BREADTH[from] ?? 0, SCOPE_BREADTH[to] ?? 0];
  if (!a || !b) return 'changes';
  // Pools that are not nested (account and bot), or a ratio over another pool: either way, so it can let through a
  // call the old policy refused (one account's second bot gets a budget of its own), which is what the gate counts.
  if (type === 'cancel-ratio' || a === b) return 'loosens';
  return b < a ? 'loosens' : 'tightens';
}

/**
 * A require-approval rule holds a call at least minQuantity shares OR at least minNotional KRW, and every call when
 * it names neither: one threshold removed beside the other holds fewer calls; the last one removed holds them all.
 */
function approvalThresholdEffect(key: 'minQuantity' | 'minNotional', o: AnyRule, n: AnyRule): Effect {
  const other = key === 'minQuantity' ? 'minNotional' : 'minQuantity';
  const [a, b] = [o[key] as number | undefined, n[key] as number | undefined];
  if (a !== undefined && b !== undefined) return b > a ? 'loosens' : 'tightens';
  if (a === undefined) return o[other] === undefined ? 'loosens' : 'tightens';
  return n[other] !== undefined ? 'loosens' : 'tightens';
}

/** Lifting a rule into enforcement (or out of it): an override replaces its default for the calls it selects. */
function modeEffect(n: AnyRule, newRules?: ReadonlyMap<string, AnyRule>): Effect {
  const toShadow = (n.mode ?? 'enforce') === 'shadow';
  const replaced = n.overrides !== undefined ? newRules?.get(n.overrides) : undefined;
  if (!replaced) return toShadow ? 'loosens' : 'tightens';
  // Enforced, it replaces its default there (its own effect); back in shadow, the default judges those calls again.
  const e = overrideEffect(replaced, n);
  if (e === 'changes' || !toShadow) return e;
  return e === 'loosens' ? 'tightens' : 'loosens';
}

/** `replaced`: for an enforced override, the rule it replaces in the new policy. */
function ruleChanges(o: AnyRule, n: AnyRule, replaced?: AnyRule, newRules?: ReadonlyMap<string, AnyRule>): Found[] {
  const ruleId = n.id;
  const out: Found[] = [];
  const add = (effect: Effect, fact: DiffFact) => out.push({ effect, ruleId, fact });
  // Another type is another rule: the old one's restriction is gone, the new one's added.
  if (o.type !== n.type) {
    add(isEnforced(o) ? 'loosens' : 'changes', { k: 'typeChanged', from: o.type, to: n.type });
    return out;
  }
  const om = o.mode ?? 'enforce';
  const nm = n.mode ?? 'enforce';
  if (om !== nm) add(modeEffect(n, newRules), { k: 'mode', from: om, to: nm });
  const sel = selectorEffect(o.when, n.when);
  if (sel) {
    // An override selecting more calls replaces its default for more calls: that is the override's own effect, not a wider restriction.
    let effect = sel.effect;
    if (replaced !== undefined && effect !== 'changes') {
      const e = overrideEffect(replaced, n);
      effect = e === 'changes' ? 'changes' : (effect === 'tightens') === (e === 'tightens') ? 'tightens' : 'loosens';
    }
    add(effect, { k: 'appliesTo', parts: sel.parts });
  }
  if (o.overrides !== n.overrides) {
    // Naming a rule to replace lifts it for the calls this one selects; naming none leaves both in force.
    const replacedNow = n.overrides !== undefined && isEnforced(n) ? newRules?.get(n.overrides) : undefined;
    const effect = n.overrides === undefined ? 'tightens' : replacedNow ? overrideEffect(replacedNow, n) : 'changes';
    add(effect, { k: 'overrides', from: o.overrides, to: n.overrides });
  }
  for (const key of new Set([...Object.keys(o), ...Object.keys(n)])) {
    const a = o[key] as number | undefined;
    const b = n[key] as number | undefined;
    if ((typeof a === 'number' || typeof b === 'number') && a !== b) {
      const effect =
        n.type === 'require-approval' && (key === 'minQuantity' || key === 'minNotional') ? approvalThresholdEffect(key, o, n) : numberEffect(key, a, b);
      add(effect, { k: 'number', key, from: a ?? (MINIMA[key] || undefined), to: b ?? (MINIMA[key] || undefined) });
    }
  }
  for (const key of ALLOW_LISTS[n.type] ?? []) {
    const { added, removed } = setDiff(o[key] as string[] | undefined, n[key] as string[] | undefined);
    if (added.length) add('loosens', { k: 'allowsMore', key, items: added });
    if (removed.length) add('tightens', { k: 'allowsLess', key, items: removed });
  }
  for (const key of DENY_LISTS[n.type] ?? []) {
    const { added, removed } = setDiff(o[key] as string[] | undefined, n[key] as string[] | undefined);
    if (added.length) add('tightens', { k: 'deniesMore', key, items: added });
    if (removed.length) add('loosens', { k: 'deniesLess', key, items: removed });
  }
  if (n.type === 'trade-types') {
    const { added, removed } = setDiff(tradeTypesAllowed(o), tradeTypesAllowed(n));
    if (added.length) add('loosens', { k: 'tradeTypesMore', items: added });
    if (removed.length) add('tightens', { k: 'tradeTypesLess', items: removed });
  }
  if (n.type === 'trading-window' && JSON.stringify(o.windows) !== JSON.stringify(n.windows)) {
    const { opened, closed } = weekHours(o.windows as WindowDoc[], n.windows as WindowDoc[]);
    if (opened.length) add('loosens', { k: 'windowsOpen', spans: opened });
    if (closed.length) add('tightens', { k: 'windowsClose', spans: closed });
    if (!opened.length && !closed.length) add('changes', { k: 'windowsSame' });
  }
  if (n.type === 'trading-window' && (o.closedOnHolidays ?? true) !== (n.closedOnHolidays ?? true))
    add(n.closedOnHolidays === false ? 'loosens' : 'tightens', { k: 'closedOnHolidays', to: n.closedOnHolidays ?? true });
  if (n.type === 'rate-limit') {
    const per = (r: AnyRule) => new Map(((r.limits as { max: number; per: string }[]) ?? []).map((l) => [l.per, l.max]));
    const a = per(o);
    const b = per(n);
    for (const [p, max] of b) {
      const was = a.get(p);
      if (was === undefined) add('tightens', { k: 'limitNew', max, per: p });
      else if (was !== max) add(max > was ? 'loosens' : 'tightens', { k: 'limit', from: was, to: max, per: p });
    }
    for (const [p, was] of a) if (!b.has(p)) add('loosens', { k: 'limitRemoved', max: was, per: p });
  }
  if (n.type === 'trading-state' && o.state !== n.state)
    add(n.state === 'HALTED' ? 'tightens' : 'loosens', { k: 'word', key: 'state', from: String(o.state), to: String(n.state) });
  if (n.type === 'require-approval' && (o.outcome ?? 'step-up') !== (n.outcome ?? 'step-up'))
    add(n.outcome === 'hold' ? 'tightens' : 'loosens', { k: 'word', key: 'outcome', from: String(o.outcome ?? 'step-up'), to: String(n.outcome ?? 'step-up') });
  if (n.type === 'cancel-ratio' && (o.countModifies ?? true) !== (n.countModifies ?? true))
    add(n.countModifies === false ? 'loosens' : 'tightens', {
      k: 'word',
      key: 'countModifies',
      from: String(o.countModifies ?? true),
      to: String(n.countModifies ?? true),
    });
  const [os, ns] = [String(o.scope ?? 'bot'), String(n.scope ?? 'bot')];
  if (os !== ns) add(scopeEffect(n.type, os, ns), { k: 'word', key: 'scope', from: os, to: ns });
  return out;
}

type WindowDoc = { days?: string[]; start: string; end: string; markets?: string[] };

function findChanges(oldDoc: PolicyDoc, newDoc: PolicyDoc): Found[] {
  const out: Found[] = [];
  const oldRules = new Map(oldDoc.rules.map((r) => [r.id, r as AnyRule]));
  const newRules = new Map(newDoc.rules.map((r) => [r.id, r as AnyRule]));
  for (const [id, r] of oldRules) {
    if (!newRules.has(id)) out.push({ effect: isEnforced(r) ? 'loosens' : 'changes', ruleId: id, fact: { k: 'ruleRemoved', type: r.type } });
  }
  for (const [id, r] of newRules) {
    const o = oldRules.get(id);
    // An enforced override is not one more restriction: it replaces its default for the calls it selects.
    const replaced = r.overrides !== undefined && isEnforced(r) ? newRules.get(r.overrides) : undefined;
    if (!o)
      out.push({
        effect: !isEnforced(r) ? 'changes' : replaced !== undefined ? overrideEffect(replaced, r) : 'tightens',
        ruleId: id,
        fact: { k: 'ruleAdded', type: r.type, shadow: !isEnforced(r) },
      });
    else out.push(...ruleChanges(o, r, replaced, newRules));
  }
  const ot = oldDoc.riskThresholds ?? {};
  const nt = newDoc.riskThresholds ?? {};
  for (const [key, def] of [
    ['stepUp', DEFAULT_STEP_UP],
    ['approval', DEFAULT_APPROVAL],
  ] as const) {
    const a = ot[key] ?? def;
    const b = nt[key] ?? def;
    if (a !== b) out.push({ effect: b > a ? 'loosens' : 'tightens', fact: { k: 'threshold', key, from: a, to: b } });
  }
  const hol = setDiff(oldDoc.calendar?.holidays, newDoc.calendar?.holidays);
  if (hol.added.length) out.push({ effect: 'tightens', fact: { k: 'holidaysAdded', dates: hol.added } });
  if (hol.removed.length) out.push({ effect: 'loosens', fact: { k: 'holidaysRemoved', dates: hol.removed } });
  if ((oldDoc.language ?? '') !== (newDoc.language ?? '')) out.push({ effect: 'changes', fact: { k: 'language', from: oldDoc.language, to: newDoc.language } });
  return out;
}

/** The changes from `oldDoc` to `newDoc`, each worded in `lang` (English unless asked: --json output is not translated). */
export function diffPolicies(oldDoc: PolicyDoc, newDoc: PolicyDoc, lang: Language = 'en'): DiffEntry[] {
  return findChanges(oldDoc, newDoc).map(({ effect, ruleId, fact }) => ({
    effect,
    ...(ruleId !== undefined ? { ruleId } : {}),
    message: diffText(fact, lang),
  }));
}
