// Kiwoom's number and time formats. Pure helpers, no I/O.

const KST_OFFSET_MS = 9 * 60 * 60 * 1000;

function kstParts(epochMs: number): string {
  // ISO of the shifted instant reads as Korea wall-clock time: 2024-11-07T08:37:13.000Z
  return new Date(epochMs + KST_OFFSET_MS).toISOString();
}

/** YYYYMMDDHHMMSS in Korea time, as in au10001's expires_dt. */
export function kstTimestamp(epochMs: number): string {
  const iso = kstParts(epochMs);
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19);
}

/** HHmmss in Korea time, as in order lists. */
export function kstTime(epochMs: number): string {
  return kstTimestamp(epochMs).slice(8);
}

/** Zero-padded unsigned integer, e.g. mdfy_qty '000000000001'. */
export function padded(n: number, width: number): string {
  return Math.trunc(Math.abs(n)).toString().padStart(width, '0');
}

/** Zero-padded signed amount as in kt00018: '-00000000196888', '000000017598258'. */
export function signedAmount(n: number, width = 15): string {
  const v = Math.round(n);
  return v < 0 ? `-${padded(-v, width - 1)}` : padded(v, width);
}

/** Price carrying its direction against the previous close: '+74100', '-73900', '74000'. */
export function signedPrice(price: number, previousClose: number): string {
  const p = Math.round(price).toString();
  if (price > previousClose) return `+${p}`;
  if (price < previousClose) return `-${p}`;
  return p;
}

/** Rate with two decimals, signed like Kiwoom's flu_rt: '+1.23', '-0.50', '0.00'. */
export function signedRate(rate: number): string {
  const s = Math.abs(rate).toFixed(2);
  if (rate > 0) return `+${s}`;
  if (rate < 0) return `-${s}`;
  return s;
}

/** 7-digit order number, e.g. '0000138'. */
export function orderNumber(n: number): string {
  return padded(n, 7);
}
