// The detectors' reasons in English (language: en).
import type { Reasons } from './reasons.js';
import type { Lead } from './sequence.js';
import { r2 } from './stats.js';

const BANDS = ['under 15%', '15-60%', '60-90%', '90% or more'];
const KIND: Readonly<Record<string, string>> = {
  order: 'an order',
  modify: 'a modify',
  cancel: 'a cancel',
  query: 'a market-data query',
  account: 'an account inquiry',
  auth: 'a token call',
  transfer: 'a transfer',
  realtime: 'a realtime request',
};
const secs = (s: number): string => (s < 60 || s % 60 !== 0 ? `${s}s` : `${s / 60} min`);
/** A gap: under its bound, from the bound below to it, or the bound below or more (a pause past the last bound). */
const gap = (from: number, within: number | undefined): string =>
  within === undefined ? `${secs(from)} or more` : from > 0 ? `${secs(from)} to ${secs(within)}` : `under ${secs(within)}`;
const lead = (l: Lead): string =>
  l.kind === 'idle'
    ? `a pause of ${gap(l.from ?? 0, l.within)}`
    : `${KIND[l.kind] ?? l.kind}${l.same === undefined ? '' : l.same ? ' of the same stock' : ' of another stock'} ${gap(l.from ?? 0, l.within)} before`;
const known = (knownClient: boolean): string => (knownClient ? ', client identity known' : '');

export const REASONS_EN: Reasons = {
  quietHour: ({ week, hour, seen, expected }) =>
    `${week ? `hour-of-week ${week.how} (day ${week.weekday} ${hour}h Seoul)` : `hour ${hour}h Seoul`}: ${r2(seen)} learned calls near this hour vs ${r2(expected)} expected if uniform`,
  holiday: (date) => `order on market holiday ${date}`,
  offSession: (date, hhmm) => `order outside market sessions (${date} ${hhmm} Seoul)`,
  outsideCidrs: (ip) => `source ${ip ?? '(unparseable address)'} is outside the allowed CIDRs`,
  youngSource: (ip, minutes, knownClient) => `order from source ${ip} first seen ${minutes} min ago${known(knownClient)}`,
  newSource: (ip, n, knownClient) => `source ${ip} never seen for this bot (${n} known)${known(knownClient)}`,
  newNetwork: ({ network, minutes, known: n, knownClient }) =>
    `order from network ${network}, ${minutes === undefined ? 'never used by this bot' : `first used by this bot ${minutes} min ago`} (${n} other network${n === 1 ? '' : 's'})${known(knownClient)}`,
  newClient: (n) => `client identity never seen for this bot (${n} known)`,
  volume: ({ what, x, times, median, z, zWarn }) =>
    `${what === 'qty' ? 'qty' : 'notional KRW'} ${Math.round(x)} is ${r2(times)}x the median ${Math.round(median)} (robust z ${r2(z)} >= ${zWarn})`,
  newApi: (apiId) => `api-id ${apiId} never used by this bot`,
  freshSymbolOrder: (symbol, minutes) => `order in ${symbol}, first seen ${minutes} min ago and never ordered`,
  newSymbol: (symbol, trading) => `${trading ? 'order in' : 'query for'} symbol ${symbol} never traded or queried by this bot`,
  dormantSymbolBuy: ({ symbol, days, atLeast, within, buyDays, dormant }) =>
    `buy in ${symbol}, no call about it for ${days}${atLeast ? '+' : ''} trading day${days === 1 ? '' : 's'}; this bot bought on ${buyDays} days, ${dormant === 0 ? 'never' : `${dormant} time${dormant === 1 ? '' : 's'}`} without a call about the symbol that day or ${within} trading day${within === 1 ? '' : 's'} before`,
  burstCap: (count, cap) => `${Math.round(count)} calls in the last minute (absolute cap ${cap})`,
  burst: (count, usual) => `${Math.round(count)} calls in the last minute vs usual ${r2(usual)} per active minute`,
  cancelStorm: ({ count, usual, rejected, rejectedMin }) =>
    `${Math.round(count)} cancels/modifies in the last minute vs usual ${r2(usual)}${rejected >= 1 ? `; ${Math.round(rejected)} rejected by the broker in the last minute (scores 0.9 from ${rejectedMin})` : ''}`,
  modeSwitch: (orderPct) => `bot is query-only (orders ${r2(orderPct)}% of calls) and now places an order`,
  drainSymbols: (n, minutes, threshold) => `${n} distinct symbols sold within ${minutes} min (threshold ${threshold})`,
  drainKrw: (sold, usual) => `${Math.round(sold)} KRW sold in the window vs usual ${Math.round(usual)}`,
  drainPosition: (pct, alongWith) => `sells ${pct}% of the position${alongWith !== undefined ? ` while selling ${alongWith} symbols` : ''}`,
  drainDay: (n, busiest, threshold) => `sells a whole position, ${n} today; its busiest learned day sold ${r2(busiest)} (threshold ${threshold})`,
  drainDayParts: (n, wholes, threshold) =>
    `sells part of a position, ${n} today; each of its ${wholes} learned sells sold a whole position (threshold ${threshold})`,
  illiquidBuy: (qty, share) => `buy of ${qty} is ${share === undefined ? 'inf' : r2(share)}% of the symbol's daily volume (illiquid)`,
  sharedSource: (ip, bots, minutes, threshold) => `source ${ip} presented ${bots} bots' credentials within ${minutes} min (threshold ${threshold})`,
  herdRefused: ({ accounts, side, symbol, from, to, threshold }) =>
    `orders of ${accounts} accounts ${side === 'sell' ? 'selling' : 'buying'} ${symbol} were refused by their owners within ${from}-${to} min (threshold ${threshold})`,
  herdNew: ({ accounts, side, symbol, from, to, scoresFrom, fullAt }) =>
    `${accounts} accounts ${side === 'sell' ? 'sold' : 'bought'} ${symbol}, new to each of them, within ${from}-${to} min (scores from ${scoresFrom}, fully at ${fullAt})`,
  firstSell: (orders, threshold, pct) =>
    `first sell by this bot: ${orders} orders learned, none a sell (threshold ${threshold})${pct !== undefined ? `, ${pct}% of the position` : ''}`,
  sellShare: ({ pct, beyond, inBand, total, band, rarePct }) =>
    `sells ${pct}% of the position${beyond ? ` (${beyond.qty} shares: more than the ${beyond.upper} it can hold)` : ''}; ${r2(inBand)} of ${r2(total)} learned sells were in that band (${BANDS[band]}; rare under ${rarePct}%)`,
  closerPart: ({ pct, wholes, min }) =>
    `sells ${pct}% of the position; each of its ${wholes} learned sells sold a whole position, none a part (scores from ${min})`,
  sliver: ({ qty, pct, smallest, orders }) =>
    `sells ${qty} shares, ${pct}% of the position: a sliver, with too few sells learned to know this bot's shares, and its smallest of ${orders} orders is ${smallest} shares`,
  sellFloor: ({ pct, floorPct, belowPct, total, steadyPct }) =>
    `sells ${pct}% of the position; all but two of ${r2(total)} learned sells sold ${floorPct}% or more${steadyPct !== undefined ? ` and all but two of its partial sells ${steadyPct}% or less (a steady share)` : ''} (scores under ${belowPct}%)`,
  sellCeiling: ({ pct, ceilingPct, abovePct, partial }) =>
    `sells ${pct}% of the position; all but two of ${r2(partial)} learned sells of part of one sold ${ceilingPct}% or less (scores over ${abovePct}%)`,
  sizeZ: ({ side, krw, usual, z }) =>
    `${side ?? 'order'} of ${Math.round(krw)} KRW is ${z > 0 ? `${r2(krw / usual)}x` : `1/${r2(usual / krw)} of`} this bot's usual ${Math.round(usual)} on that side (robust z ${r2(z)})`,
  envelope: ({ measure: m, times, learned, factor, nthToday }) => {
    const what =
      m.by === 'qty'
        ? `qty ${m.qty} is ${r2(times)}x the largest buy (${m.max}, plus one share)`
        : `${Math.round(m.krw)} KRW is ${r2(times)}x the largest buy (${Math.round(m.max)} KRW, plus one share)`;
    const again = nthToday !== undefined ? `; buy ${nthToday} above it today (scores 1 from the second)` : '';
    return `buy ${what} of ${learned} learned buys (scores 1 from ${factor}x)${again}`;
  },
  condition: ({ live, seq, known: runs, breadth: b }) =>
    `${live ? 'live' : 'one-shot'} condition search ${seq} never run by this bot (runs ${runs.join(', ')})${b ? `; ${b.n} never-run conditions within ${b.minutes}-${2 * b.minutes} min (scores 1 from ${b.min})` : ''}`,
  accountReads: (n, usual, threshold) => `${n} account/order/fill inquiries today vs this bot's busiest learned day ${r2(usual)} (threshold ${threshold})`,
  apiBreadth: (n, minutes, threshold) => `${n} api-ids never used by this bot called within ${minutes}-${2 * minutes} min (threshold ${threshold})`,
  sequence: ({ kind, lead: l, calls, days, rate, max, usual, once }) => {
    const [what, day] = kind === 'order' ? ['order', 'order-day'] : ['account read', 'read-day'];
    const came = once
      ? `this bot's ${calls} learned ${what}s over ${days} ${day}s came after that on one day only, ${once.daysAgo} days ago (a one-off is routine for ${once.oneOffDays} days)`
      : `none of this bot's ${calls} learned ${what}s over ${days} ${day}s came after that`;
    return `${what} after ${lead(l)}: ${came} (new lead-ins ${r2(rate)} per ${day}, judged up to ${max}); usually after ${usual.map((u) => `${lead(u.lead)} (${u.pct}%)`).join(', ')}`;
  },
  stuffingSource: (ip, bots, minutes, threshold) => `source ${ip} failed the secrets of ${bots} bots within ${minutes} min (threshold ${threshold})`,
  stuffingWave: (bots, minutes, threshold) => `this bot's secret failed during a wave of ${bots} bots failing within ${minutes} min (threshold ${threshold})`,
  model: (score, from, drivers) =>
    `learned model anomaly ${r2(score)} (from ${from}); driven by ${drivers.map((f) => `${f.feature} ${r2(f.value)} (${Math.round(100 * f.share)}%)`).join(', ')}`,
  warmupCap: (reason, max) => `${reason} [warming up: at most ${max}]`,
  graced: (reason, { detectors, at, minutes }) =>
    `${reason} [owner approved a call flagged by ${detectors.join(', ')} at ${new Date(at).toISOString()}: not held again within ${minutes} min]`,
  followUp: (minutes, within) => `alert-level call ${minutes} min after a call above step-up the owner has not approved (within ${within} min)`,
  escalationHot: (n, stepUp, hours, threshold) => `call ${n} above step-up (${stepUp}) within ${hours} h (threshold ${threshold})`,
  escalationRefused: (refused, stepUp, hours, threshold) =>
    `call above step-up (${stepUp}) after ${refused} of this bot's held calls were refused within ${hours} h (threshold ${threshold})`,
  afterRefusal: (minutes, hours) => `order ${minutes} min after the owner refused one of this bot's held calls (any order within ${hours} h locks it down)`,
};
