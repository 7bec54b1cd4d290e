// Kiwoom stock codes. One instrument has several spellings: 005930 (KRX),
// 005930_NX (NXT), 005930_AL (SOR, smart routing), and A005930 in kt00018
// balance rows. baseCode maps all of them to 005930; every part compares
// codes through it (policy symbol lists, risk baselines, held quantities,
// the simulator's book).

export type Venue = 'KRX' | 'NXT' | 'SOR';

/** Codes as Kiwoom accepts them: 6-9 upper-case alphanumerics (gold: M04020000), optional venue suffix. */
const CODE_PATTERN = /^[0-9A-Z]{6,9}(?:_NX|_AL)?$/;

export function isStockCode(stkCd: string): boolean {
  return CODE_PATTERN.test(stkCd);
}

/**
 * The instrument a code names: trimmed, upper case, without the venue suffix
 * (anything from the first "_", so an unknown suffix cannot dodge a symbol
 * list) and without the balance's "A" prefix (only on a 7-character code, so
 * a 6-character code that starts with A stays itself).
 */
export function baseCode(stkCd: string): string {
  let s = stkCd.trim().toUpperCase();
  const us = s.indexOf('_');
  if (us > 0) s = s.slice(0, us);
  if (s.length === 7 && s.charCodeAt(0) === 65 /* A */) s = s.slice(1);
  return s;
}

/** The venue a code's suffix names: _NX → NXT, _AL → SOR, none → KRX. */
export function venueOfCode(stkCd: string): Venue {
  if (/_NX$/.test(stkCd)) return 'NXT';
  if (/_AL$/.test(stkCd)) return 'SOR';
  return 'KRX';
}

/** The code Kiwoom quotes an instrument under on a venue (dmst_stex_tp): 005930 on KRX, 005930_NX on NXT, 005930_AL on SOR. */
export function quoteCode(stkCd: string, venue: string | undefined): string {
  const base = baseCode(stkCd);
  return venue === 'NXT' ? `${base}_NX` : venue === 'SOR' ? `${base}_AL` : base;
}
