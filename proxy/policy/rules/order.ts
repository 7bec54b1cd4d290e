// Per-order checks: size, notional, price collar, approval for big orders.
import { NEEDS_REFERENCE_PRICE_IF_LIMIT, NEEDS_REFERENCE_PRICE_IF_MARKET, say, type CompiledRule, type MarketSnapshot, type Verdict } from '../compiled.js';
import type { RuleDoc } from '../document.js';
import type { CallFacts } from '../facts.js';
import { base, krw, PRICED_KINDS, refuse, type CompileContext } from './common.js';
import type { Language } from '../../common/errors.js';

type Doc<T extends RuleDoc['type']> = Extract<RuleDoc, { type: T }>;

/** Price used for notional: the order's own limit price, else the reference price. NaN/undefined = cannot tell. */
export function notionalPrice(f: CallFacts, m: MarketSnapshot): number | undefined {
  if (f.limitPrice !== undefined) return f.limitPrice;
  return m.referencePrice ?? undefined;
}

export function malformedQuantity(lang: Language, message?: string): Verdict {
  return { outcome: 'deny', reason: message ?? say(lang, '주문수량이 올바르지 않습니다', 'order quantity is missing or not a whole number') };
}

export function noReferencePrice(lang: Language, symbol: string | undefined, message?: string): Verdict {
  return {
    outcome: 'deny',
    reason: message ?? say(lang, `기준가를 확인할 수 없습니다 (${symbol ?? '-'})`, `no reference price for ${symbol ?? '(no symbol)'}; refusing to guess`),
  };
}

export function compileOrderSize(doc: Doc<'order-size'>, index: number, ctx: CompileContext): CompiledRule {
  const { lang } = ctx;
  const maxQty = doc.maxQuantity;
  const maxNotional = doc.maxNotional;
  return {
    ...base(doc, index, 'order-size', PRICED_KINDS),
    needs: maxNotional !== undefined ? NEEDS_REFERENCE_PRICE_IF_MARKET : 0,
    check: (f, m) => {
      const qty = f.quantity;
      if (qty === undefined || Number.isNaN(qty)) return malformedQuantity(lang, doc.message);
      if (maxQty !== undefined && qty > maxQty) {
        return refuse(doc, lang, `주문수량 ${qty}주가 한도 ${maxQty}주를 초과합니다`, `quantity ${qty} exceeds the limit of ${maxQty}`);
      }
      if (maxNotional !== undefined) {
        const px = notionalPrice(f, m);
        if (px === undefined || Number.isNaN(px)) {
          return Number.isNaN(px)
            ? refuse(doc, lang, '주문단가가 올바르지 않습니다', 'order price is malformed')
            : noReferencePrice(lang, f.symbol, doc.message);
        }
        const notional = px * qty;
        if (notional > maxNotional) {
          return refuse(
            doc,
            lang,
            `주문금액 ${krw(notional)}원이 한도 ${krw(maxNotional)}원을 초과합니다`,
            `order notional KRW ${krw(notional)} exceeds the limit of KRW ${krw(maxNotional)}`,
          );
        }
      }
      return undefined;
    },
  };
}

/** An NXT or SOR order's reference is that venue's quote: the message says so (a KRX one reads as before). */
const venueOf = (market: string | undefined): string => (market === 'NXT' || market === 'SOR' ? `${market} ` : '');

export function compilePriceCollar(doc: Doc<'price-collar'>, index: number, ctx: CompileContext): CompiledRule {
  const { lang } = ctx;
  const maxDev = doc.maxDeviationPercent;
  return {
    ...base(doc, index, 'price-collar', PRICED_KINDS),
    needs: NEEDS_REFERENCE_PRICE_IF_LIMIT,
    check: (f, m) => {
      const px = f.limitPrice;
      if (px === undefined) return undefined; // market-priced: nothing to collar
      if (Number.isNaN(px)) return refuse(doc, lang, '주문단가가 올바르지 않습니다', 'order price is malformed');
      const ref = m.referencePrice;
      if (ref === undefined || ref === null || !(ref > 0)) return noReferencePrice(lang, f.symbol, doc.message);
      const dev = (Math.abs(px - ref) / ref) * 100;
      // A tiny epsilon so that "exactly N%" is never refused by float rounding.
      if (dev <= maxDev + 1e-9) return undefined;
      return refuse(
        doc,
        lang,
        `주문단가 ${krw(px)}원이 ${venueOf(f.market)}기준가 ${krw(ref)}원에서 ${dev.toFixed(2)}% 벗어났습니다 (한도 ${maxDev}%)`,
        `price ${krw(px)} is ${dev.toFixed(2)}% away from the ${venueOf(f.market)}reference ${krw(ref)} (limit ${maxDev}%)`,
      );
    },
  };
}

export function compileRequireApproval(doc: Doc<'require-approval'>, index: number, ctx: CompileContext): CompiledRule {
  const { lang } = ctx;
  const outcome = doc.outcome ?? 'step-up';
  const minQty = doc.minQuantity;
  const minNotional = doc.minNotional;
  const sized = minQty !== undefined || minNotional !== undefined;
  const reason =
    doc.message ??
    say(
      lang,
      outcome === 'hold' ? '관리자 승인이 필요한 주문입니다' : '추가 승인이 필요한 주문입니다',
      outcome === 'hold' ? 'this call needs admin approval' : 'this call needs step-up approval',
    );
  const verdict: Verdict = { outcome, reason };
  return {
    ...base(doc, index, 'approval', sized ? PRICED_KINDS : ['order', 'modify', 'cancel', 'query', 'account', 'auth', 'transfer', 'realtime'], !sized),
    needs: minNotional !== undefined ? NEEDS_REFERENCE_PRICE_IF_MARKET : 0,
    check: (f, m) => {
      if (!sized) return verdict;
      const qty = f.quantity;
      if (qty === undefined || Number.isNaN(qty)) return malformedQuantity(lang);
      if (minQty !== undefined && qty >= minQty) return verdict;
      if (minNotional !== undefined) {
        const px = notionalPrice(f, m);
        // Unknown price: ask for approval rather than let a possibly large order through.
        if (px === undefined || Number.isNaN(px) || px * qty >= minNotional) return verdict;
      }
      return undefined;
    },
  };
}
