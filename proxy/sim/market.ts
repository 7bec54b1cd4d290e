// Quotes. A code's exchange suffix (_NX NXT, _AL SOR) shares the KRX quote
// (codes are compared through the protocol's baseCode).

import { baseCode, isStockCode } from '../kiwoom/protocol/index.js';
import { SimError } from './responses.js';

interface Instrument {
  readonly name: string;
  readonly previousClose: number;
  price: number;
}

// Sensible defaults so demos work without setup; prices are plausible, not live.
const DEFAULT_INSTRUMENTS: ReadonlyArray<readonly [string, string, number]> = [
  ['005930', '삼성전자', 74100],
  ['000660', 'SK하이닉스', 180000],
  ['035420', 'NAVER', 190000],
  ['035720', '카카오', 42000],
  ['005380', '현대차', 210000],
  ['051910', 'LG화학', 350000],
  ['068270', '셀트리온', 180000],
  ['039490', '키움증권', 120000],
  ['069500', 'KODEX 200', 35000],
  ['M04020000', '금 99.99_1kg', 140000],
];

export class Market {
  private readonly instruments = new Map<string, Instrument>();

  constructor() {
    this.reset();
  }

  reset(): void {
    this.instruments.clear();
    for (const [code, name, price] of DEFAULT_INSTRUMENTS) this.instruments.set(code, { name, previousClose: price, price });
  }

  setQuote(stkCd: string, price: number): void {
    if (!isStockCode(stkCd)) throw new SimError(`bad stock code: ${JSON.stringify(stkCd)}`);
    if (!Number.isInteger(price) || price <= 0 || price > 1e9) throw new SimError(`price must be a positive integer KRW: ${price}`);
    const code = baseCode(stkCd);
    const existing = this.instruments.get(code);
    if (existing) existing.price = price;
    else this.instruments.set(code, { name: code, previousClose: price, price });
  }

  /** Current price, or undefined for an unknown code. */
  price(stkCd: string): number | undefined {
    return this.instruments.get(baseCode(stkCd))?.price;
  }

  instrument(stkCd: string): Readonly<Instrument> | undefined {
    return this.instruments.get(baseCode(stkCd));
  }
}
