// Quotes. A code's exchange suffix (_NX NXT, _AL SOR) shares the KRX quote
// (codes are compared through the protocol's baseCode) unless a test gives
// that venue its own (setVenueQuote): NXT trading on after KRX closed.

import { baseCode, isStockCode, venueOfCode } from '../kiwoom/protocol/index.js';
import { SimError } from './responses.js';

interface Instrument {
  readonly name: string;
  readonly previousClose: number;
  price: number;
  /** Average daily volume in shares: what the daily chart (ka10081) reports around. */
  adv: number;
  /** A venue's own price (NXT, SOR) where it is not the KRX one. */
  venues?: Map<'NXT' | 'SOR', number>;
}

/** A new code's daily volume until a test sets one. */
const DEFAULT_ADV = 1_000_000;

// Sensible defaults so demos work without setup; prices are plausible, not live.
const DEFAULT_INSTRUMENTS: ReadonlyArray<readonly [string, string, number, number]> = [
  ['005930', '삼성전자', 74100, 15_000_000],
  ['000660', 'SK하이닉스', 180000, 3_000_000],
  ['035420', 'NAVER', 190000, 800_000],
  ['035720', '카카오', 42000, 2_000_000],
  ['005380', '현대차', 210000, 700_000],
  ['051910', 'LG화학', 350000, 300_000],
  ['068270', '셀트리온', 180000, 900_000],
  ['039490', '키움증권', 120000, 100_000],
  ['069500', 'KODEX 200', 35000, 5_000_000],
  ['M04020000', '금 99.99_1kg', 140000, 20_000],
];

export class Market {
  private readonly instruments = new Map<string, Instrument>();

  constructor() {
    this.reset();
  }

  reset(): void {
    this.instruments.clear();
    for (const [code, name, price, adv] of DEFAULT_INSTRUMENTS) this.instruments.set(code, { name, previousClose: price, price, adv });
  }

  setQuote(stkCd: string, price: number): void {
    if (!isStockCode(stkCd)) throw new SimError(`bad stock code: ${JSON.stringify(stkCd)}`);
    if (!Number.isInteger(price) || price <= 0 || price > 1e9) throw new SimError(`price must be a positive integer KRW: ${price}`);
    const code = baseCode(stkCd);
    const existing = this.instruments.get(code);
    if (existing) existing.price = price;
    else this.instruments.set(code, { name: code, previousClose: price, price, adv: DEFAULT_ADV });
  }

  /** Gives a known code's NXT (005930_NX) or SOR (005930_AL) spelling its own price; the KRX price stays. */
  setVenueQuote(stkCd: string, price: number): void {
    const venue = venueOfCode(stkCd.trim().toUpperCase());
    const inst = this.instruments.get(baseCode(stkCd));
    if (venue === 'KRX' || !isStockCode(stkCd)) throw new SimError(`not an NXT or SOR code: ${JSON.stringify(stkCd)} (005930_NX, 005930_AL)`);
    if (!inst) throw new SimError(`unknown stock code: ${JSON.stringify(stkCd)} (set its quote first)`);
    if (!Number.isInteger(price) || price <= 0 || price > 1e9) throw new SimError(`price must be a positive integer KRW: ${price}`);
    inst.venues ??= new Map();
    inst.venues.set(venue, price);
  }

  /** Sets a known code's average daily volume (shares): a thin name for a test. */
  setVolume(stkCd: string, adv: number): void {
    const inst = this.instruments.get(baseCode(stkCd));
    if (!inst) throw new SimError(`unknown stock code: ${JSON.stringify(stkCd)} (set its quote first)`);
    if (!Number.isInteger(adv) || adv < 0 || adv > 1e12) throw new SimError(`volume must be a non-negative integer of shares: ${adv}`);
    inst.adv = adv;
  }

  /** Current price on the code's venue (the KRX one unless that venue has its own), or undefined for an unknown code. */
  price(stkCd: string): number | undefined {
    const inst = this.instruments.get(baseCode(stkCd));
    const venue = venueOfCode(stkCd.trim().toUpperCase());
    return venue === 'KRX' ? inst?.price : (inst?.venues?.get(venue) ?? inst?.price);
  }

  instrument(stkCd: string): Readonly<Instrument> | undefined {
    return this.instruments.get(baseCode(stkCd));
  }
}
