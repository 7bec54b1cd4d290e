// Everything rules look at, read from the call once so that each of a
// thousand rules is a few property reads, not a parse.
import type { ApiKind, OrderSide } from '../kiwoom/types.js';
import type { PolicyCall } from './types.js';
import { seoulDate, seoulTimeOfDay, seoulWeekday } from './seoul.js';

export interface CallFacts {
  readonly botId: string;
  readonly account: string;
  readonly apiId: string;
  readonly kind: ApiKind | undefined;
  readonly side: OrderSide | undefined;
  /** Normalised stock code: upper case, no venue suffix (_NX/_AL), no 'A' prefix. */
  readonly symbol: string | undefined;
  /** As the bot sent it (for quotes). */
  readonly rawSymbol: string | undefined;
  /** dmst_stex_tp */
  readonly market: string | undefined;
  /** ord_qty / mdfy_qty / cncl_qty; NaN when present but not a whole number. */
  readonly quantity: number | undefined;
  /** ord_uv / mdfy_uv; undefined for market-priced orders, NaN when malformed. */
  readonly limitPrice: number | undefined;
  readonly tradeType: string | undefined;
  readonly t: number;
  /** Seoul calendar date (YYYY-MM-DD), time of day (ms) and weekday (0 = Monday), computed once per call. */
  readonly day: string;
  readonly timeOfDay: number;
  readonly weekday: number;
  readonly intentional: boolean;
  readonly riskScore: number | undefined;
}

/** trde_tp codes that execute at the market (no limit price of their own). */
const MARKET_PRICED = new Set(['3', '13', '23', '6', '16', '26', '7', '29', '30', '31', '61', '81']);

export function normaliseSymbol(raw: string): string {
  let s = raw.trim().toUpperCase();
  const us = s.indexOf('_');
  if (us > 0) s = s.slice(0, us);
  if (s.length === 7 && s.charCodeAt(0) === 65 /* A */) s = s.slice(1);
  return s;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function wholeNumber(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (!/^[0-9]{1,15}$/.test(s)) return Number.NaN;
  return Number(s);
}

function price(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (s === '' || /^0+$/.test(s)) return undefined;
  if (!/^[0-9]{1,15}(\.[0-9]{1,4})?$/.test(s)) return Number.NaN;
  return Number(s);
}

export function callFacts(call: PolicyCall, now: number): CallFacts {
  const b = call.body;
  const entry = call.entry;
  const kind = entry?.kind;
  const rawSymbol = str(b.stk_cd);
  const tradeType = str(b.trde_tp)?.trim();
  let quantity: number | undefined;
  let limitPrice: number | undefined;
  if (kind === 'order') {
    quantity = wholeNumber(str(b.ord_qty));
    limitPrice = tradeType !== undefined && MARKET_PRICED.has(tradeType) ? undefined : price(str(b.ord_uv));
  } else if (kind === 'modify') {
    quantity = wholeNumber(str(b.mdfy_qty));
    limitPrice = price(str(b.mdfy_uv));
  } else if (kind === 'cancel') {
    quantity = wholeNumber(str(b.cncl_qty));
  }
  const t = call.now?.getTime() ?? now;
  return {
    botId: call.botId,
    account: call.account,
    apiId: call.apiId,
    kind,
    side: entry?.side,
    symbol: rawSymbol === undefined ? undefined : normaliseSymbol(rawSymbol),
    rawSymbol,
    market: str(b.dmst_stex_tp)?.trim().toUpperCase(),
    quantity,
    limitPrice,
    tradeType,
    t,
    day: seoulDate(t),
    timeOfDay: seoulTimeOfDay(t),
    weekday: seoulWeekday(t),
    intentional: call.intentional === true,
    riskScore: typeof call.riskScore === 'number' && Number.isFinite(call.riskScore) ? call.riskScore : undefined,
  };
}
