// Kiwoom's number formats as the simulator writes them (the inverse of the
// protocol's kiwoomNumber / kiwoomPrice). Pure helpers, no I/O. Kiwoom's
// time formats are in proxy/kiwoom/protocol/time.ts.

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
