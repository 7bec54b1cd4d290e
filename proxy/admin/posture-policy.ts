// What the policy in force means for one bot's orders, for the posture checks:
// which order-size, rate-limit, trade-types and trading-window rules select
// every order the bot places. Pure functions over the rules' selectors (the
// same `when:` semantics the policy compiler uses: a rule applies to orders
// when `when.kinds` is absent or names `order`, to a bot when `when.bots` is
// absent or names it, likewise accounts; `apiIds` or `sides` narrow a rule to
// some orders only).
import type { PostureRule } from './posture-types.js';

export type Selection = 'all' | 'some' | 'none';

/** Market order types as the policy schema names them, with Kiwoom's trde_tp codes. */
export const MARKET_TRADE_TYPES: readonly { readonly name: string; readonly code: string }[] = [
  { name: 'market', code: '3' },
  { name: 'market-ioc', code: '13' },
  { name: 'market-fok', code: '23' },
];

/** How much of this bot's orders a rule selects. */
export function selectsOrders(rule: PostureRule, bot: { readonly id: string; readonly account: string }): Selection {
  if (rule.kinds && !rule.kinds.includes('order')) return 'none';
  if (rule.bots && !rule.bots.includes(bot.id)) return 'none';
  if (rule.accounts && !rule.accounts.includes(bot.account)) return 'none';
  return rule.apiIds || rule.sides ? 'some' : 'all';
}

export interface RuleCoverage {
  /** Enforced rules that select every order of the bot. */
  readonly enforced: readonly string[];
  /** Rules that select every order but only in shadow mode (logged, not enforced). */
  readonly shadow: readonly string[];
  /** Rules that select only some orders (by api-id or side). */
  readonly partial: readonly string[];
}

export function coverage(rules: readonly PostureRule[], type: string, bot: { readonly id: string; readonly account: string }): RuleCoverage {
  const enforced: string[] = [];
  const shadow: string[] = [];
  const partial: string[] = [];
  for (const r of rules) {
    if (r.type !== type) continue;
    const s = selectsOrders(r, bot);
    if (s === 'none') continue;
    if (s === 'some') partial.push(r.id);
    else if (r.mode === 'shadow') shadow.push(r.id);
    else enforced.push(r.id);
  }
  return { enforced, shadow, partial };
}

function excludes(rule: PostureRule, t: { readonly name: string; readonly code: string }): boolean {
  const named = (list: readonly string[] | undefined) => list !== undefined && (list.includes(t.name) || list.includes(t.code));
  return rule.allow !== undefined ? !named(rule.allow) : named(rule.deny);
}

/** Market order types an enforced trade-types rule still lets this bot send (empty: market orders are refused). */
export function marketTypesAllowed(rules: readonly PostureRule[], bot: { readonly id: string; readonly account: string }): string[] {
  const guarding = rules.filter((r) => r.type === 'trade-types' && r.mode === 'enforce' && selectsOrders(r, bot) === 'all');
  return MARKET_TRADE_TYPES.filter((t) => !guarding.some((r) => excludes(r, t))).map((t) => t.name);
}
