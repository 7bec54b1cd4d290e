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

/**
 * The venue an open order rests on, from its ka10075/ka10076 row: Kiwoom lists it as stex_tp "1" (KRX) or "2" (NXT),
 * stex_tp_txt ("KRX", "NXT", "S-KRX" for a smart-routed one) and sor_yn ("Y" when placed through SOR), not as the
 * dmst_stex_tp word. A cancel or modify must name it: Kiwoom refuses a SOR cancel of an order not placed through SOR
 * ([2000](571412:SOR정정 및 취소주문은 원주문이 SOR주문인 경우 가능합니다.), as clients have met it [O]), and a
 * KRX cancel does not reach an order resting on NXT. A row without these fields falls back to its code's suffix.
 */
export function venueOfListedOrder(row: {
  readonly stex_tp?: unknown;
  readonly stex_tp_txt?: unknown;
  readonly sor_yn?: unknown;
  readonly stk_cd?: unknown;
}): Venue {
  const tp = typeof row.stex_tp === 'string' ? row.stex_tp.trim() : '';
  const txt = typeof row.stex_tp_txt === 'string' ? row.stex_tp_txt.trim().toUpperCase() : '';
  if (row.sor_yn === 'Y' || txt.startsWith('S-')) return 'SOR';
  if (tp === '2' || txt === 'NXT') return 'NXT';
  if (tp === '1' || txt === 'KRX') return 'KRX';
  return venueOfCode(String(row.stk_cd ?? ''));
}
