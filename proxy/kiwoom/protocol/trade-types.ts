// Kiwoom's order types (trde_tp) per book, with Kiwoom's names. Stock and
// credit orders share one table; gold spot orders (kt50000, kt50001) take
// their own three two-digit codes ("00" is gold's plain limit order).

export type Book = 'stock' | 'credit' | 'gold';

const STOCK: ReadonlyMap<string, string> = new Map([
  ['0', '보통'],
  ['3', '시장가'],
  ['5', '조건부지정가'],
  ['6', '최유리지정가'],
  ['7', '최우선지정가'],
  ['10', '보통(IOC)'],
  ['13', '시장가(IOC)'],
  ['16', '최유리(IOC)'],
  ['20', '보통(FOK)'],
  ['23', '시장가(FOK)'],
  ['26', '최유리(FOK)'],
  ['28', '스톱지정가'],
  ['29', '중간가'],
  ['30', '중간가(IOC)'],
  ['31', '중간가(FOK)'],
  ['61', '장시작전시간외'],
  ['62', '시간외단일가'],
  ['81', '장마감후시간외'],
]);

const GOLD: ReadonlyMap<string, string> = new Map([
  ['00', '보통'],
  ['10', '보통(IOC)'],
  ['20', '보통(FOK)'],
]);

/** The trde_tp codes an order of this book takes, each with Kiwoom's name for it. */
export function tradeTypesOf(book: Book): ReadonlyMap<string, string> {
  return book === 'gold' ? GOLD : STOCK;
}

/** Kiwoom's name of a trde_tp code in any book (undefined for a code no book has). */
export function tradeTypeName(code: string): string | undefined {
  return STOCK.get(code) ?? GOLD.get(code);
}
