// Knobs of the detectors added with issue 17 (sell-off, order size and the
// buy-size envelope, account reads, api-id breadth, escalation, credential
// stuffing, dormant buys, the learned model).
// Every knob has a default; parsed as part of parseRiskConfig.
import { bool, configError, num, section, strList } from '../common/validate.js';

export interface FlowConfig {
  /**
   * Sustained risk: `after` calls above step-up within `windowMs` lock the bot down. For `followMs` after a call above
   * step-up that the owner has not approved (awaiting approval, or refused), a call of that bot at alert level or above
   * scores `followScore` more (noisy-OR: held too, and counted toward `after`); 0 = off. Once the owner (or an
   * approver) has refused `refusedAfter` of the bot's held calls within `windowMs`, its next call above step-up
   * locks it down: a refusal says the call was not theirs (0 = off). For `refusedOrdersMs` after a refusal, any order
   * or modify of that bot locks it down, whatever it scores: the intruder whose outsized order was held does not get
   * to go on trading in the bot's usual sizes (0 = off).
   */
  readonly escalation: {
    readonly windowMs: number;
    readonly after: number;
    readonly followMs: number;
    readonly followScore: number;
    readonly refusedAfter: number;
    readonly refusedOrdersMs: number;
  };
  /**
   * After the owner approves a held call, calls from its address flagged by no detector beyond the approved call's
   * and scoring below admin are not held again for `windowMs` (0 = off): one approval per deliberate change, not one per order.
   * An order a size detector flags is covered only on the approved order's side and up to `sizeFactor` times its KRW
   * (and its shares, in the same stock): approving twenty shares does not wave through two thousand.
   */
  readonly approvalGrace: { readonly windowMs: number; readonly sizeFactor: number };
  /**
   * Sell-off: learned sells of a known position before the fraction sold is judged; share under which a band is rare;
   * the score of a band exactly that rare (rising to 1 for a band never used); orders a bot must have learned, none
   * of them a sell, before its first sell scores; the smallest position (shares) whose sold fraction is learned and
   * judged (a one-share position can only be sold whole: it says nothing about the share of a position a bot sells);
   * with fewer learned sells than minSamples, the orders (any side) a bot must have learned before a sliver of a
   * position (under 15 %) at most sliverFactor times its smallest order scores; with enough, a share of a position
   * under floorShare times the third smallest share it ever sold scores (0 = off, both), under tightFloorShare
   * times it for a bot that sells a steady share (of tightMinSells or more partial sells, the third largest at most
   * tightSpread times that third smallest; 0 = off), and so does a part of one over ceilingFactor times the third
   * largest part it ever sold (0 = off; selling a whole position has its own band).
   */
  readonly sellOff: {
    readonly minSamples: number;
    readonly rareShare: number;
    readonly rareScore: number;
    readonly firstSellMinOrders: number;
    readonly minHoldingQty: number;
    readonly sliverMinOrders: number;
    readonly sliverFactor: number;
    readonly floorShare: number;
    readonly tightSpread: number;
    readonly tightFloorShare: number;
    readonly tightMinSells: number;
    readonly ceilingFactor: number;
    /** Whole sells, all of them, that make a bot's first part of a position held before minSamples (0: off). */
    readonly closerMinSells: number;
  };
  /**
   * Order size per side: robust z (log notional) where the score starts and reaches 1, both ways; and the size
   * envelope of new buys: learned buys before it judges, and the multiple of the largest learned buy (qty or KRW)
   * at which it scores 1 (it starts above the largest); `envelopeRepeatMinOrders`: learned buys before a second buy
   * above it in one Seoul day scores 1 (a young envelope is topped often), 0 (the default) = judged by size alone:
   * on eight seeds of bench:risk it held 10 of 114 normal calls (a scalper's draws topping its largest twice in a
   * day) and stopped nothing `sequence` did not stop first. Size counts once: the stronger of the two.
   * `quoteMarketOrders`: an order at the market of a name its last balance read does not price is priced at
   * the policy's reference price (one cached quote shared with the notional rules), else by quantity alone.
   */
  readonly orderSize: {
    readonly zWarn: number;
    readonly zMax: number;
    readonly envelopeMinOrders: number;
    readonly envelopeFactor: number;
    readonly envelopeRepeatMinOrders: number;
    readonly quoteMarketOrders: boolean;
  };
  /** Account reads per Seoul day: at least `minPerDay` and `factor` times the learned busiest day. */
  readonly reads: { readonly minPerDay: number; readonly factor: number };
  /** Never-used api-ids within a window: scores from `minApis` distinct ids. */
  readonly apiBreadth: { readonly windowMs: number; readonly minApis: number };
  /** Credential stuffing: distinct bots whose secret failed from one source (or anywhere) within a window. */
  readonly stuffing: { readonly windowMs: number; readonly minBots: number; readonly globalMinBots: number };
  /**
   * A call's lead-in (sequence.ts): the kinds of call judged by it (orders, account reads); learned orders (reads)
   * and Seoul days with one before it judges, the most new lead-ins per such day a bot may show and still be judged;
   * the gap bounds (seconds, ascending) within which the previous call leads (its kind and stock count), and those
   * of a pause when none came within them.
   */
  readonly sequence: {
    readonly kinds: readonly ('order' | 'account')[];
    readonly minOrders: number;
    readonly minReads: number;
    readonly minDays: number;
    readonly maxNewRate: number;
    /** Calendar days a lead-in seen on one day only stays routine (0: for good). */
    readonly oneOffDays: number;
    readonly leadSeconds: readonly number[];
    readonly idleSeconds: readonly number[];
  };
  /**
   * new_symbol's dormant buys (dormant.ts): a buy in a symbol the bot made no call about that KRX trading day or `days`
   * before (0: off), judged when such buys came on at most `maxRate` of its buying days ((dormant + 1) / (days + 1)).
   */
  readonly dormantBuys: { readonly days: number; readonly maxRate: number };
  /**
   * The learned per-bot model (half-space trees); weight 0 = shadow (scored and recorded, adds nothing). `enabled`
   * false: not scored, learned or stored (a stored one is dropped at the bot's next learned call), most of what a
   * baseline document weighs; weights.model must be 0.
   */
  readonly model: { readonly enabled: boolean; readonly trees: number; readonly depth: number; readonly windowSize: number; readonly scoreFrom: number };
}

/** The sections of `risk` parseFlowConfig reads. */
export const FLOW_SECTIONS = [
  'escalation',
  'approvalGrace',
  'sellOff',
  'orderSize',
  'reads',
  'apiBreadth',
  'stuffing',
  'sequence',
  'dormantBuys',
  'model',
] as const;

/** Gap bounds of lead-ins: 1 to 4 ascending seconds above `above`, at most a day (each makes lead-ins of its own); the default too. */
function gapBounds(given: unknown, path: string, def: number[], above: number): number[] {
  const raw = given ?? def;
  const ok =
    Array.isArray(raw) && raw.length >= 1 && raw.length <= 4 && raw.every((s, i) => Number.isFinite(s) && s > (i === 0 ? above : raw[i - 1]) && s <= 86_400);
  const unset = given === undefined ? `unset, its default [${def.join(', ')}] does not fit: ` : '';
  if (!ok) throw configError(path, `${unset}must be 1 to 4 ascending numbers of seconds, above ${above} and at most 86400`);
  return raw as number[];
}

const LEAD_KINDS = ['order', 'account'] as const;

/** The kinds of call judged by their lead-in: some of order and account, once each (none: weight 0 turns it off). */
function leadKinds(sq: Record<string, unknown>, path: string): ('order' | 'account')[] {
  const kinds = strList(sq, 'kinds', path, LEAD_KINDS);
  const ok = kinds.length > 0 && kinds.every((k, i) => (LEAD_KINDS as readonly string[]).includes(k) && kinds.indexOf(k) === i);
  if (!ok) throw configError(`${path}.kinds`, `must list some of ${LEAD_KINDS.join(', ')}, once each (weights.sequence: 0 turns it off)`);
  return kinds as ('order' | 'account')[];
}

export function parseFlowConfig(r: Record<string, unknown>, path: string): FlowConfig {
  const e = section(r.escalation, `${path}.escalation`, ['windowHours', 'after', 'followMinutes', 'followScore', 'refusedAfter', 'refusedOrdersHours']);
  const ag = section(r.approvalGrace, `${path}.approvalGrace`, ['minutes', 'sizeFactor']);
  const so = section(r.sellOff, `${path}.sellOff`, [
    'minSamples',
    'rareShare',
    'rareScore',
    'firstSellMinOrders',
    'minHoldingQty',
    'sliverMinOrders',
    'sliverFactor',
    'floorShare',
    'tightSpread',
    'tightFloorShare',
    'tightMinSells',
    'ceilingFactor',
    'closerMinSells',
  ]);
  const os = section(r.orderSize, `${path}.orderSize`, [
    'zWarn',
    'zMax',
    'envelopeMinOrders',
    'envelopeFactor',
    'envelopeRepeatMinOrders',
    'quoteMarketOrders',
  ]);
  const rd = section(r.reads, `${path}.reads`, ['minPerDay', 'factor']);
  const ab = section(r.apiBreadth, `${path}.apiBreadth`, ['windowMinutes', 'minApis']);
  const st = section(r.stuffing, `${path}.stuffing`, ['windowMinutes', 'minBots', 'globalMinBots']);
  const sq = section(r.sequence, `${path}.sequence`, ['kinds', 'minOrders', 'minReads', 'minDays', 'maxNewRate', 'oneOffDays', 'leadSeconds', 'idleSeconds']);
  const leadSeconds = gapBounds(sq.leadSeconds, `${path}.sequence.leadSeconds`, [5, 60], 0);
  const md = section(r.model, `${path}.model`, ['enabled', 'trees', 'depth', 'windowSize', 'scoreFrom']);
  const db = section(r.dormantBuys, `${path}.dormantBuys`, ['days', 'maxRate']);
  const orderSize = {
    zWarn: num(os, 'zWarn', `${path}.orderSize`, 3, 1, 50),
    zMax: num(os, 'zMax', `${path}.orderSize`, 4.5, 1, 100),
    envelopeMinOrders: num(os, 'envelopeMinOrders', `${path}.orderSize`, 5, 2, 10_000, true),
    envelopeFactor: num(os, 'envelopeFactor', `${path}.orderSize`, 1.5, 1.01, 100),
    envelopeRepeatMinOrders: num(os, 'envelopeRepeatMinOrders', `${path}.orderSize`, 0, 0, 1e6, true),
    quoteMarketOrders: bool(os, 'quoteMarketOrders', `${path}.orderSize`, true),
  };
  if (orderSize.zMax <= orderSize.zWarn) {
    // A zMax written next to a zWarn at or above it is a mistake to show; only a zWarn raised past the default zMax moves it.
    if (os.zMax !== undefined) throw configError(`${path}.orderSize`, `zMax (${orderSize.zMax}) must be above zWarn (${orderSize.zWarn})`);
    orderSize.zMax = orderSize.zWarn + 1;
  }
  return {
    escalation: {
      windowMs: num(e, 'windowHours', `${path}.escalation`, 72, 1, 24 * 30) * 3_600_000,
      after: num(e, 'after', `${path}.escalation`, 3, 2, 1000, true),
      followMs: num(e, 'followMinutes', `${path}.escalation`, 60, 0, 24 * 60) * 60_000,
      followScore: num(e, 'followScore', `${path}.escalation`, 0.6, 0, 1),
      refusedAfter: num(e, 'refusedAfter', `${path}.escalation`, 1, 0, 1000, true),
      refusedOrdersMs: num(e, 'refusedOrdersHours', `${path}.escalation`, 24, 0, 24 * 30) * 3_600_000,
    },
    approvalGrace: {
      windowMs: num(ag, 'minutes', `${path}.approvalGrace`, 30, 0, 24 * 60) * 60_000,
      sizeFactor: num(ag, 'sizeFactor', `${path}.approvalGrace`, 1.25, 1, 100),
    },
    sellOff: {
      minSamples: num(so, 'minSamples', `${path}.sellOff`, 5, 1, 10_000, true),
      rareShare: num(so, 'rareShare', `${path}.sellOff`, 0.05, 0, 1),
      rareScore: num(so, 'rareScore', `${path}.sellOff`, 0.75, 0, 1),
      firstSellMinOrders: num(so, 'firstSellMinOrders', `${path}.sellOff`, 20, 1, 1e6, true),
      minHoldingQty: num(so, 'minHoldingQty', `${path}.sellOff`, 2, 1, 1e9, true),
      sliverMinOrders: num(so, 'sliverMinOrders', `${path}.sellOff`, 5, 1, 1e6, true),
      sliverFactor: num(so, 'sliverFactor', `${path}.sellOff`, 0.1, 0, 1),
      floorShare: num(so, 'floorShare', `${path}.sellOff`, 0.33, 0, 1),
      tightSpread: num(so, 'tightSpread', `${path}.sellOff`, 1.25, 0, 100),
      tightFloorShare: num(so, 'tightFloorShare', `${path}.sellOff`, 0.7, 0, 1),
      // Five would make the third smallest and the third largest one and the same sell.
      tightMinSells: num(so, 'tightMinSells', `${path}.sellOff`, 10, 6, 1e6, true),
      ceilingFactor: num(so, 'ceilingFactor', `${path}.sellOff`, 2, 0, 100),
      closerMinSells: num(so, 'closerMinSells', `${path}.sellOff`, 2, 0, 1e6, true),
    },
    orderSize,
    reads: { minPerDay: num(rd, 'minPerDay', `${path}.reads`, 15, 1, 1e6, true), factor: num(rd, 'factor', `${path}.reads`, 3, 1, 1000) },
    apiBreadth: {
      windowMs: num(ab, 'windowMinutes', `${path}.apiBreadth`, 60, 1, 1440) * 60_000,
      minApis: num(ab, 'minApis', `${path}.apiBreadth`, 3, 2, 1000, true),
    },
    stuffing: {
      windowMs: num(st, 'windowMinutes', `${path}.stuffing`, 10, 1, 1440) * 60_000,
      minBots: num(st, 'minBots', `${path}.stuffing`, 3, 2, 10_000, true),
      globalMinBots: num(st, 'globalMinBots', `${path}.stuffing`, 10, 2, 100_000, true),
    },
    sequence: {
      kinds: leadKinds(sq, `${path}.sequence`),
      minOrders: num(sq, 'minOrders', `${path}.sequence`, 10, 1, 1e6, true),
      minReads: num(sq, 'minReads', `${path}.sequence`, 5, 1, 1e6, true),
      minDays: num(sq, 'minDays', `${path}.sequence`, 5, 1, 1000, true),
      // 0 would judge no bot (the rate is at least one over its order-days plus one): weight 0 turns it off.
      maxNewRate: num(sq, 'maxNewRate', `${path}.sequence`, 0.2, 0.001, 1),
      oneOffDays: num(sq, 'oneOffDays', `${path}.sequence`, 30, 0, 3650, true),
      leadSeconds,
      idleSeconds: gapBounds(sq.idleSeconds, `${path}.sequence.idleSeconds`, [600], leadSeconds.at(-1)!),
    },
    dormantBuys: { days: num(db, 'days', `${path}.dormantBuys`, 1, 0, 60, true), maxRate: num(db, 'maxRate', `${path}.dormantBuys`, 0.1, 0.001, 1) },
    model: {
      enabled: bool(md, 'enabled', `${path}.model`, true),
      trees: num(md, 'trees', `${path}.model`, 16, 1, 64, true),
      depth: num(md, 'depth', `${path}.model`, 6, 2, 10, true),
      windowSize: num(md, 'windowSize', `${path}.model`, 256, 16, 10_000, true),
      scoreFrom: num(md, 'scoreFrom', `${path}.model`, 0.7, 0, 1),
    },
  };
}

/** The cross-tenant counts' knobs checkTracked reads (RiskConfig's crossTenant has them). */
type Tracked = { readonly [k in 'maxTracked' | 'sharedSourceMinBots' | 'herdMinAccounts' | 'herdFullAccounts' | 'herdRefusedMinAccounts']: number };

/**
 * The distinct counts (bots from one source, accounts in a herd, failed secrets, never-used api-ids) stop at
 * crossTenant.maxTracked: a threshold above it could never be reached, its detector silently dead. Refused at start.
 */
export function checkTracked<C extends FlowConfig & { readonly crossTenant: Tracked }>(path: string, c: C): C {
  const { maxTracked: cap, ...ct } = c.crossTenant;
  const counted: [string, number][] = [
    ...(['sharedSourceMinBots', 'herdMinAccounts', 'herdFullAccounts', 'herdRefusedMinAccounts'] as const).map((k): [string, number] => [
      `crossTenant.${k}`,
      ct[k],
    ]),
    ['stuffing.minBots', c.stuffing.minBots],
    ['stuffing.globalMinBots', c.stuffing.globalMinBots],
    ['apiBreadth.minApis', c.apiBreadth.minApis],
  ];
  for (const [knob, n] of counted) {
    if (n > cap)
      throw configError(`${path}.${knob}`, `${n} is above ${path}.crossTenant.maxTracked (${cap}), where the count stops: it could never be reached`);
  }
  return c;
}

/** Dates already of the form YYYY-MM-DD that the calendar has (2026-02-30 matches no day: refused, not ignored). */
export function calendarDates(dates: string[], path: string): string[] {
  dates.forEach((d, i) => {
    const [y, m, day] = d.split('-').map(Number) as [number, number, number];
    const t = new Date(Date.UTC(y, m - 1, day));
    if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== day) throw configError(`${path}[${i}]`, `"${d}" is not a calendar date`);
  });
  return dates;
}
