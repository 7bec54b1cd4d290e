// Attack families, each in a few variants and intensities. An attack starts
// at a random point inside its victims' normal traffic; the events carry only
// what the sidecar would see (the family and variant go to the labels).
import { allApis, lookupApi } from '../../proxy/kiwoom/catalogue.js';
import { median } from '../../proxy/risk/stats.js';
import { API, body, quote, sessionOf, type Day } from './market.js';
import type { Rng } from './prng.js';
import type { BotTrace, Draft, Family, MarketView } from './types.js';

const MIN = 60_000;

interface Plan {
  readonly victims: readonly BotTrace[];
  readonly events: Draft[];
}

interface FamilyDef {
  readonly variants: readonly string[];
  /** Bots this family can aim at. */
  readonly eligible: (b: BotTrace) => boolean;
  readonly victimCount: (variant: string) => number;
  build(rng: Rng, variant: string, victims: readonly BotTrace[], m: MarketView, dayIndex: number): Draft[];
}

const trades = (b: BotTrace): boolean => b.profile !== 'screener';
const holds = (b: BotTrace): boolean => ['swing', 'rebalancer', 'dca', 'mover'].includes(b.profile);
const attackerIp = (rng: Rng): string => `203.0.113.${rng.int(2, 250)}`;

function at(day: Day, minute: number): number {
  return day.midnight + Math.round(minute * MIN);
}
function usualMinute(rng: Rng, b: BotTrace, day: Day): number {
  const { open, close } = sessionOf(day);
  const from = Math.max(b.hours[0], open);
  const to = Math.min(b.hours[1], close);
  return from + rng.next() * Math.max(1, to - from);
}
function heldCodes(b: BotTrace, dayIndex: number): Array<[string, number]> {
  const pos = b.positions[Math.max(0, dayIndex - 1)] ?? b.opening;
  return Object.entries(pos).filter(([, q]) => q > 0);
}
/**
 * `times` the victim's usual buy of `code` before `before`, in shares: the median of its own buys of that name, or,
 * for a name it never bought, its median buy in KRW at that name's price. Shares alone do not say "usual" for a bot
 * that sizes by KRW (a rebalancer's 150 shares are a trim of one name and a fifth of another).
 */
function usualBuyQty(b: BotTrace, code: string, before: number, m: MarketView, times: number): number {
  const buys = b.events.filter((e) => e.apiId === API.buy && e.t < before);
  const own = buys.filter((e) => e.body.stk_cd === code).map((e) => Number(e.body.ord_qty));
  const krw = buys.map((e) => Number(e.body.ord_qty) * Number(e.body.ord_uv));
  const usual = own.length > 0 ? median(own) : krw.length > 0 ? median(krw) / m.priceOf(code) : b.typicalQty || 50;
  return Math.max(1, Math.round(times * usual));
}
function ev(b: BotTrace, t: number, ip: string, apiId: string, bd: Readonly<Record<string, string>>): Draft {
  return { t, bot: b.bot.id, sourceIp: ip, apiId, body: bd };
}

export const ATTACKS: Readonly<Record<Family, FamilyDef>> = {
  stolen_token_night: {
    variants: ['recon-only', 'sell-two-largest', 'buy-thin-block'],
    eligible: () => true,
    victimCount: () => 1,
    build(rng, variant, [v], m, d) {
      const day = m.days[d]!;
      const ip = attackerIp(rng);
      let t = at(day, rng.chance(0.5) ? rng.int(60, 240) : rng.int(1330, 1420));
      const out: Draft[] = [];
      for (const [api, bd] of [
        [API.balance, body.balance()],
        [API.deposit, body.deposit()],
        [API.openOrders, body.openOrders()],
        [API.fills, body.fills()],
      ] as const) {
        out.push(ev(v!, t, ip, api, bd));
        t += rng.int(5, 40) * 1000;
      }
      if (variant === 'sell-two-largest') {
        const held = heldCodes(v!, d)
          .map(([c, q]) => [c, q, q * m.priceOf(c)] as const)
          .sort((a, b) => b[2] - a[2]);
        for (const [c, q] of held.slice(0, 2)) {
          out.push(ev(v!, t, ip, API.sell, body.order(c, q, quote(rng, m.priceOf(c) * 0.97))));
          t += rng.int(10, 60) * 1000;
        }
        if (held.length === 0) out.push(ev(v!, t, ip, API.sell, body.order(m.liquid[0]!.code, 100, m.liquid[0]!.price)));
      } else if (variant === 'buy-thin-block') {
        const s = rng.pick(m.thin);
        out.push(ev(v!, t, ip, API.buy, body.order(s.code, Math.round(s.adv * 0.2), Math.round(s.price * 1.05))));
      }
      return out;
    },
  },
  liquidate: {
    variants: ['new-ip-fast', 'own-ip-fast', 'own-ip-slow'],
    eligible: holds,
    victimCount: () => 1,
    build(rng, variant, [v], m, d) {
      const day = m.days[d]!;
      const ip = variant === 'new-ip-fast' ? attackerIp(rng) : v!.ipOn(d);
      let t = at(day, rng.int(600, 840));
      const out: Draft[] = [ev(v!, t, ip, API.balance, body.balance())];
      const held = heldCodes(v!, d);
      for (const [c, q] of held.length > 0 ? held : [[m.liquid[0]!.code, 100] as [string, number]]) {
        t += variant === 'own-ip-slow' ? rng.int(15, 25) * MIN : rng.int(3, 20) * 1000;
        out.push(ev(v!, t, ip, API.sell, body.order(c, q, quote(rng, m.priceOf(c) * 0.98))));
      }
      return out;
    },
  },
  pump_thin: {
    variants: ['3-accounts-one-ip', '5-accounts-own-ips', '8-accounts-small'],
    eligible: trades,
    victimCount: (variant) => Number(variant[0]),
    build(rng, variant, victims, m, d) {
      const day = m.days[d]!;
      const s = rng.pick(m.thin);
      const shared = attackerIp(rng);
      const t0 = at(day, rng.int(570, 880));
      const span = variant === '8-accounts-small' ? 10 : 5;
      const qty = variant === '8-accounts-small' ? Math.round(s.adv * 0.03) : Math.round(s.adv * 0.1);
      return victims.flatMap((v, i) => {
        const ip = variant === '3-accounts-one-ip' ? shared : v.ipOn(d);
        const t = t0 + Math.round(((i + rng.next()) * span * MIN) / victims.length);
        return [ev(v, t, ip, API.quote, body.quote(s.code)), ev(v, t + 2000, ip, API.buy, body.order(s.code, qty, Math.round(s.price * (1.02 + 0.01 * i))))];
      });
    },
  },
  low_and_slow: {
    variants: ['one-tiny-buy-a-day', 'three-tiny-buys-a-day', 'one-share-of-each-holding-a-day'],
    eligible: trades,
    victimCount: () => 1,
    build(rng, variant, [v], m, d) {
      const out: Draft[] = [];
      const s = rng.pick(m.thin);
      let days = 0;
      for (let i = d; i < m.days.length && days < 8; i++) {
        const day = m.days[i]!;
        if (!day.trading) continue;
        days++;
        const ip = v!.ipOn(i);
        if (variant === 'one-share-of-each-holding-a-day') {
          for (const [c] of heldCodes(v!, i).slice(0, 5))
            out.push(ev(v!, at(day, usualMinute(rng, v!, day)), ip, API.sell, body.order(c, 1, quote(rng, m.priceOf(c)))));
        } else {
          const n = variant === 'three-tiny-buys-a-day' ? 3 : 1;
          for (let k = 0; k < n; k++)
            out.push(ev(v!, at(day, usualMinute(rng, v!, day)), ip, API.buy, body.order(s.code, rng.int(1, 3), Math.round(s.price * 1.01))));
        }
      }
      return out.sort((a, b) => a.t - b.t);
    },
  },
  scraping: {
    variants: ['burst-new-ip', 'burst-own-ip', 'slow-own-ip'],
    eligible: () => true,
    victimCount: () => 1,
    build(rng, variant, [v], m, d) {
      const day = m.days[d]!;
      const ip = variant === 'burst-new-ip' ? attackerIp(rng) : v!.ipOn(d);
      const reads = [
        [API.balance, body.balance()],
        [API.fills, body.fills()],
        [API.journal, body.journal()],
        [API.returns, body.returns()],
        [API.evaluation, body.evaluation()],
        [API.openOrders, body.openOrders()],
      ] as const;
      const out: Draft[] = [];
      const slow = variant === 'slow-own-ip';
      let t = at(day, slow ? 545 : usualMinute(rng, v!, day));
      for (let k = 0; k < 150; k++) {
        const [api, bd] = reads[k % reads.length]!;
        out.push(ev(v!, t, ip, api, bd));
        t += slow ? rng.int(3, 7) * MIN : rng.int(300, 1500);
        if (slow && (t - day.midnight) / MIN > 900) t += 18 * 60 * MIN; // next day 09:05ish
      }
      return out;
    },
  },
  cancel_storm: {
    variants: ['60-cancels-in-a-minute', '200-cancels-in-five-minutes', '40-bad-modifies'],
    eligible: (b) => ['scalper', 'swing', 'mover'].includes(b.profile),
    victimCount: () => 1,
    build(rng, variant, [v], m, d) {
      const day = m.days[d]!;
      const ip = v!.ipOn(d);
      const n = variant.startsWith('60') ? 60 : variant.startsWith('200') ? 200 : 40;
      const span = variant.startsWith('200') ? 5 * MIN : variant.startsWith('60') ? MIN : 2 * MIN;
      const t0 = at(day, usualMinute(rng, v!, day));
      // The cancels name the victim's own recent orders (numbers an open-orders inquiry shows; the broker takes
      // them): the storm is the rate. The modifies name orders the victim never had (the broker rejects them).
      const own = v!.events.filter((e) => e.orderNo && e.t < t0).slice(-60);
      return Array.from({ length: n }, (_, k) => {
        const c = rng.pick(v!.symbols);
        const draw = rng.int(0, 999_999);
        const t = t0 + Math.round((k * span) / n);
        if (variant === '40-bad-modifies')
          return ev(v!, t, ip, API.modify, body.modify(c, String(9_000_000 + draw), v!.typicalQty, quote(rng, m.priceOf(c) * 0.7)));
        const o = own[draw % Math.max(1, own.length)];
        return ev(v!, t, ip, API.cancel, o ? body.cancel(o.body.stk_cd!, o.orderNo!) : body.cancel(c, String(9_000_000 + draw)));
      });
    },
  },
  api_probing: {
    variants: ['20-ids-own-ip', '60-ids-new-ip', '120-ids-new-ip-fast'],
    eligible: () => true,
    victimCount: () => 1,
    build(rng, variant, [v], m, d) {
      const day = m.days[d]!;
      const n = Number(variant.split('-')[0]);
      const ip = variant.includes('own-ip') ? v!.ipOn(d) : attackerIp(rng);
      const ids = allApis()
        .filter((a) => (a.kind === 'query' || a.kind === 'account') && a.path.startsWith('/api/dostk/'))
        .map((a) => a.apiId);
      let t = at(day, usualMinute(rng, v!, day));
      const out: Draft[] = [];
      for (let k = 0; k < n; k++) {
        const id = ids[(k * 7 + rng.int(0, 3)) % ids.length]!;
        // Well-formed, as a prober copying Kiwoom's documentation sends it: the sidecar refuses a call that lacks a
        // required field before any stage judges it.
        const required = Object.fromEntries((lookupApi(id)?.requiredFields ?? []).map((f) => [f, '0']));
        out.push(ev(v!, t, ip, id, { ...required, stk_cd: rng.pick(m.liquid).code }));
        t += variant.includes('fast') ? rng.int(200, 800) : rng.int(2, 20) * 1000;
      }
      return out;
    },
  },
  insider: {
    variants: ['usual-symbols-3x-size', 'new-symbol-usual-size', 'gradual-sell-down'],
    eligible: (b) => ['scalper', 'swing', 'mover', 'rebalancer'].includes(b.profile),
    victimCount: () => 1,
    build(rng, variant, [v], m, d) {
      const day = m.days[d]!;
      const ip = v!.ipOn(d);
      const out: Draft[] = [];
      if (variant === 'gradual-sell-down') {
        heldCodes(v!, d).forEach(([c, q], i) => {
          const t = at(day, Math.min(v!.hours[1] - 1, v!.hours[0] + 20 + i * 25 + rng.int(0, 10)));
          out.push(ev(v!, t, ip, API.sell, body.order(c, Math.max(1, Math.round(q * 0.3)), quote(rng, m.priceOf(c)))));
        });
        return out;
      }
      const fresh = m.liquid.find((s) => !v!.symbols.includes(s.code)) ?? m.liquid[0]!;
      for (let k = 0; k < 4; k++) {
        const t = at(day, usualMinute(rng, v!, day));
        const code = variant === 'new-symbol-usual-size' ? fresh.code : rng.pick(v!.symbols);
        const qty = usualBuyQty(v!, code, day.midnight, m, variant === 'new-symbol-usual-size' ? 1 : 3);
        out.push(ev(v!, t, ip, API.buy, body.order(code, qty, quote(rng, m.priceOf(code)))));
      }
      return out.sort((a, b) => a.t - b.t);
    },
  },
  condition_tamper: {
    // The victim's realtime condition searches, from its identity: its live search cleared and conditions it
    // never ran requested in its place (the strategy now trades on the attacker's picks), or probed one by one.
    variants: ['swap-live-own-ip', 'swap-live-new-ip', 'probe-one-shot-own-ip'],
    eligible: (b) => b.events.some((e) => e.apiId === API.conditionLive || e.apiId === API.conditionOnce),
    victimCount: () => 1,
    build(rng, variant, [v], m, d) {
      const day = m.days[d]!;
      const ip = variant.includes('new-ip') ? attackerIp(rng) : v!.ipOn(d);
      const runs = new Set(v!.events.filter((e) => e.body.seq !== undefined).map((e) => e.body.seq!));
      const live = v!.events.find((e) => e.apiId === API.conditionLive)?.body.seq;
      const fresh = ['3', '4', '5', '6', '7', '8', '9'].filter((s) => !runs.has(s));
      let t = at(day, usualMinute(rng, v!, day));
      const out: Draft[] = [];
      if (variant.startsWith('swap')) {
        if (live) out.push(ev(v!, t, ip, API.conditionClear, body.conditionClear(live)));
        for (const seq of fresh.slice(0, 3)) {
          t += rng.int(20, 90) * 1000;
          out.push(ev(v!, t, ip, API.conditionLive, body.condition(seq, true)));
        }
      } else {
        for (const seq of fresh.slice(0, 5)) {
          t += rng.int(10, 60) * 1000;
          out.push(ev(v!, t, ip, API.conditionOnce, body.condition(seq, false)));
        }
      }
      return out;
    },
  },
};

/** Redraws of victims and day for a plan that has no call to make (a bot flat overnight has nothing to sell one share of). */
const MAX_REDRAWS = 20;

/**
 * Picks victims and a start day inside normal traffic, then builds one attack instance. A draw the variant
 * cannot act on (no call at all) is drawn again from a child stream of the same generator, so every labelled
 * scenario has calls to catch and the corpus stays one per seed; a scenario that could act at its first draw
 * is exactly what it was before redraws existed.
 */
export function planAttack(rng: Rng, family: Family, variant: string, traces: readonly BotTrace[], m: MarketView): Plan & { start: number } {
  let plan = drawAttack(rng, family, variant, traces, m);
  for (let k = 1; plan.events.length === 0 && k <= MAX_REDRAWS; k++) plan = drawAttack(rng.fork(`redraw-${k}`), family, variant, traces, m);
  if (plan.events.length === 0) throw new Error(`attack ${family}/${variant}: no victim and day it can act on in ${MAX_REDRAWS} draws`);
  return plan;
}

function drawAttack(rng: Rng, family: Family, variant: string, traces: readonly BotTrace[], m: MarketView): Plan & { start: number } {
  const def = ATTACKS[family];
  const pool = traces.filter(def.eligible);
  const want = Math.min(def.victimCount(variant), pool.length);
  const shuffled = pool.map((b) => [rng.next(), b] as const);
  shuffled.sort((a, b) => a[0] - b[0]);
  const victims = shuffled.slice(0, want).map(([, b]) => b);
  const tradingDays = m.days.map((day, i) => [day, i] as const).filter(([day]) => day.trading);
  // Not in the first quarter (baselines must have something to compare with), never on the last day.
  const from = Math.floor(tradingDays.length / 4);
  let d = tradingDays[rng.int(from, tradingDays.length - 2)]![1];
  // The night family sometimes strikes on a closed day.
  if (family === 'stolen_token_night' && rng.chance(0.3)) d = Math.min(m.days.length - 1, d + 1);
  const events = def.build(rng, variant, victims, m, d);
  return { victims, events, start: Math.min(...events.map((e) => e.t)) };
}
