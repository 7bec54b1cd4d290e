// Shared pieces for rule compilers: selectors and the base of every rule.
import type { ApiKind } from '../../kiwoom/types.js';
import type { Language } from '../../common/errors.js';
import { ALL_KINDS, say, type CompiledRule, type Verdict } from '../compiled.js';
import type { RuleDoc } from '../document.js';
import type { CallFacts } from '../facts.js';
import { baseCode } from '../../kiwoom/protocol/index.js';
import type { RuleKind } from '../types.js';

export interface CompileContext {
  readonly lang: Language;
  readonly holidays: ReadonlySet<string>;
}

export type RuleBaseFields = Pick<CompiledRule, 'id' | 'type' | 'kind' | 'mode' | 'index' | 'kinds' | 'bots' | 'accounts' | 'select' | 'sided' | 'overrides'>;

/**
 * `typeKinds`: the kinds this rule type can mean anything for. Generic rules
 * take `when.kinds` as given; type-specific ones intersect with it.
 */
export function base(doc: RuleDoc, index: number, kind: RuleKind, typeKinds: readonly ApiKind[], generic = false): RuleBaseFields {
  const when = doc.when ?? {};
  const kinds = new Set<ApiKind>(when.kinds === undefined ? typeKinds : generic ? when.kinds : when.kinds.filter((k) => typeKinds.includes(k)));
  const accounts = when.accounts ? new Set(when.accounts) : undefined;
  const apiIds = when.apiIds ? new Set(when.apiIds) : undefined;
  const sides = when.sides ? new Set<string>(when.sides) : undefined;
  // A cancel only lowers exposure: a rule on a side judges cancels only when its author named them in when.kinds,
  // so a buy-only trading window or rate limit never stands in the way of cancelling (least of all an order of unknown side).
  const sidesJudgeCancels = when.kinds?.includes('cancel') === true;
  let select: ((f: CallFacts) => boolean) | null = null;
  if (accounts || apiIds || sides) {
    select = (f) =>
      (accounts === undefined || accounts.has(f.account)) &&
      (apiIds === undefined || apiIds.has(f.apiId)) &&
      (sides === undefined || sidedSelects(sides, sidesJudgeCancels, f));
  }
  return {
    id: doc.id,
    type: doc.type,
    kind,
    mode: doc.mode ?? 'enforce',
    index,
    kinds,
    bots: when.bots ? new Set(when.bots) : undefined,
    accounts,
    select,
    sided: sides !== undefined,
    overrides: doc.overrides,
  };
}

function sidedSelects(sides: ReadonlySet<string>, judgeCancels: boolean, f: CallFacts): boolean {
  if (f.kind === 'cancel' && !judgeCancels) return false;
  // A modify or cancel of an order whose side is unknown may be on either side: the rule judges it (fail closed).
  return f.side !== undefined ? sides.has(f.side) : f.sideUnknown;
}

/** A refusal in the policy's language, or in the rule's own words when its author wrote a `message`. */
export function refuse(doc: RuleDoc, lang: Language, ko: string, en: string): Verdict {
  return { outcome: 'deny', reason: doc.message ?? say(lang, ko, en) };
}

export const ORDER_KINDS: readonly ApiKind[] = ['order'];
export const PRICED_KINDS: readonly ApiKind[] = ['order', 'modify'];
export const BOOK_KINDS: readonly ApiKind[] = ['order', 'modify', 'cancel'];
export const EVERY_KIND = ALL_KINDS;

export function symbolSet(list: readonly string[]): Set<string> {
  return new Set(list.map(baseCode));
}

export function krw(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
