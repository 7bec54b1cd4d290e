// The compiled form of a policy: plain data and closures built once per load.
import type { ApiKind, OrderSide } from '../kiwoom/types.js';
import type { LimitRequest } from '../state/types.js';
import type { CallFacts } from './facts.js';
import type { Language } from '../common/errors.js';
import type { RuleKind, RuleMode, TradingState } from './types.js';
import type { Scope } from './document.js';

/** Market data a rule needs before it can decide (bit flags). */
export const NEEDS_REFERENCE_PRICE = 1;
/** Only when the order has no limit price of its own. */
export const NEEDS_REFERENCE_PRICE_IF_MARKET = 2;
export const NEEDS_HELD_QUANTITY = 4;
export const NEEDS_OPEN_ORDERS = 8;
/** Only when the order has a limit price (price collar). */
export const NEEDS_REFERENCE_PRICE_IF_LIMIT = 16;

/** What MarketData returned for this call; `null` = asked but failed/unknown. */
export interface MarketSnapshot {
  referencePrice?: number | null;
  heldQuantity?: number | null;
  openOrders?: number | null;
}

export interface Verdict {
  outcome: 'deny' | 'step-up' | 'hold';
  reason: string;
  retryAfterMs?: number;
}

/** What the sidecar recorded of an order it forwarded today (orders.ts): what is left of it, its price and side. */
export interface OrderTerms {
  readonly qty: number;
  readonly price: number;
  /** undefined: the order was a modify of an order the sidecar never saw. */
  readonly side: OrderSide | undefined;
  /** Its stock (protocol baseCode); undefined in a record written before symbols were recorded. */
  readonly symbol?: string;
}

export interface CounterReads {
  /** Order / cancel counts of today by scope key, for cancel-ratio. */
  get(key: string): number;
  /** True when this call was counted at admission (its own counterCharge key includes it); false in explain. */
  readonly includesThisCall: boolean;
}

export interface CompiledRule {
  readonly id: string;
  readonly type: string;
  readonly kind: RuleKind;
  readonly mode: RuleMode;
  readonly index: number;
  /** Kinds this rule can apply to (after `when.kinds` and the rule type's own scope). */
  readonly kinds: ReadonlySet<ApiKind>;
  /** undefined = every bot. */
  readonly bots: ReadonlySet<string> | undefined;
  /** Residual selector (accounts, api-ids, sides); null = none. */
  readonly select: ((f: CallFacts) => boolean) | null;
  /** `when.sides` narrows it: it selects a modify or cancel of unknown side, but does not override for one. */
  readonly sided: boolean;
  readonly overrides: string | undefined;
  readonly needs: number;
  /** Stateless check, run after any needed market data is in. */
  readonly check?: (f: CallFacts, m: MarketSnapshot) => Verdict | undefined;
  /**
   * Counter limits to charge atomically (rate-limit, daily-cap). Verdict = decided without counters.
   * `original`: for a modify, when the rule asks (needsOriginalOrder), the order it names (null = never seen).
   */
  readonly limits?: (f: CallFacts, m: MarketSnapshot, original?: OrderTerms | null) => LimitRequest[] | Verdict | undefined;
  /** `limits` charges a modify against the order it modifies: its recorded terms are read first (daily caps). */
  readonly needsOriginalOrder?: boolean;
  /**
   * What `limits` charges counts orders the broker accepted (daily caps), so it is given back (Store.refund) when
   * the call certainly did not become one (recordOutcome). Rate limits count calls: theirs is kept.
   */
  readonly refundable?: boolean;
  /** Explains a failed limit: its index in what `limits` returned, the request (its cost is this call's), and the usage before this call. */
  readonly limitReason?: (index: number, request: LimitRequest, usage: number) => string;
  /** Counters read before deciding (cancel-ratio). */
  readonly counterKeys?: (f: CallFacts) => string[];
  readonly checkCounters?: (f: CallFacts, reads: CounterReads) => Verdict | undefined;
  /**
   * The counter (one of counterKeys) this call counts under, charged when the call is admitted so that
   * calls sent at once do not all read the same counts; given back when the call is refused (cancel-ratio).
   */
  readonly counterCharge?: (f: CallFacts) => string | undefined;
  /** Duplicate guard. */
  readonly duplicateKey?: (f: CallFacts) => string | undefined;
  readonly duplicateTtlMs?: number;
  readonly duplicateReason?: string;
  /** realtime-limits rules: caps on the bot's realtime session (read by the realtime endpoint, never by a call). */
  readonly realtimeCaps?: { readonly maxRegistrations?: number; readonly maxLiveSearches?: number };
  /** trading-state rules: the posture they impose. */
  readonly posture?: TradingState;
  /** allow-apis rules that explicitly grant transfers. */
  readonly grantsTransfer?: boolean;
  /** `when.accounts`, for the account index. */
  readonly accounts?: ReadonlySet<string>;
  /** deny-symbols: the listed codes, so the index can jump straight to the rules naming a symbol. */
  readonly denySymbols?: ReadonlySet<string>;
  /** Counter scope (rate-limit, daily-cap, cancel-ratio). */
  readonly scope?: Scope;
  /** The Store keys this rule counts one bot's calls under on a Seoul day (scope bot or bot-account): offboarding deletes them. */
  readonly botKeys?: (botId: string, account: string, day: string) => string[];
  /** Set after indexing: rules that replace this one when their selector matches. */
  overriddenBy?: CompiledRule[];
}

/** Rules that can apply to one (bot, kind), split by evaluation phase. */
export interface RuleList {
  /** No market data, no counters (all of them, in file order: explain walks this). */
  readonly plain: CompiledRule[];
  /** `plain` without the rules reached through `bySymbol` and `byAccount`. */
  readonly linear: CompiledRule[];
  /**
   * Account → `linear` with the plain rules whose `when.accounts` names it, in file order (merged once at compile:
   * the first deny in the file decides, and other accounts never walk them).
   */
  readonly byAccount: Map<string, CompiledRule[]>;
  /** Symbol → deny-symbols rules listing it (a restricted list of thousands costs one lookup). */
  readonly bySymbol: Map<string, CompiledRule[]>;
  /** Need market data. */
  readonly data: CompiledRule[];
  /** Counters, duplicate guard. */
  readonly stateful: CompiledRule[];
  readonly postures: CompiledRule[];
  readonly allowApis: CompiledRule[];
}

export interface CompiledPolicy {
  readonly version: string;
  readonly file: string;
  readonly name: string;
  readonly language: Language;
  readonly rules: readonly CompiledRule[];
  readonly stepUp: number;
  readonly approval: number;
  readonly holidays: ReadonlySet<string>;
  /** Scopes cancel-ratio rules count in (recordOutcome keeps only these). */
  readonly counterScopes: ReadonlySet<Scope>;
  /** Some rule charges modifies against the orders they modify or selects them by side: recordOrder records accepted orders (orders.ts). */
  readonly recordsOrders: boolean;
  /** Some rule selects modifies or cancels by side: the order such a call names is looked up before the plan. */
  readonly sidesOnBook: boolean;
  /**
   * Some rule judges a modify by its stock (allow/deny-symbols, price-collar): the order a modify names is looked
   * up before the plan, and a modify whose stk_cd is not that order's stock is refused (the broker acts on the order).
   */
  readonly symbolsOnBook: boolean;
  /** Per named bot, then per kind. */
  readonly byBot: ReadonlyMap<string, ReadonlyMap<ApiKind, RuleList>>;
  /** Bots not named in any rule. */
  readonly byKind: ReadonlyMap<ApiKind, RuleList>;
}

export const ALL_KINDS: readonly ApiKind[] = ['order', 'modify', 'cancel', 'query', 'account', 'auth', 'transfer', 'realtime'];

// One Redis hash tag for every policy counter: a single consume() may span rules
// and scopes, and Redis Cluster runs a script only on keys of one slot.
export const KEY_PREFIX = 'kguard:{policy}:';

export function scopeKey(scope: Scope, f: { botId: string; account: string }): string {
  switch (scope) {
    case 'bot':
      return `b:${f.botId}`;
    case 'account':
      return `a:${f.account}`;
    case 'bot-account':
      return `ba:${f.botId}:${f.account}`;
    case 'global':
      return 'g';
  }
}

/** Tiny bilingual message helper: reasons are built once per load in the policy's language. */
export function say(lang: Language, ko: string, en: string): string {
  return lang === 'ko' ? ko : en;
}
