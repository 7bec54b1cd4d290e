// The accumulator that turns rule verdicts into one Decision (first enforced
// deny wins, the strongest soft outcome otherwise, shadow denies only recorded)
// and the explain trace. Apart from evaluate.ts so the phases there and the
// counter phase in stateful.ts share it.
import type { LimitRequest } from '../state/types.js';
import type { CompiledRule, Verdict } from './compiled.js';
import type { CallFacts } from './facts.js';
import type { Decision, MatchedRule, RuleKind, RuleMode } from './types.js';

export interface TraceEntry {
  ruleId: string;
  type: string;
  mode: RuleMode;
  result: 'pass' | 'deny' | 'step-up' | 'hold' | 'overridden' | 'not-selected' | 'skipped';
  reason?: string;
}

const RANK = { allow: 0, 'step-up': 1, hold: 2 } as const;

export class Accumulator {
  matched: MatchedRule[] = [];
  shadowDenies: string[] = [];
  deny: { ruleId: string; kind: RuleKind; reason: string; retryAfterMs?: number } | undefined;
  soft: { outcome: 'step-up' | 'hold'; ruleId: string; kind: RuleKind; reason: string } | undefined;
  /** Counters this call was counted under at admission (Decision.counted). */
  counted: string[] = [];
  /** Limits charged at admission that are given back if the call does not become an order (Decision.charged). */
  charged: LimitRequest[] = [];
  /** Duplicate-guard keys claimed at admission, given back if the call does not become an order (Decision.claimed). */
  claimed: string[] = [];
  /**
   * Set for a modify or cancel of unknown side: said after the reason of every rule that fires because the
   * side is unknown (one narrowed by side, or one a side-narrowed override did not replace).
   */
  unknownSideNote: string | undefined;
  /** Rules a side-narrowed override would have replaced, had the call's side been known. */
  keptForUnknownSide: Set<string> | undefined;

  constructor(readonly trace: TraceEntry[] | undefined) {}

  /** Returns true when evaluation should stop (an enforced deny, outside explain). */
  record(rule: { id: string; type: string; kind: RuleKind; mode: RuleMode; sided?: boolean }, verdict: Verdict | undefined): boolean {
    const becauseUnknown = rule.sided === true || this.keptForUnknownSide?.has(rule.id) === true;
    const v = verdict && becauseUnknown && this.unknownSideNote !== undefined ? { ...verdict, reason: `${verdict.reason} ${this.unknownSideNote}` } : verdict;
    this.trace?.push({ ruleId: rule.id, type: rule.type, mode: rule.mode, result: v ? v.outcome : 'pass', ...(v ? { reason: v.reason } : {}) });
    if (v === undefined) return false;
    this.matched.push({ ruleId: rule.id, outcome: v.outcome, mode: rule.mode, reason: v.reason });
    if (rule.mode === 'shadow') {
      if (v.outcome === 'deny') this.shadowDenies.push(rule.id);
      return false;
    }
    if (v.outcome === 'deny') {
      if (this.deny === undefined)
        this.deny = { ruleId: rule.id, kind: rule.kind, reason: v.reason, ...(v.retryAfterMs !== undefined ? { retryAfterMs: v.retryAfterMs } : {}) };
      return this.trace === undefined;
    }
    if (this.soft === undefined || RANK[v.outcome] > RANK[this.soft.outcome])
      this.soft = { outcome: v.outcome, ruleId: rule.id, kind: rule.kind, reason: v.reason };
    return false;
  }

  skip(rule: CompiledRule, result: 'overridden' | 'not-selected' | 'skipped'): void {
    this.trace?.push({ ruleId: rule.id, type: rule.type, mode: rule.mode, result });
  }

  decision(version: string): Decision {
    const base = {
      matched: this.matched,
      shadowDenies: this.shadowDenies,
      policyVersion: version,
      ...(this.counted.length > 0 ? { counted: this.counted } : {}),
      ...(this.charged.length > 0 ? { charged: this.charged } : {}),
      ...(this.claimed.length > 0 ? { claimed: this.claimed } : {}),
    };
    if (this.deny) {
      return {
        outcome: 'deny',
        ruleId: this.deny.ruleId,
        ruleKind: this.deny.kind,
        reason: this.deny.reason,
        ...base,
        ...(this.deny.retryAfterMs !== undefined ? { retryAfterMs: this.deny.retryAfterMs } : {}),
      };
    }
    if (this.soft) return { outcome: this.soft.outcome, ruleId: this.soft.ruleId, ruleKind: this.soft.kind, reason: this.soft.reason, ...base };
    return { outcome: 'allow', ...base };
  }
}

/** Whether a rule is selected for this call and not overridden; records the skip in the trace otherwise. */
export function applies(r: CompiledRule, f: CallFacts, acc: Accumulator): boolean {
  if (r.select !== null && !r.select(f)) {
    acc.skip(r, 'not-selected');
    return false;
  }
  const by = r.overriddenBy;
  if (by !== undefined) {
    for (let i = 0; i < by.length; i++) {
      const o = by[i]!;
      if (o.select !== null && !o.select(f)) continue;
      // An override narrowed by side does not replace a rule for a call of unknown side: it may be on the other.
      if (o.sided && f.sideUnknown) {
        acc.keptForUnknownSide ??= new Set();
        acc.keptForUnknownSide.add(r.id);
        continue;
      }
      acc.skip(r, 'overridden');
      return false;
    }
  }
  return true;
}
