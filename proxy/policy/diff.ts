// `kguard policy diff`: what a change loosens or tightens, rule by rule, so a
// reviewer sees at a glance whether a policy edit opens anything up.
import type { PolicyDoc, RuleDoc, Selector } from './document.js';
import { parseClock } from './clock.js';
import { DEFAULT_APPROVAL, DEFAULT_STEP_UP } from './compile.js';

export type Effect = 'loosens' | 'tightens' | 'changes';
export interface DiffEntry {
  effect: Effect;
  ruleId?: string;
  message: string;
}

type AnyRule = RuleDoc & Record<string, unknown>;

/** Numbers where a bigger value lets more through. */
const LOOSER_WHEN_BIGGER = new Set([
  'maxQuantity',
  'maxNotional',
  'maxDeviationPercent',
  'max',
  'maxOrders',
  'maxBuyNotional',
  'maxSellNotional',
  'maxGrossNotional',
  'maxCancelsPerOrder',
  'minOrders',
  'maxRegistrations',
  'maxLiveSearches',
  'minQuantity',
  'minNotional',
]);
/** Numbers where a bigger value lets less through. */
const TIGHTER_WHEN_BIGGER = new Set(['windowSeconds']);
/** Lists where more entries let more through. */
const ALLOW_LISTS: Record<string, string[]> = {
  'allow-apis': ['kinds', 'apiIds'],
  'allow-symbols': ['symbols'],
  markets: ['allow'],
  'trade-types': ['allow'],
};
const DENY_LISTS: Record<string, string[]> = { 'deny-apis': ['kinds', 'apiIds'], 'deny-symbols': ['symbols'], 'trade-types': ['deny'] };

function setDiff(a: readonly string[] = [], b: readonly string[] = []): { added: string[]; removed: string[] } {
  const A = new Set(a);
  const B = new Set(b);
  return { added: b.filter((x) => !A.has(x)), removed: a.filter((x) => !B.has(x)) };
}

function windowMinutes(r: AnyRule): number {
  const ws = (r.windows as { days?: string[]; start: string; end: string }[] | undefined) ?? [];
  return ws.reduce((sum, w) => sum + ((w.days?.length ?? 5) * (parseClock(w.end) - parseClock(w.start))) / 60_000, 0);
}

function selectorEffect(oldSel: Selector = {}, newSel: Selector = {}): { effect: Effect; text: string } | undefined {
  const parts: string[] = [];
  let wider = false;
  let narrower = false;
  for (const dim of ['bots', 'accounts', 'kinds', 'apiIds', 'sides'] as const) {
    const o = oldSel[dim] as string[] | undefined;
    const n = newSel[dim] as string[] | undefined;
    if (o === undefined && n === undefined) continue;
    if (o === undefined) {
      narrower = true;
      parts.push(`now only for ${dim} ${n!.join(', ')}`);
      continue;
    }
    if (n === undefined) {
      wider = true;
      parts.push(`now for all ${dim} (was ${o.join(', ')})`);
      continue;
    }
    const { added, removed } = setDiff(o, n);
    if (added.length) {
      wider = true;
      parts.push(`${dim} +${added.join(', ')}`);
    }
    if (removed.length) {
      narrower = true;
      parts.push(`${dim} -${removed.join(', ')}`);
    }
  }
  if (parts.length === 0) return undefined;
  // A restriction that applies to more calls tightens; to fewer, loosens.
  return { effect: wider && !narrower ? 'tightens' : narrower && !wider ? 'loosens' : 'changes', text: `applies to: ${parts.join('; ')}` };
}

/** Any loosening loosens; otherwise any tightening tightens. */
function overall(entries: readonly DiffEntry[]): Effect {
  if (entries.some((e) => e.effect === 'loosens')) return 'loosens';
  return entries.some((e) => e.effect === 'tightens') ? 'tightens' : 'changes';
}

/** An enforced override replaces `replaced` for the calls it selects: its effect there is the change from that rule to it. */
function overrideEffect(replaced: AnyRule, r: AnyRule): Effect {
  return overall(ruleChanges({ ...replaced, when: r.when, overrides: r.overrides }, r));
}

const isEnforced = (r: AnyRule) => (r.mode ?? 'enforce') === 'enforce';

/** `replaced`: for an enforced override, the rule it replaces in the new policy. */
function ruleChanges(o: AnyRule, n: AnyRule, replaced?: AnyRule): DiffEntry[] {
  const id = n.id;
  const out: DiffEntry[] = [];
  if (o.type !== n.type) return [{ effect: 'changes', ruleId: id, message: `type changed from ${o.type} to ${n.type}` }];
  const om = o.mode ?? 'enforce';
  const nm = n.mode ?? 'enforce';
  if (om !== nm) out.push({ effect: nm === 'shadow' ? 'loosens' : 'tightens', ruleId: id, message: `mode ${om} → ${nm}` });
  const sel = selectorEffect(o.when, n.when);
  if (sel) {
    // An override selecting more calls replaces its default for more calls: that is the override's own effect, not a wider restriction.
    let effect = sel.effect;
    if (replaced !== undefined && effect !== 'changes') {
      const e = overrideEffect(replaced, n);
      effect = e === 'changes' ? 'changes' : (effect === 'tightens') === (e === 'tightens') ? 'tightens' : 'loosens';
    }
    out.push({ effect, ruleId: id, message: sel.text });
  }
  if (o.overrides !== n.overrides) out.push({ effect: 'changes', ruleId: id, message: `overrides ${o.overrides ?? '(none)'} → ${n.overrides ?? '(none)'}` });
  for (const key of new Set([...Object.keys(o), ...Object.keys(n)])) {
    const a = o[key];
    const b = n[key];
    if (typeof a === 'number' || typeof b === 'number') {
      if (a === b) continue;
      const looser = LOOSER_WHEN_BIGGER.has(key) ? 1 : TIGHTER_WHEN_BIGGER.has(key) ? -1 : 0;
      let effect: Effect = 'changes';
      if (a === undefined) effect = looser > 0 ? 'tightens' : 'changes';
      else if (b === undefined) effect = looser > 0 ? 'loosens' : 'changes';
      else if (looser !== 0) effect = (b as number) > (a as number) === looser > 0 ? 'loosens' : 'tightens';
      out.push({ effect, ruleId: id, message: `${key} ${a ?? '(none)'} → ${b ?? '(none)'}` });
    }
  }
  for (const key of ALLOW_LISTS[n.type] ?? []) {
    const { added, removed } = setDiff(o[key] as string[] | undefined, n[key] as string[] | undefined);
    if (added.length) out.push({ effect: 'loosens', ruleId: id, message: `${key} allows more: ${added.join(', ')}` });
    if (removed.length) out.push({ effect: 'tightens', ruleId: id, message: `${key} allows less: ${removed.join(', ')}` });
  }
  for (const key of DENY_LISTS[n.type] ?? []) {
    const { added, removed } = setDiff(o[key] as string[] | undefined, n[key] as string[] | undefined);
    if (added.length) out.push({ effect: 'tightens', ruleId: id, message: `${key} denies more: ${added.join(', ')}` });
    if (removed.length) out.push({ effect: 'loosens', ruleId: id, message: `${key} denies less: ${removed.join(', ')}` });
  }
  if (n.type === 'trading-window') {
    const a = windowMinutes(o);
    const b = windowMinutes(n);
    if (JSON.stringify(o.windows) !== JSON.stringify(n.windows))
      out.push({ effect: b > a ? 'loosens' : b < a ? 'tightens' : 'changes', ruleId: id, message: `windows changed (${a} → ${b} minutes a week)` });
    if ((o.closedOnHolidays ?? true) !== (n.closedOnHolidays ?? true))
      out.push({
        effect: n.closedOnHolidays === false ? 'loosens' : 'tightens',
        ruleId: id,
        message: `closedOnHolidays → ${String(n.closedOnHolidays ?? true)}`,
      });
  }
  if (n.type === 'rate-limit') {
    const per = (r: AnyRule) => new Map(((r.limits as { max: number; per: string }[]) ?? []).map((l) => [l.per, l.max]));
    const a = per(o);
    const b = per(n);
    for (const [p, max] of b) {
      const was = a.get(p);
      if (was === undefined) out.push({ effect: 'tightens', ruleId: id, message: `new limit ${max} per ${p}` });
      else if (was !== max) out.push({ effect: max > was ? 'loosens' : 'tightens', ruleId: id, message: `${was} → ${max} per ${p}` });
    }
    for (const [p, was] of a) if (!b.has(p)) out.push({ effect: 'loosens', ruleId: id, message: `limit ${was} per ${p} removed` });
  }
  if (n.type === 'trading-state' && o.state !== n.state)
    out.push({ effect: n.state === 'HALTED' ? 'tightens' : 'loosens', ruleId: id, message: `state ${String(o.state)} → ${String(n.state)}` });
  if (n.type === 'require-approval' && o.outcome !== n.outcome)
    out.push({
      effect: n.outcome === 'hold' ? 'tightens' : 'loosens',
      ruleId: id,
      message: `outcome ${String(o.outcome ?? 'step-up')} → ${String(n.outcome ?? 'step-up')}`,
    });
  if (n.type === 'cancel-ratio' && (o.countModifies ?? true) !== (n.countModifies ?? true))
    out.push({
      effect: n.countModifies === false ? 'loosens' : 'tightens',
      ruleId: id,
      message: `countModifies ${String(o.countModifies ?? true)} → ${String(n.countModifies ?? true)}`,
    });
  if ((o.scope ?? 'bot') !== (n.scope ?? 'bot'))
    out.push({ effect: 'changes', ruleId: id, message: `scope ${String(o.scope ?? 'bot')} → ${String(n.scope ?? 'bot')}` });
  return out;
}

export function diffPolicies(oldDoc: PolicyDoc, newDoc: PolicyDoc): DiffEntry[] {
  const out: DiffEntry[] = [];
  const oldRules = new Map(oldDoc.rules.map((r) => [r.id, r as AnyRule]));
  const newRules = new Map(newDoc.rules.map((r) => [r.id, r as AnyRule]));
  for (const [id, r] of oldRules) {
    if (!newRules.has(id)) out.push({ effect: (r.mode ?? 'enforce') === 'shadow' ? 'changes' : 'loosens', ruleId: id, message: `rule removed (${r.type})` });
  }
  for (const [id, r] of newRules) {
    const o = oldRules.get(id);
    // An enforced override is not one more restriction: it replaces its default for the calls it selects.
    const replaced = r.overrides !== undefined && isEnforced(r) ? newRules.get(r.overrides) : undefined;
    if (!o)
      out.push({
        effect: !isEnforced(r) ? 'changes' : replaced !== undefined ? overrideEffect(replaced, r) : 'tightens',
        ruleId: id,
        message: `rule added (${r.type}${!isEnforced(r) ? ', shadow' : ''})`,
      });
    else out.push(...ruleChanges(o, r, replaced));
  }
  const ot = oldDoc.riskThresholds ?? {};
  const nt = newDoc.riskThresholds ?? {};
  for (const [key, def] of [
    ['stepUp', DEFAULT_STEP_UP],
    ['approval', DEFAULT_APPROVAL],
  ] as const) {
    const a = ot[key] ?? def;
    const b = nt[key] ?? def;
    if (a !== b) out.push({ effect: b > a ? 'loosens' : 'tightens', message: `riskThresholds.${key} ${a} → ${b}` });
  }
  const hol = setDiff(oldDoc.calendar?.holidays, newDoc.calendar?.holidays);
  if (hol.added.length) out.push({ effect: 'tightens', message: `holidays added: ${hol.added.join(', ')}` });
  if (hol.removed.length) out.push({ effect: 'loosens', message: `holidays removed: ${hol.removed.join(', ')}` });
  if ((oldDoc.language ?? '') !== (newDoc.language ?? ''))
    out.push({ effect: 'changes', message: `language ${oldDoc.language ?? '(default)'} → ${newDoc.language ?? '(default)'}` });
  return out;
}
