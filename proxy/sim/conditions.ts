// Simulated condition searches (조건검색, ka10171-ka10174 over the WebSocket):
// fixed conditions whose matching stocks change over time, and the
// reply bodies of CNSRLST / CNSRREQ / CNSRCLR.
//
// Shapes, from Kiwoom-Securities/Kiwoom-REST-API examples/국내주식/조건검색/*.py:
//  - CNSRLST answers data as [seq, name] pairs (the examples also accept
//    objects; the pairs are what the service sends).
//  - CNSRREQ search_type 0 (ka10172) answers seq, cont_yn, next_key and data
//    rows keyed by FID: 9001 302 10 25 11 12 13 16 17 18. Clients' fixtures show
//    the values as 'A'-prefixed codes and sign + zero-padded numbers
//    ({"9001":"A005930","10":"+000071000","13":"000001200",...}); the scale of
//    12 (rate) differs between fixtures, here it is the rate x 100 ('+000000143' = 1.43 %).
//  - CNSRREQ search_type 1 (ka10173) answers data rows {"jmcode": "A005930"};
//    later changes come as REAL type 02 (realtime.ts conditionHit).
//  - CNSRCLR (ka10174) answers trnm, seq, return_code, return_msg.
// Error wordings are this simulator's own (Kiwoom's are not published).

import { baseCode, isStockCode } from '../kiwoom/protocol/index.js';
import type { Quote } from './realtime.js';
import { SimError } from './responses.js';

export interface Condition {
  readonly seq: string;
  readonly name: string;
}

/** The stocks conditions draw from (market.ts's default instruments, gold excluded). */
const UNIVERSE: readonly string[] = ['005930', '000660', '035420', '035720', '005380', '051910', '068270', '039490', '069500'];
const UNIVERSE_HEAD = UNIVERSE.slice(0, 4);

// Twelve saved conditions, so Kiwoom's limit of 10 live searches per login
// can be reached; '0'..'3' are the interesting ones (two members, three, none, four).
const CONDITIONS: readonly (Condition & { readonly initial: readonly string[] })[] = [
  { seq: '0', name: '골든크로스', initial: ['005930', '000660'] },
  { seq: '1', name: '거래량급증', initial: ['035420', '035720', '005380'] },
  { seq: '2', name: '신고가돌파', initial: [] },
  { seq: '3', name: '외국인순매수', initial: ['051910', '068270', '039490', '069500'] },
  ...['기관순매수', '이평정배열', '52주신저가', '갭상승', 'MACD골든', 'RSI과매도', '거래대금상위', '시가총액상위'].map((name, i) => ({
    seq: String(4 + i),
    name,
    initial: [UNIVERSE_HEAD[i % UNIVERSE_HEAD.length]!],
  })),
];

export class ConditionBook {
  private readonly members = new Map<string, Set<string>>();
  private readonly cursors = new Map<string, number>();

  constructor() {
    this.reset();
  }

  reset(): void {
    for (const c of CONDITIONS) {
      this.members.set(c.seq, new Set(c.initial));
      this.cursors.set(c.seq, Number(c.seq));
    }
  }

  list(): readonly Condition[] {
    return CONDITIONS.map(({ seq, name }) => ({ seq, name }));
  }

  has(seq: string): boolean {
    return this.members.has(seq);
  }

  /** Matching stocks, in universe order. */
  matches(seq: string): readonly string[] {
    const set = this.members.get(seq);
    return set ? UNIVERSE.filter((c) => set.has(c)).concat([...set].filter((c) => !UNIVERSE.includes(c))) : [];
  }

  /**
   * One stock enters or leaves a condition. Without `stkCd` the condition's
   * next stock in rotation; without `kind` the opposite of its membership.
   * Throws SimError on an unknown seq or a malformed code.
   */
  change(seq: string, stkCd?: string, kind?: 'I' | 'D'): { stkCd: string; kind: 'I' | 'D' } {
    const set = this.members.get(seq);
    if (!set) throw new SimError(`no simulated condition ${JSON.stringify(seq)} (there are ${CONDITIONS.map((c) => c.seq).join(', ')})`);
    if (kind !== undefined && kind !== 'I' && kind !== 'D') throw new SimError('kind must be I or D');
    let code: string;
    if (stkCd === undefined) {
      const cursor = this.cursors.get(seq) ?? 0;
      code = UNIVERSE[cursor % UNIVERSE.length]!;
      this.cursors.set(seq, cursor + 1);
    } else {
      if (typeof stkCd !== 'string' || !isStockCode(stkCd)) throw new SimError(`bad stock code: ${JSON.stringify(stkCd)}`);
      code = baseCode(stkCd);
    }
    const next = kind ?? (set.has(code) ? 'D' : 'I');
    if (next === 'I') set.add(code);
    else set.delete(code);
    return { stkCd: code, kind: next };
  }
}

// Reply bodies ------------------------------------------------------------

export type Reply = Record<string, unknown>;

export function listReply(conditions: readonly Condition[]): Reply {
  return { trnm: 'CNSRLST', return_code: 0, return_msg: '', data: conditions.map((c) => [c.seq, c.name]) };
}

function padSigned(n: number, sign: string): string {
  return `${sign}${Math.abs(Math.round(n)).toString().padStart(9, '0')}`;
}

function signOf(price: number, previousClose: number): string {
  if (price > previousClose) return '+';
  if (price < previousClose) return '-';
  return '';
}

/** One ka10172 row for a stock. */
export function searchRow(code: string, quote: Quote | undefined, volume: number): Record<string, string> {
  const price = quote?.price ?? 0;
  const prev = quote?.previousClose ?? price;
  const change = price - prev;
  const sign = signOf(price, prev);
  const rate = prev === 0 ? 0 : (change / prev) * 100;
  return {
    9001: `A${code}`,
    302: quote?.name ?? code,
    10: padSigned(price, sign),
    25: change > 0 ? '2' : change < 0 ? '5' : '3',
    11: padSigned(change, sign),
    12: padSigned(rate * 100, sign),
    13: padSigned(volume, ''),
    16: padSigned(prev, ''),
    17: padSigned(Math.max(price, prev), signOf(Math.max(price, prev), prev)),
    18: padSigned(Math.min(price, prev), signOf(Math.min(price, prev), prev)),
  };
}

export function searchReply(seq: string, rows: readonly Record<string, string>[]): Reply {
  return { trnm: 'CNSRREQ', seq, cont_yn: 'N', next_key: '', return_code: 0, return_msg: '', data: rows };
}

export function liveSearchReply(seq: string, codes: readonly string[]): Reply {
  return { trnm: 'CNSRREQ', seq, return_code: 0, return_msg: '', data: codes.map((c) => ({ jmcode: `A${c}` })) };
}

export function clearReply(seq: string): Reply {
  return { trnm: 'CNSRCLR', seq, return_code: 0, return_msg: '' };
}

export function conditionError(trnm: string, seq: string | undefined, message: string): Reply {
  return { trnm, ...(seq === undefined ? {} : { seq }), return_code: 1, return_msg: message };
}
