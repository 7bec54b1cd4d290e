// Everything rules look at, read from the call once so that each of a
// thousand rules is a few property reads, not a parse.
import type { ApiKind, OrderSide } from '../kiwoom/types.js';
import { baseCode, orderTerms, seoulDate, seoulTimeOfDay, seoulWeekday } from '../kiwoom/protocol/index.js';
import type { PolicyCall } from './types.js';

export interface CallFacts {
  readonly botId: string;
  readonly account: string;
  readonly apiId: string;
  readonly kind: ApiKind | undefined;
  /**
   * An order's own side; a modify's or cancel's is the side of the order it names, as the sidecar recorded
   * it (PolicyCall.original): `when.sides` judges a call by the side of the order it places or acts on.
   */
  readonly side: OrderSide | undefined;
  /**
   * A modify or cancel whose order's side the sidecar does not know (never recorded, past the bound, expired,
   * not looked up, or no order named): a rule narrowed by `when.sides` judges it whichever side it names.
   */
  readonly sideUnknown: boolean;
  /** Normalised stock code (protocol baseCode): upper case, no venue suffix (_NX/_AL), no 'A' prefix. */
  readonly symbol: string | undefined;
  /**
   * Every code stk_cd names, each normalised as `symbol` is: a quote such as ka10095 (관심종목정보) takes several,
   * separated by '|', and Kiwoom answers for each; symbol rules judge every one. [] when there is no stk_cd.
   */
  readonly symbols: readonly string[];
  /** As the bot sent it (for quotes). */
  readonly rawSymbol: string | undefined;
  /** dmst_stex_tp */
  readonly market: string | undefined;
  /**
   * The venue a trading window judges the call on: dmst_stex_tp, or KRX for a gold order that names none (gold
   * trades on KRX's gold market only, and its orders carry no venue).
   */
  readonly venue: string | undefined;
  /** ord_qty / mdfy_qty / cncl_qty (protocol orderQuantity); NaN when present but not a non-negative whole number ("-5"). */
  readonly quantity: number | undefined;
  /** ord_uv / mdfy_uv (protocol orderPrice); undefined for market-priced orders, NaN when malformed. */
  readonly limitPrice: number | undefined;
  readonly tradeType: string | undefined;
  /** orig_ord_no: the order a modify or cancel acts on. */
  readonly origOrderNo: string | undefined;
  readonly t: number;
  /** Seoul calendar date (YYYY-MM-DD), time of day (ms) and weekday (0 = Sunday … 6 = Saturday), computed once per call. */
  readonly day: string;
  readonly timeOfDay: number;
  readonly weekday: number;
  readonly intentional: boolean;
  /** PolicyCall.approvalRetry. */
  readonly approvalRetry: boolean;
  readonly riskScore: number | undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/**
 * The codes a stk_cd names ('|'-separated on quotes that take several), each normalised. A blank one stays (as a
 * blank stk_cd always has: "every stock" on some inquiries), so an allow-list refuses it.
 */
function symbolsOf(raw: string | undefined): readonly string[] {
  if (raw === undefined) return [];
  return raw.includes('|') ? raw.split('|').map(baseCode) : [baseCode(raw)];
}

export function callFacts(call: PolicyCall, now: number): CallFacts {
  const b = call.body;
  const entry = call.entry;
  const kind = entry?.kind;
  const rawSymbol = str(b.stk_cd);
  const tradeType = str(b.trde_tp)?.trim();
  const { quantity, limitPrice } = orderTerms(kind, b);
  const t = call.now?.getTime() ?? now;
  const actsOnOrder = kind === 'modify' || kind === 'cancel';
  const market = str(b.dmst_stex_tp)?.trim().toUpperCase();
  const side = actsOnOrder ? (call.original?.side ?? undefined) : entry?.side;
  return {
    botId: call.botId,
    account: call.account,
    apiId: call.apiId,
    kind,
    side,
    sideUnknown: actsOnOrder && side === undefined,
    symbol: rawSymbol === undefined ? undefined : baseCode(rawSymbol),
    symbols: symbolsOf(rawSymbol),
    rawSymbol,
    market,
    venue: market ?? (entry?.market === 'gold' ? 'KRX' : undefined),
    quantity,
    limitPrice,
    tradeType,
    origOrderNo: str(b.orig_ord_no),
    t,
    day: seoulDate(t),
    timeOfDay: seoulTimeOfDay(t),
    weekday: seoulWeekday(t),
    intentional: call.intentional === true,
    approvalRetry: call.approvalRetry === true,
    riskScore: typeof call.riskScore === 'number' && Number.isFinite(call.riskScore) ? call.riskScore : undefined,
  };
}
