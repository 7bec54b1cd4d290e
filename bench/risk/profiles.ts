// Normal bot profiles over the corpus calendar: each a small state machine
// that emits the calls a real bot of that kind makes, with the restarts,
// closed days, shortened sessions and deliberate strategy changes real users have.
import { API, body, ETFS, quote, sessionOf, type Day } from './market.js';
import type { Rng } from './prng.js';
import type { BotInfo, BotTrace, Draft, MarketView, Profile } from './types.js';

interface Ctx {
  readonly bot: BotInfo;
  readonly rng: Rng;
  readonly m: MarketView;
  readonly index: number;
}

const MIN = 60_000;

class Emitter {
  readonly events: Draft[] = [];
  readonly book: Record<string, number>;
  private ord = 0;
  constructor(
    private readonly ctx: Ctx,
    opening: Record<string, number>,
    public ip: string,
  ) {
    this.book = { ...opening };
  }
  at(day: Day, minute: number): number {
    return day.midnight + Math.round(minute * MIN);
  }
  call(t: number, apiId: string, b: Readonly<Record<string, string>>, note?: string, orderNo?: string): void {
    this.events.push({ t, bot: this.ctx.bot.id, sourceIp: this.ip, apiId, body: b, ...(note ? { note } : {}), ...(orderNo ? { orderNo } : {}) });
  }
  /** A limit order at today's quote; returns the order number the broker answers it with. */
  order(t: number, side: 'buy' | 'sell', code: string, qty: number, note?: string): string {
    const px = quote(this.ctx.rng, this.ctx.m.priceOf(code));
    this.ord += 1;
    const no = String(1_000_000 + this.ctx.index * 100_000 + this.ord);
    this.call(t, side === 'buy' ? API.buy : API.sell, body.order(code, qty, px), note, no);
    this.book[code] = Math.max(0, (this.book[code] ?? 0) + (side === 'buy' ? qty : -qty));
    return no;
  }
}

function lognormalQty(rng: Rng, median: number, spread = 0.3): number {
  return Math.max(1, Math.round(median * Math.exp(spread * rng.gauss())));
}

function fundedHoldings(rng: Rng, m: MarketView, codes: readonly string[], krwEach: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of codes) out[c] = Math.max(1, Math.round((krwEach * (0.7 + 0.6 * rng.next())) / m.priceOf(c)));
  return out;
}

interface Generator {
  readonly hours: readonly [number, number];
  readonly typicalQty: (rng: Rng) => number;
  run(ctx: Ctx, e: Emitter, symbols: string[]): void;
  opening(ctx: Ctx, symbols: string[]): Record<string, number>;
  symbols(ctx: Ctx): string[];
  ipOn?: (ctx: Ctx, dayIndex: number) => string;
  /**
   * Realtime condition searches, drawn from their own stream after run() so the rest of the
   * traffic (and every scenario drawn from it) is what it was before they existed.
   */
  conditions?(ctx: Ctx, e: Emitter, rng: Rng): void;
}

/** The condition a scalper's strategy trades on (its live search, every session). */
const SCALPER_CONDITION = '1';

const scalper: Generator = {
  hours: [540, 930],
  typicalQty: (rng) => rng.int(15, 40),
  symbols: (ctx) => [ctx.m.liquid[ctx.index % 4]!.code, ctx.m.liquid[(ctx.index + 5) % 16]!.code, ctx.m.liquid[(ctx.index + 9) % 16]!.code],
  opening: () => ({}),
  run(ctx, e, symbols) {
    const { rng } = ctx;
    const q = this.typicalQty(rng);
    const restartDays = new Set([rng.int(3, 12), rng.int(13, 28)]);
    for (const day of ctx.m.days) {
      if (!day.trading) continue;
      const { open, close } = sessionOf(day);
      e.call(e.at(day, open - 5), API.balance, body.balance());
      e.call(e.at(day, open - 4), API.deposit, body.deposit());
      const restartAt = restartDays.has(day.tradingIndex) ? open + rng.int(60, close - open - 60) : -1;
      let open_: Array<{ code: string; no: string; qty: number }> = [];
      for (let mi = open + 1; mi < close - 10; mi += 0.4 + rng.next() * 0.8) {
        if (restartAt > 0 && mi >= restartAt && mi < restartAt + 12) {
          // Pod restart: a gap, then the catch-up every fresh process does.
          mi = restartAt + 12;
          e.call(e.at(day, mi), API.balance, body.balance(), 'restart');
          e.call(e.at(day, mi + 0.05), API.openOrders, body.openOrders(), 'restart');
          for (const s of symbols) e.call(e.at(day, mi + 0.1), API.quote, body.quote(s), 'restart');
          open_ = [];
          continue;
        }
        const code = rng.pick(symbols);
        const t = e.at(day, mi);
        e.call(t, API.quote, body.quote(code));
        if (rng.chance(0.22)) {
          const held = e.book[code] ?? 0;
          const side = held > 0 && rng.chance(0.5) ? 'sell' : 'buy';
          const qty = side === 'sell' ? held : lognormalQty(rng, q);
          open_.push({ code, no: e.order(t + 2_000, side, code, qty), qty });
        }
        if (open_.length > 0 && rng.chance(0.08)) {
          const o = open_.splice(rng.int(0, open_.length - 1), 1)[0]!;
          if (rng.chance(0.7)) e.call(t + 5_000, API.cancel, body.cancel(o.code, o.no));
          else e.call(t + 5_000, API.modify, body.modify(o.code, o.no, o.qty, quote(rng, ctx.m.priceOf(o.code))));
        }
      }
      // Flat by the close.
      for (const s of symbols) if ((e.book[s] ?? 0) > 0) e.order(e.at(day, close - 8), 'sell', s, e.book[s]!);
    }
  },
};

scalper.conditions = (ctx, e, rng) => {
  for (const day of ctx.m.days) {
    if (!day.trading) continue;
    const { open, close } = sessionOf(day);
    e.call(e.at(day, open - 2 + rng.next()), API.conditionLive, body.condition(SCALPER_CONDITION, true));
    e.call(e.at(day, close - 6 + rng.next()), API.conditionClear, body.conditionClear(SCALPER_CONDITION));
  }
};

const swing: Generator = {
  hours: [520, 900],
  typicalQty: (rng) => rng.int(60, 200),
  symbols: (ctx) => ctx.m.liquid.slice(0, 10).map((s) => s.code),
  opening(ctx, symbols) {
    return fundedHoldings(ctx.rng, ctx.m, symbols.slice(0, 4), 8_000_000);
  },
  run(ctx, e, symbols) {
    const { rng, m } = ctx;
    const q = this.typicalQty(rng);
    // Deliberate strategy change: a new watchlist from another sector half-way.
    const later = m.all
      .filter((s) => !s.thin && !symbols.includes(s.code))
      .slice(ctx.index * 3, ctx.index * 3 + 10)
      .map((s) => s.code);
    for (const day of m.days) {
      if (!day.trading) {
        if (day.weekday === 6 && rng.chance(0.6)) {
          e.call(e.at(day, 600 + rng.int(0, 90)), API.balance, body.balance(), 'weekend review');
          e.call(e.at(day, 602 + rng.int(0, 90)), API.returns, body.returns(), 'weekend review');
        }
        continue;
      }
      const watch = day.tradingIndex >= 14 ? later : symbols;
      const note = day.tradingIndex === 14 ? 'strategy change' : undefined;
      const { open, close } = sessionOf(day);
      for (const s of watch) e.call(e.at(day, open - 20 + rng.next() * 5), API.daily, body.daily(s, day.date), note);
      e.call(e.at(day, open + 5), API.balance, body.balance());
      for (let mi = open + 10; mi < close - 30; mi += 6 + rng.next() * 8) e.call(e.at(day, mi), API.quote, body.quote(rng.pick(watch)));
      const n = rng.int(0, 2);
      for (let k = 0; k < n; k++) {
        const t = e.at(day, open + rng.int(20, close - open - 40));
        const heldCodes = Object.keys(e.book).filter((c) => e.book[c]! > 0);
        if (heldCodes.length > 0 && rng.chance(0.4)) {
          const c = rng.pick(heldCodes);
          e.order(t, 'sell', c, e.book[c]!, note);
        } else e.order(t, 'buy', rng.pick(watch), lognormalQty(rng, q), note);
      }
    }
  },
};

const rebalancer: Generator = {
  hours: [890, 915],
  typicalQty: () => 0,
  symbols: (ctx) => ctx.m.liquid.slice(2 + (ctx.index % 3), 10 + (ctx.index % 3)).map((s) => s.code),
  opening(ctx, symbols) {
    return fundedHoldings(ctx.rng, ctx.m, symbols, 6_000_000);
  },
  run(ctx, e, symbols) {
    const { rng, m } = ctx;
    // Four names it does not hold yet: a watchlist that already had one of them (bot-05's reaches index 11) made the bot
    // order that name twice in a row each day, which no rebalancer does and `sequence` rightly held.
    const added = m.liquid
      .slice(11)
      .map((s) => s.code)
      .filter((c) => !symbols.includes(c))
      .slice(0, 4);
    for (const day of m.days) {
      if (!day.trading) continue;
      const { close } = sessionOf(day);
      const start = close - 30 + rng.next() * 3;
      const changed = day.tradingIndex >= 19;
      const note = day.tradingIndex === 19 ? 'strategy change: four more names' : undefined;
      const book = changed ? [...symbols, ...added] : symbols;
      e.call(e.at(day, start), API.balance, body.balance());
      e.call(e.at(day, start + 0.1), API.deposit, body.deposit());
      for (const [i, s] of book.entries()) e.call(e.at(day, start + 0.3 + i * 0.05), API.quote, body.quote(s));
      book.forEach((s, i) => {
        const t = e.at(day, start + 1 + i * 0.2);
        const held = e.book[s] ?? 0;
        if (note && held === 0) e.order(t, 'buy', s, Math.round(5_000_000 / m.priceOf(s)), note);
        else if (rng.chance(0.45)) {
          const side = rng.chance(0.5) ? 'buy' : 'sell';
          const qty = Math.max(1, Math.round(held * (0.03 + 0.1 * rng.next())));
          e.order(t, side, s, qty);
        }
      });
    }
  },
};

const dca: Generator = {
  hours: [560, 580],
  typicalQty: () => 15,
  symbols: () => ETFS.map((s) => s.code),
  opening(ctx, symbols) {
    return fundedHoldings(ctx.rng, ctx.m, symbols, 3_000_000);
  },
  run(ctx, e, symbols) {
    const { rng, m } = ctx;
    let month = '';
    for (const day of m.days) {
      if (!day.trading) continue;
      const t0 = (day.half ? 610 : 570) + rng.next() * 6;
      const amount = day.tradingIndex >= 17 ? 600_000 : 300_000;
      const note = day.tradingIndex === 17 ? 'strategy change: contribution doubled' : undefined;
      e.call(e.at(day, t0), API.deposit, body.deposit());
      if (day.date.slice(0, 7) !== month || day.weekday === 1) {
        month = day.date.slice(0, 7);
        e.call(e.at(day, t0 + 0.1), API.balance, body.balance());
      }
      symbols.forEach((s, i) => {
        e.call(e.at(day, t0 + 0.3 + i * 0.1), API.quote, body.quote(s));
        e.order(e.at(day, t0 + 0.5 + i * 0.1), 'buy', s, Math.max(1, Math.floor(amount / m.priceOf(s))), note);
      });
    }
  },
};

const screener: Generator = {
  hours: [510, 1080],
  typicalQty: (rng) => rng.int(10, 30),
  symbols: (ctx) => ctx.m.all.filter((s) => !s.thin).map((s) => s.code),
  opening: () => ({}),
  run(ctx, e, symbols) {
    const { rng, m } = ctx;
    const q = this.typicalQty(rng);
    for (const day of m.days) {
      // The scan runs on its cron whether or not the market is open (a shorter one on closed weekdays).
      const weekday = day.weekday >= 1 && day.weekday <= 5;
      if (!weekday) continue;
      const [from, to] = day.trading ? [510, 1080] : [540, 600];
      for (let mi = from; mi < to; mi += 0.25 + rng.next() * 0.4) {
        const s = rng.pick(symbols);
        // The call's body follows its api-id (a chart without base_dt is refused by the sidecar); the second
        // draw stays so the random stream, and so the corpus, is the one every figure was measured on.
        const quote = rng.chance(0.7);
        rng.chance(0.7);
        e.call(e.at(day, mi), quote ? API.quote : API.daily, quote ? body.quote(s) : body.daily(s, day.date));
      }
      if (day.trading && rng.chance(0.25)) e.order(e.at(day, rng.int(560, 900)), 'buy', rng.pick(m.liquid).code, lognormalQty(rng, q), 'signal trade');
    }
  },
};

screener.conditions = (ctx, e, rng) => {
  // A few one-shot scans a session, on its two saved conditions.
  for (const day of ctx.m.days) {
    if (!day.trading) continue;
    for (let k = 0; k < 3; k++) e.call(e.at(day, rng.int(540, 900)), API.conditionOnce, body.condition(rng.pick(['0', '2']), false));
  }
};

const mover: Generator = {
  hours: [540, 920],
  typicalQty: (rng) => rng.int(30, 90),
  symbols: (ctx) => ctx.m.liquid.slice(6 + (ctx.index % 4), 11 + (ctx.index % 4)).map((s) => s.code),
  opening(ctx, symbols) {
    return fundedHoldings(ctx.rng, ctx.m, symbols.slice(0, 2), 5_000_000);
  },
  ipOn: (ctx, dayIndex) => `10.42.${(ctx.index * 7 + Math.floor((dayIndex + 3) / 7) * 13) % 250}.${10 + ((dayIndex + 3) % 7 === 0 ? 1 : 0)}`,
  run(ctx, e, symbols) {
    const { rng, m } = ctx;
    const q = this.typicalQty(rng);
    m.days.forEach((day, di) => {
      e.ip = this.ipOn!(ctx, di);
      if (!day.trading) return;
      const { open, close } = sessionOf(day);
      e.call(e.at(day, open - 3), API.balance, body.balance());
      for (let mi = open + 2; mi < close - 10; mi += 2 + rng.next() * 4) {
        const s = rng.pick(symbols);
        const t = e.at(day, mi);
        e.call(t, API.quote, body.quote(s));
        if (rng.chance(0.06)) {
          const held = e.book[s] ?? 0;
          if (held > 0 && rng.chance(0.5)) e.order(t + 1500, 'sell', s, Math.max(1, Math.round(held / 2)));
          else e.order(t + 1500, 'buy', s, lognormalQty(rng, q));
        }
      }
    });
  },
};

/**
 * Bots run from a trader's home whose line's address moves to another network once (the ISP reassigns it, or the
 * trader moves the bot to another line): a normal change the \`network\` detector holds the first order after.
 * Applied after the traffic is drawn, so it draws nothing and every other call and scenario is what it was.
 */
const HOME_LINE_MOVES: ReadonlySet<Profile> = new Set<Profile>(['swing', 'dca']);
const homeLineMove = (index: number): { day: number; ip: string } => ({ day: 12 + (index % 9), ip: `100.64.${index}.${20 + index}` });

const GENERATORS: Record<Profile, Generator> = { scalper, swing, rebalancer, dca, screener, mover };

export function generateBot(profile: Profile, bot: BotInfo, index: number, rng: Rng, m: MarketView): BotTrace {
  const g = GENERATORS[profile];
  const ctx: Ctx = { bot, rng, m, index };
  const symbols = g.symbols(ctx);
  const opening = g.opening(ctx, symbols);
  const homeIp = `10.20.${index}.${10 + rng.int(0, 200)}`;
  const move = homeLineMove(index);
  const line = HOME_LINE_MOVES.has(profile) && move.day < m.days.length ? move : undefined;
  const ipOn = g.ipOn ? (d: number) => g.ipOn!(ctx, d) : line ? (d: number) => (d >= line.day ? line.ip : homeIp) : () => homeIp;
  const e = new Emitter(ctx, opening, ipOn(0));
  g.run(ctx, e, symbols);
  g.conditions?.(ctx, e, rng.fork('conditions'));
  if (line) {
    const from = m.days[line.day]!.midnight;
    e.events.forEach((ev, i) => {
      if (ev.t >= from) e.events[i] = { ...ev, sourceIp: line.ip };
    });
  }
  e.events.sort((a, b) => a.t - b.t);
  const positions = positionsByDay(opening, e.events, m.days);
  const qtys = e.events.filter((x) => x.apiId === API.buy).map((x) => Number(x.body.ord_qty));
  qtys.sort((a, b) => a - b);
  return { bot, profile, events: e.events, opening, positions, ipOn, symbols, typicalQty: qtys[qtys.length >> 1] ?? 50, hours: g.hours };
}

/** End-of-day positions from the opening book and the day's orders (every order assumed filled). */
function positionsByDay(opening: Record<string, number>, events: readonly Draft[], days: readonly Day[]): Record<string, number>[] {
  const book = { ...opening };
  const out: Record<string, number>[] = [];
  let i = 0;
  for (const day of days) {
    const end = day.midnight + 86_400_000;
    for (; i < events.length && events[i]!.t < end; i++) {
      const ev = events[i]!;
      if (ev.apiId !== API.buy && ev.apiId !== API.sell) continue;
      const code = ev.body.stk_cd!;
      const qty = Number(ev.body.ord_qty);
      book[code] = Math.max(0, (book[code] ?? 0) + (ev.apiId === API.buy ? qty : -qty));
    }
    out.push({ ...book });
  }
  return out;
}
