// What the detectors say, in the sidecar's language (config `language`): a
// reason goes into the audit trail and to approvers, alerts, the dashboard
// and `kguard risk explain`, read by Korean security staff by default. The
// detectors pass numbers; each language formats them. Built only when a
// detector fires, so the hot path pays nothing for it.
import type { Language } from '../common/errors.js';
import type { Lead } from './sequence.js';
import { REASONS_EN } from './reasons-en.js';
import { REASONS_KO } from './reasons-ko.js';

export type Side = 'buy' | 'sell' | undefined;

/** The buy envelope's measure that topped it: by quantity, or by KRW. */
export type EnvelopeMeasure =
  | { readonly by: 'qty'; readonly qty: number; readonly max: number }
  | { readonly by: 'krw'; readonly krw: number; readonly max: number };

export interface Reasons {
  /** time: few learned calls near this hour (of the week once a week is covered, of the day before). */
  quietHour(p: { week?: { how: number; weekday: number }; hour: number; seen: number; expected: number }): string;
  holiday(date: string): string;
  offSession(date: string, hhmm: string): string;
  outsideCidrs(ip: string | undefined): string;
  youngSource(ip: string, minutes: number, knownClient: boolean): string;
  newSource(ip: string, known: number, knownClient: boolean): string;
  newClient(known: number): string;
  /** network: never used (minutes undefined) or first used `minutes` ago; `known` other networks of this bot. */
  newNetwork(p: { network: string; minutes?: number; known: number; knownClient: boolean }): string;
  volume(p: { what: 'qty' | 'krw'; x: number; times: number; median: number; z: number; zWarn: number }): string;
  newApi(apiId: string): string;
  freshSymbolOrder(symbol: string, minutes: number): string;
  newSymbol(symbol: string, trading: boolean): string;
  /**
   * A buy in a symbol with no call about it for `days` trading days (or more, when `atLeast`), above `within`, by a bot
   * that bought on `buyDays` days and `dormant` times did so without a call about the symbol that trading day or
   * `within` before.
   */
  dormantSymbolBuy(p: { symbol: string; days: number; atLeast: boolean; within: number; buyDays: number; dormant: number }): string;
  burstCap(count: number, cap: number): string;
  burst(count: number, usual: number): string;
  cancelStorm(p: { count: number; usual: number; rejected: number; rejectedMin: number }): string;
  modeSwitch(orderPct: number): string;
  drainSymbols(n: number, minutes: number, threshold: number): string;
  drainKrw(sold: number, usual: number): string;
  drainPosition(pct: number, alongWith: number | undefined): string;
  /** The nth whole position sold this Seoul day; the most sold on a learned day (decaying, so maybe fractional). */
  drainDay(n: number, busiest: number, threshold: number): string;
  /** The nth part of a position sold this Seoul day by a bot whose `wholes` learned sells each sold a whole position. */
  drainDayParts(n: number, wholes: number, threshold: number): string;
  illiquidBuy(qty: number, pctOfDailyVolume: number | undefined): string;
  sharedSource(ip: string, bots: number, minutes: number, threshold: number): string;
  herdRefused(p: { accounts: number; side: Side; symbol: string; from: number; to: number; threshold: number }): string;
  herdNew(p: { accounts: number; side: Side; symbol: string; from: number; to: number; scoresFrom: number; fullAt: number }): string;
  firstSell(orders: number, threshold: number, pct: number | undefined): string;
  /** band: 0 under 15 %, 1 15-60 %, 2 60-90 %, 3 90 % or more. */
  sellShare(p: { pct: number; beyond?: { qty: number; upper: number }; inBand: number; total: number; band: number; rarePct: number }): string;
  /** Part of a position (pct) from a bot whose `wholes` learned sells, `min` or more, each sold a whole one. */
  closerPart(p: { pct: number; wholes: number; min: number }): string;
  sliver(p: { qty: number; pct: number; smallest: number; orders: number }): string;
  /** steadyPct: the third largest partial sell, when the bot sells a steady share (the closer floor). */
  sellFloor(p: { pct: number; floorPct: number; belowPct: number; total: number; steadyPct?: number }): string;
  sellCeiling(p: { pct: number; ceilingPct: number; abovePct: number; partial: number }): string;
  sizeZ(p: { side: Side; krw: number; usual: number; z: number }): string;
  envelope(p: { measure: EnvelopeMeasure; times: number; learned: number; factor: number; nthToday: number | undefined }): string;
  condition(p: { live: boolean; seq: string; known: readonly string[]; breadth?: { n: number; minutes: number; min: number } }): string;
  accountReads(n: number, usual: number, threshold: number): string;
  apiBreadth(n: number, minutes: number, threshold: number): string;
  /** An order or account read (`kind`) after a lead-in none of `calls` learned ones had (or one only on a day long past: `once`), each lead with its `from` bound; usual: the commonest lead-ins. */
  sequence(p: {
    kind: 'order' | 'account';
    lead: Lead;
    calls: number;
    days: number;
    rate: number;
    max: number;
    usual: readonly { lead: Lead; pct: number }[];
    /** The lead-in was learned on one day only, `daysAgo` days ago: past `oneOffDays`, no longer routine. */
    once?: { daysAgo: number; oneOffDays: number };
  }): string;
  stuffingSource(ip: string, bots: number, minutes: number, threshold: number): string;
  stuffingWave(bots: number, minutes: number, threshold: number): string;
  model(score: number, from: number, drivers: readonly { feature: string; value: number; share: number }[]): string;
  warmupCap(reason: string, max: number): string;
  graced(reason: string, p: { detectors: readonly string[]; at: number; minutes: number }): string;
  followUp(minutes: number, within: number): string;
  escalationHot(n: number, stepUp: number, hours: number, threshold: number): string;
  escalationRefused(refused: number, stepUp: number, hours: number, threshold: number): string;
  afterRefusal(minutes: number, hours: number): string;
}

export const REASONS: Readonly<Record<Language, Reasons>> = { en: REASONS_EN, ko: REASONS_KO };
