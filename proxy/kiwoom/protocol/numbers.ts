// Kiwoom's numbers. Responses carry zero-padded signed strings
// ("-00000000196888", "+74100", "000000000015"); requests carry plain digit
// strings. The rules for signs, decided once for every part:
// - kiwoomNumber: a response number as signed ("-5" is -5, "+74100" is 74100).
// - kiwoomPrice: a response price. The sign on cur_prc / ord_pric / pur_pric
//   is the change direction against the previous close, not a negative price,
//   so prices are the absolute value.
// - kiwoomQuantity: a response quantity is a non-negative integer; anything
//   else (a sign of minus, a fraction) is not a quantity (undefined).
// - orderQuantity / orderPrice: what a bot puts in ord_qty / mdfy_qty /
//   cncl_qty and ord_uv / mdfy_uv. Plain digits only, no sign, no spaces: "-5",
//   "+5" and " 5" are malformed (NaN), so a policy refuses them and a risk score ignores them.

/** A response number: zero-padded, optionally signed. undefined when empty or not a number. */
export function kiwoomNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const n = Number(v.trim().replace(/^\+/, ''));
  return Number.isFinite(n) ? n : undefined;
}

/** A response price: the sign is the change direction, so the absolute value. */
export function kiwoomPrice(v: unknown): number | undefined {
  const n = kiwoomNumber(v);
  return n === undefined ? undefined : Math.abs(n);
}

/** A response quantity: a non-negative integer, else undefined. */
export function kiwoomQuantity(v: unknown): number | undefined {
  const n = kiwoomNumber(v);
  return n !== undefined && Number.isInteger(n) && n >= 0 ? n + 0 : undefined; // + 0: "-0" is 0
}

/** A request field as text: strings as sent, numbers as written; anything else is absent. */
function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/**
 * An order quantity (ord_qty, mdfy_qty, cncl_qty): undefined when absent,
 * NaN when present but not a non-negative whole number ("-5", "+5", "1.5", "").
 * cncl_qty "0" (cancel all remaining) is 0. Not trimmed: " 10" is malformed,
 * since a broker may read it as 10, as 0 or not at all.
 */
export function orderQuantity(v: unknown): number | undefined {
  const s = text(v);
  if (s === undefined) return undefined;
  return /^[0-9]{1,15}$/.test(s) ? Number(s) : Number.NaN;
}

/**
 * An order price (ord_uv, mdfy_uv): undefined when absent, empty or zero (a
 * market-priced order), NaN when malformed (signed, spaced, or more than 4 decimals).
 */
export function orderPrice(v: unknown): number | undefined {
  const s = text(v);
  if (s === undefined || s === '' || /^0+$/.test(s)) return undefined;
  return /^[0-9]{1,15}(\.[0-9]{1,4})?$/.test(s) ? Number(s) : Number.NaN;
}

/** trde_tp codes that execute at the market (no limit price of their own; ord_uv is "" or ignored). */
const MARKET_PRICED_TRADE_TYPES = new Set(['3', '13', '23', '6', '16', '26', '7', '29', '30', '31', '61', '81']);

/** True for an order type (trde_tp) priced by the market, not by its ord_uv. */
export function isMarketPriced(trdeTp: unknown): boolean {
  const s = text(trdeTp)?.trim();
  return s !== undefined && MARKET_PRICED_TRADE_TYPES.has(s);
}

/**
 * An order's, modify's or cancel's quantity and limit price, each from the field Kiwoom defines for that kind (the
 * broker reads a modify's mdfy_qty, whatever ord_qty it also carries). A market-priced order has no price of its own.
 */
export function orderTerms(kind: string | undefined, body: Readonly<Record<string, unknown>>): { quantity?: number; limitPrice?: number } {
  if (kind === 'order') return { quantity: orderQuantity(body.ord_qty), limitPrice: isMarketPriced(body.trde_tp) ? undefined : orderPrice(body.ord_uv) };
  if (kind === 'modify') return { quantity: orderQuantity(body.mdfy_qty), limitPrice: orderPrice(body.mdfy_uv) };
  if (kind === 'cancel') return { quantity: orderQuantity(body.cncl_qty) };
  return {};
}

/**
 * Kiwoom's return_code as a number. Kiwoom writes it as a JSON number or, depending on the endpoint, as a numeric
 * string ("0", "0000", "8005"): Kiwoom's own Python client reads both (kiwoom/core/errors.py normalize_return_code),
 * as kenshin579/kiwoom-go does (internal/wire/code.go). Anything else (absent, blank, a fraction, a boolean, an
 * object) is undefined, which is never OK.
 */
export function returnCodeOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*-?\d{1,9}\s*$/.test(v)) return Number.parseInt(v, 10);
  return undefined;
}

/** True when Kiwoom's return_code says the call succeeded (0, "0" or "0000"). */
export function returnedOk(v: unknown): boolean {
  return returnCodeOf(v) === 0;
}
