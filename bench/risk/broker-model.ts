// The corpus' broker, as both replays play it: every new order that goes out
// fills at once in the account's positions, which a balance inquiry then
// reports; a sell of more than the account holds is refused (Kiwoom's
// 800043, 매도가능수량이 부족합니다) and changes nothing.
import { baseCode } from '../../proxy/kiwoom/protocol/index.js';
import { API } from './market.js';
import type { Corpus, CorpusEvent } from './types.js';

export interface Positions {
  /** The account's positions now (shares per symbol). */
  of(account: string): ReadonlyMap<string, number>;
  /** A call went out: a new buy or sell fills. False when the broker refuses it (a sell of more than is held). */
  fill(account: string, ev: CorpusEvent): boolean;
}

export function positionsModel(corpus: Corpus): Positions {
  const positions = new Map(Object.entries(corpus.openingHoldings).map(([a, h]) => [a, new Map(Object.entries(h))]));
  const of = (account: string): Map<string, number> => {
    let pos = positions.get(account);
    if (!pos) {
      pos = new Map();
      positions.set(account, pos);
    }
    return pos;
  };
  return {
    of,
    fill(account, ev) {
      if ((ev.apiId !== API.buy && ev.apiId !== API.sell) || !ev.body.stk_cd) return true;
      const pos = of(account);
      const code = baseCode(ev.body.stk_cd);
      const q = Number(ev.body.ord_qty) || 0;
      const next = (pos.get(code) ?? 0) + (ev.apiId === API.buy ? q : -q);
      if (next < 0) return false;
      pos.set(code, next);
      return true;
    },
  };
}
