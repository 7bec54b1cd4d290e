// Public types of the policy engine: what the pipeline hands in (PolicyCall),
// what it gets back (Decision), and what the sidecar provides (MarketData).
import type { ApiEntry } from '../kiwoom/types.js';
import type { GuardError } from '../common/errors.js';
import type { OrderTerms } from './compiled.js';
import type { LimitRequest } from '../state/types.js';

export type RuleMode = 'enforce' | 'shadow';
export type TradingState = 'ACTIVE' | 'REDUCING' | 'HALTED';
export type DecisionOutcome = 'allow' | 'deny' | 'step-up' | 'hold';

/** The sidecar implements this by calling Kiwoom through itself. `undefined` = not known. */
export interface MarketData {
  /** `botId`: whose key fetches it (the call being judged); the price itself is the same for every bot. */
  /** `signal` aborts at the policy's market-data deadline: the fetch must not outlive the decision. */
  referencePrice(botId: string, stkCd: string, signal?: AbortSignal): Promise<number | undefined>;
  heldQuantity(botId: string, account: string, stkCd: string, signal?: AbortSignal): Promise<number | undefined>;
  openOrderCount(botId: string, account: string, signal?: AbortSignal): Promise<number | undefined>;
}

export interface PolicyCall {
  botId: string;
  account: string;
  apiId: string;
  /** From lookupApi; undefined = unknown api-id, always denied. */
  entry: ApiEntry | undefined;
  /** Parsed JSON body, already validated as an object. */
  body: Record<string, unknown>;
  /** The bot marked a deliberate duplicate via header. */
  intentional?: boolean;
  /**
   * The retry of a call an approval held: its rate limits were charged when it was held. Its daily caps and its
   * duplicate guard are charged again: the held call gave both back when it ended without being sent.
   */
  approvalRetry?: boolean;
  now?: Date;
  riskScore?: number;
  /**
   * For a modify or cancel: the sidecar's record of the order it names (orders.ts), whose side is the call's;
   * null = no record. Left out, a policy that selects modifies or cancels by side judges it as of unknown side.
   */
  original?: OrderTerms | null;
}

export interface MatchedRule {
  ruleId: string;
  /** deny | step-up | hold */
  outcome: string;
  mode: RuleMode;
  reason: string;
}

/** Rule kinds; the lead maps `rate-limit` and `daily-cap` denials to KG3005, the rest to KG3001. */
export type RuleKind =
  | 'apis'
  | 'symbols'
  | 'markets'
  | 'order-size'
  | 'price-collar'
  | 'trade-types'
  | 'trading-window'
  | 'rate-limit'
  | 'daily-cap'
  | 'cancel-ratio'
  | 'max-open-orders'
  | 'realtime-limits'
  | 'duplicate-guard'
  | 'trading-state'
  | 'approval'
  | 'risk-score'
  | 'unknown-api'
  | 'order-symbol'
  | 'transfer';

export interface Decision {
  outcome: DecisionOutcome;
  /** The rule that decided (absent on allow). */
  ruleId?: string;
  ruleKind?: RuleKind;
  /** Human reason in the configured language. */
  reason?: string;
  /** Rules that fired, enforce and shadow alike, in evaluation order. */
  matched: MatchedRule[];
  /** Ids of shadow rules that would have denied. */
  shadowDenies: string[];
  /** Content hash of the policy that decided. */
  policyVersion: string;
  /** For rate-limit denials: when the limit next has room. */
  retryAfterMs?: number;
  evalMicros?: number;
  /**
   * Counters the call was counted under when it was admitted (cancel-ratio): recordOutcome keeps them when
   * the broker accepts the call and gives them back when it does not. Never set on a deny.
   */
  counted?: readonly string[];
  /**
   * Daily-cap limits charged when the call was admitted: recordOutcome gives them back (Store.refund) when the
   * call certainly did not become an order (outcome.notPlaced), and keeps them otherwise. Never set on a deny.
   */
  charged?: readonly LimitRequest[];
  /** Duplicate-guard keys the call claimed when it was admitted (PolicyEngine.releaseClaims gives them back). */
  claimed?: readonly string[];
  /** The market data the decision was made on (fetched before the market-data rules), for the audit intent. */
  market?: { referencePrice?: number | null; heldQuantity?: number | null; openOrders?: number | null };
}

export interface PolicyInfo {
  version: string;
  file: string;
  loadedAt: string;
}

export interface TradingStateScope {
  global?: true;
  botId?: string;
  account?: string;
}

export interface TradingStateRecord {
  state: TradingState;
  reason: string;
  at: string;
}

export interface EffectiveTradingState {
  /** The most restrictive of global, bot and account. */
  state: TradingState;
  /** Where it came from: 'global' | 'bot' | 'account' | 'policy' | 'default'. */
  source: string;
  reason: string;
  global?: TradingStateRecord;
  bot?: TradingStateRecord;
  account?: TradingStateRecord;
}

/** What became of a call the policy let through. */
export interface CallOutcome {
  /** Kiwoom accepted it (HTTP 200, return_code 0). */
  ok: boolean;
  orderNo?: string;
  /**
   * It certainly did not take effect at the broker: Kiwoom answered it with a refusal, or it never left. Unset
   * when it may have (a time-out or a dropped connection after it was written, a server error): fail safe.
   */
  notPlaced?: boolean;
}

export interface PolicyEngine {
  evaluate(call: PolicyCall): Promise<Decision>;
  /**
   * Call once the broker answered (or failed): feeds order/cancel counters, and gives back the daily caps a call
   * that certainly did not become an order was charged (`notPlaced`: Kiwoom refused it, or it never left).
   */
  recordOutcome(call: PolicyCall, decision: Decision, outcome: CallOutcome): Promise<void>;
  /**
   * The call was stopped before it was sent (held and refused, timed out, answered pending approval): its
   * duplicate-guard claims are given back before the bot is answered, so the same order sent again is not its
   * duplicate. Throws KG7001 when the Store fails (the claims then lapse with the guard's window).
   */
  releaseClaims(decision: Pick<Decision, 'claimed'>): Promise<void>;
  current(): PolicyInfo | undefined;
  /** The bot ids and accounts the policy in force names in `when` (none when no policy is). */
  namedInRules(): readonly import('./load.js').NamedInRule[];
  lastError(): import('./errors.js').PolicyLoadError | undefined;
  /** How far the policy in force's calendar.holidays reaches at nowMs (default: the engine's clock); undefined: no policy, or no holidays listed. */
  calendar(nowMs?: number): import('../common/market-calendar.js').CalendarCoverage | undefined;
  /** Throws GuardError KG3003 when no valid policy is loaded. */
  health(): void;
  setTradingState(scope: TradingStateScope, state: TradingState, reason: string): Promise<void>;
  tradingState(botId: string, account: string): Promise<EffectiveTradingState>;
  /** Re-reads the policy file now (the watcher does this on change). */
  reload(): Promise<{ ok: boolean; changed: boolean; error?: import('./errors.js').PolicyLoadError }>;
  /** Offboarding: deletes the bot's own counters of today (rate limits, daily caps, order counts), keeping shared ones. */
  forgetBot(botId: string, account: string): Promise<void>;
  close(): Promise<void>;
}

export type { GuardError };
