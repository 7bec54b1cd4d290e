// Rules backed by shared counters (Store): layered rate limits, daily caps,
// cancel ratio, open orders, and the duplicate-order guard.
import { createHash } from 'node:crypto';
import type { LimitRequest } from '../../state/types.js';
import { KEY_PREFIX, NEEDS_OPEN_ORDERS, NEEDS_REFERENCE_PRICE_IF_MARKET, say, scopeKey, type CompiledRule, type Verdict } from '../compiled.js';
import type { RuleDoc, Scope } from '../document.js';
import { DAY_MS, seoulDate } from '../../kiwoom/protocol/index.js';
import { base, EVERY_KIND, krw, ORDER_KINDS, PRICED_KINDS, refuse, type CompileContext } from './common.js';
import { malformedQuantity, noReferencePrice, notionalPrice } from './order.js';

type Doc<T extends RuleDoc['type']> = Extract<RuleDoc, { type: T }>;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parsePeriod(per: string): { ms: number; day: boolean } {
  if (per === 'day') return { ms: DAY_MS, day: true };
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(per)!;
  return { ms: Number(m[1]) * UNIT_MS[m[2]!]!, day: false };
}

export function compileRateLimit(doc: Doc<'rate-limit'>, index: number, ctx: CompileContext): CompiledRule {
  const { lang } = ctx;
  const scope: Scope = doc.scope ?? 'bot';
  const layers = doc.limits.map((l) => ({ ...parsePeriod(l.per), max: l.max, per: l.per }));
  const prefix = `${KEY_PREFIX}rl:${doc.id}:`;
  return {
    ...base(doc, index, 'rate-limit', EVERY_KIND, true),
    needs: 0,
    botKeys: botScoped(scope, (who, day) => layers.map((l) => (l.day ? `${prefix}${who}:day:${day}` : `${prefix}${who}:${l.per}`))),
    limits: (f) => {
      const who = scopeKey(scope, f);
      const date = f.day;
      return layers.map(
        (l): LimitRequest =>
          l.day
            ? // A Seoul calendar day: the date in the key makes the counter roll over at KST midnight.
              { key: `${prefix}${who}:day:${date}`, limit: l.max, windowMs: DAY_MS, mode: 'fixed' }
            : { key: `${prefix}${who}:${l.per}`, limit: l.max, windowMs: l.ms, mode: 'sliding' },
      );
    },
    limitReason: (i) => {
      const l = layers[i]!;
      return (
        doc.message ?? say(lang, `요청 한도를 초과했습니다 (${l.per === 'day' ? '하루' : l.per}당 ${l.max}회)`, `rate limit reached (${l.max} per ${l.per})`)
      );
    },
  };
}

export function compileDailyCap(doc: Doc<'daily-cap'>, index: number, ctx: CompileContext): CompiledRule {
  const { lang } = ctx;
  const scope: Scope = doc.scope ?? 'bot';
  const prefix = `${KEY_PREFIX}cap:${doc.id}:`;
  const needsPrice = doc.maxBuyNotional !== undefined || doc.maxSellNotional !== undefined || doc.maxGrossNotional !== undefined;
  type Layer = { name: 'orders' | 'buy' | 'sell' | 'gross'; max: number };
  const layers: Layer[] = [];
  if (doc.maxOrders !== undefined) layers.push({ name: 'orders', max: doc.maxOrders });
  if (doc.maxBuyNotional !== undefined) layers.push({ name: 'buy', max: doc.maxBuyNotional });
  if (doc.maxSellNotional !== undefined) layers.push({ name: 'sell', max: doc.maxSellNotional });
  if (doc.maxGrossNotional !== undefined) layers.push({ name: 'gross', max: doc.maxGrossNotional });
  return {
    // A modify is no new order (maxOrders), but re-pricing one up adds notional: it is charged what it adds.
    ...base(doc, index, 'daily-cap', needsPrice ? PRICED_KINDS : ORDER_KINDS),
    needs: needsPrice ? NEEDS_REFERENCE_PRICE_IF_MARKET : 0,
    needsOriginalOrder: needsPrice,
    // A daily cap counts orders the broker took: an order that never became one gets its charge back.
    refundable: true,
    botKeys: botScoped(scope, (who, day) => layers.map((l) => `${prefix}${who}:${day}:${l.name}`)),
    limits: (f, m, original): LimitRequest[] | Verdict => {
      const qty = f.quantity;
      if (qty === undefined || Number.isNaN(qty)) return malformedQuantity(lang, doc.message);
      let notional = 0;
      if (needsPrice) {
        const px = notionalPrice(f, m);
        if (px === undefined || Number.isNaN(px)) return noReferencePrice(lang, f.symbol, doc.message);
        notional = px * qty;
      }
      const modify = f.kind === 'modify';
      // A modify moves qty shares of the order it names to a new price: it adds what they cost now over what
      // they cost there (shares beyond what is recorded as left cost their whole price). Lowering adds nothing.
      // An order the sidecar never saw (or a modify with no original at all): the whole notional, on every side.
      let side = f.side;
      if (modify) {
        if (original) {
          notional -= Math.min(qty, original.qty) * original.price;
          side = original.side;
        }
        if (notional <= 0) return [];
      }
      const head = `${prefix}${scopeKey(scope, f)}:${f.day}:`;
      const out: LimitRequest[] = [];
      for (const l of layers) {
        if (l.name === 'orders' && modify) continue;
        if (l.name === 'buy' && side !== 'buy' && !(modify && side === undefined)) continue;
        if (l.name === 'sell' && side !== 'sell' && !(modify && side === undefined)) continue;
        // The Store counts whole units: KRW caps round the limit down and the cost up.
        const req: LimitRequest = {
          key: head + l.name,
          limit: Math.floor(l.max),
          windowMs: DAY_MS,
          mode: 'fixed',
          cost: l.name === 'orders' ? 1 : Math.ceil(notional),
        };
        // An order above the cap on its own is over it whatever was used (and may be too large for the Store to count).
        if (req.cost! > req.limit) return { outcome: 'deny', reason: reasonFor(l, undefined, req.cost!) };
        out.push(req);
      }
      return out;
    },
    limitReason: (_i, req, usedBefore) => {
      const name = req.key.slice(req.key.lastIndexOf(':') + 1);
      return reasonFor(layers.find((x) => x.name === name) ?? layers[0]!, usedBefore, req.cost ?? 1);
    },
  };
  /** `used`: the day's usage before this order (undefined: not read, the order alone is over the cap); `cost`: this order's. */
  function reasonFor(l: Layer, used: number | undefined, cost: number): string {
    if (doc.message) return doc.message;
    if (l.name === 'orders') return say(lang, `일일 주문 건수 한도 ${l.max}건에 도달했습니다`, `daily order cap of ${l.max} reached`);
    const label = { buy: ['매수', 'buy'], sell: ['매도', 'sell'], gross: ['총', 'gross'] }[l.name];
    const ko = used === undefined ? `이 주문 ${krw(cost)}원` : `사용 ${krw(used)}원, 이 주문 ${krw(cost)}원`;
    const en = used === undefined ? `this order KRW ${krw(cost)}` : `used KRW ${krw(used)}, this order KRW ${krw(cost)}`;
    return say(
      lang,
      `일일 ${label[0]} 금액 한도 ${krw(l.max)}원을 초과합니다 (${ko})`,
      `daily ${label[1]} notional cap of KRW ${krw(l.max)} would be exceeded (${en})`,
    );
  }
}

/** A rule's keys for one bot (offboarding deletes them), when its counters are the bot's own. */
function botScoped(scope: Scope, keys: (who: string, day: string) => string[]): CompiledRule['botKeys'] {
  if (scope !== 'bot' && scope !== 'bot-account') return undefined;
  return (botId, account, day) => keys(scopeKey(scope, { botId, account }), day);
}

/** How long an outcome counter lives: the Seoul day in its key rolls it over; the TTL only clears it away. */
export const OUTCOME_COUNTER_TTL_MS = 2 * DAY_MS;

/**
 * Store key of today's orders, cancels or modifies for one scope: fed by recordOutcome with the calls the
 * broker accepted, and by the cancel-ratio rule with the cancels and modifies it admits (kept when the
 * broker accepts them, given back when not).
 */
export function outcomeCounterKey(scope: Scope, f: { botId: string; account: string; t: number }, what: 'orders' | 'cancels' | 'modifies'): string {
  return `${KEY_PREFIX}oc:${scopeKey(scope, f)}:${seoulDate(f.t)}:${what}`;
}

export function compileCancelRatio(doc: Doc<'cancel-ratio'>, index: number, ctx: CompileContext): CompiledRule & { scope: Scope } {
  const { lang } = ctx;
  const scope: Scope = doc.scope ?? 'bot';
  const minOrders = doc.minOrders ?? 10;
  const maxRatio = doc.maxCancelsPerOrder;
  const countModifies = doc.countModifies !== false;
  return {
    ...base(doc, index, 'cancel-ratio', doc.countModifies === false ? ['cancel'] : ['cancel', 'modify']),
    needs: 0,
    scope,
    counterKeys: (f) => [outcomeCounterKey(scope, f, 'orders'), outcomeCounterKey(scope, f, 'cancels'), outcomeCounterKey(scope, f, 'modifies')],
    counterCharge: (f) =>
      f.kind === 'cancel' ? outcomeCounterKey(scope, f, 'cancels') : f.kind === 'modify' ? outcomeCounterKey(scope, f, 'modifies') : undefined,
    checkCounters: (f, reads) => {
      const orders = reads.get(outcomeCounterKey(scope, f, 'orders'));
      const counted = reads.get(outcomeCounterKey(scope, f, 'cancels')) + (countModifies ? reads.get(outcomeCounterKey(scope, f, 'modifies')) : 0);
      // The cancels before this one (admitted and in flight included): this call was counted at admission, or is added here.
      const cancels = reads.includesThisCall ? Math.max(0, counted - 1) : counted;
      if (orders < minOrders) return undefined;
      const ratio = (cancels + 1) / orders;
      if (ratio <= maxRatio + 1e-12) return undefined;
      return refuse(
        doc,
        lang,
        `주문 대비 취소 비율이 한도 ${maxRatio}를 초과합니다 (주문 ${orders}, 취소 ${cancels})`,
        `cancel-to-order ratio would exceed ${maxRatio} (orders ${orders}, cancels ${cancels})`,
      );
    },
  };
}

export function compileMaxOpenOrders(doc: Doc<'max-open-orders'>, index: number, ctx: CompileContext): CompiledRule {
  const { lang } = ctx;
  return {
    ...base(doc, index, 'max-open-orders', ORDER_KINDS),
    needs: NEEDS_OPEN_ORDERS,
    check: (_f, m) => {
      const open = m.openOrders;
      if (open === undefined || open === null) return refuse(doc, lang, '미체결 주문 수를 확인할 수 없습니다', 'open order count is unavailable; refusing');
      if (open < doc.max) return undefined;
      return refuse(doc, lang, `미체결 주문이 ${open}건으로 한도 ${doc.max}건에 도달했습니다`, `${open} open orders; the limit is ${doc.max}`);
    },
  };
}

export function compileDuplicateGuard(doc: Doc<'duplicate-guard'>, index: number, ctx: CompileContext): CompiledRule {
  const { lang } = ctx;
  const prefix = `${KEY_PREFIX}dup:${doc.id}:`;
  return {
    ...base(doc, index, 'duplicate-guard', ORDER_KINDS),
    needs: 0,
    duplicateKey: (f) => {
      if (f.intentional) return undefined;
      const order = `${f.account}:${f.symbol ?? '-'}:${f.side ?? f.apiId}:${f.quantity ?? '-'}:${f.limitPrice ?? 'mkt'}:${f.tradeType ?? '-'}:${f.market ?? '-'}`;
      // Bodies are the bot's input: an absurdly long field must not make an over-long Store key.
      return order.length <= 160 ? prefix + order : `${prefix}h:${createHash('sha256').update(order).digest('base64url')}`;
    },
    // The Store keeps a key at least 1 ms: a shorter window rounded to 0 made every order fail on the Store.
    duplicateTtlMs: Math.max(1, Math.round(doc.windowSeconds * 1000)),
    duplicateReason:
      doc.message ??
      say(
        lang,
        `${doc.windowSeconds}초 안에 같은 주문이 이미 들어왔습니다 (의도한 주문이면 표시하십시오)`,
        `the same order was sent within ${doc.windowSeconds}s (mark it intentional if it is deliberate)`,
      ),
  };
}
