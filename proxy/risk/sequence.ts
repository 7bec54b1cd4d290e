// What led up to an order or an account read: the kind of the bot's previous
// call, how soon before, and whether it named the same stock; or, when none
// came within a minute, how long the bot had paused (a call minutes before did
// not lead to it). A bot's orders follow its own routine (a quote of the name
// two seconds before, the day's balance read and then the rebalance, a
// close-out after a quiet spell), and so do its reads (before the open, after
// a quiet night); one after a lead-in its own never had is a hand other than
// its routine's. Learned per bot and kind from the calls that went out, and
// judged only once the bot seldom shows a new lead-in: new lead-ins seen on
// one day only, over the days it made such calls (Good-Turing), estimate how
// often its next such day brings one.
import { daysBetweenDates, seoulDate } from '../common/kst.js';
import { seoulParts } from '../kiwoom/protocol/index.js';
import type { Store } from '../state/types.js';
import { sessionAt } from './calendar.js';
import { symbolOf, warmedUp, type Baseline } from './baseline.js';
import type { RiskConfig } from './config.js';
import type { Detector } from './detectors.js';
import type { RiskInput } from './types.js';

/** The lead-ins learned per bot: at most this many (kinds x gaps x same/other/none is far fewer). */
const MAX_LEADS = 256;
/** The previous call is kept a day: one older than that is a pause past the last bound, like before a bot's first call. */
const PREVIOUS_TTL_MS = 86_400_000;
/** Appended to the previous call once it went out (an account read or an order): only such a call is followed up. */
const WENT_OUT = 'out';

/** The lead-ins of one kind of call (orders, or account reads) learned per bot. */
export interface LeadSet {
  /** Seoul days with a learned call of the kind, and the last of them. */
  days: number;
  day: string;
  /** Per lead-in key: [calls, Seoul days it led one, the last of those days]. */
  leads: Record<string, [number, number, string]>;
}

/** The orders' lead-ins at the top (as first stored), the account reads' under `reads`. */
export interface SequenceBaseline extends LeadSet {
  /** The gap bounds the lead-ins were learned with (boundsOf): other bounds make other lead-ins, learned afresh. */
  bounds?: string;
  reads?: LeadSet;
}

/** The kinds of call judged by their lead-in. */
export type LeadKind = 'order' | 'account';
const isLeadKind = (kind: string, cfg: RiskConfig['sequence']): kind is LeadKind => (cfg.kinds as readonly string[]).includes(kind);

/** The lead-ins learned for calls of `kind` (created empty when `create`). */
function leadSet(s: SequenceBaseline, kind: LeadKind, create: true): LeadSet;
function leadSet(s: SequenceBaseline, kind: LeadKind, create?: false): LeadSet | undefined;
function leadSet(s: SequenceBaseline, kind: LeadKind, create = false): LeadSet | undefined {
  if (kind === 'order') return s;
  if (create) s.reads ??= { days: 0, day: '', leads: {} };
  return s.reads;
}

/** A lead-in, as its key says it: the previous call's kind ('idle': none within the lead bounds), seconds bound, same stock. */
export interface Lead {
  readonly kind: string;
  /** The gap bound in seconds it fell under; undefined: a pause of at least the last idle bound. */
  readonly within: number | undefined;
  /** The bound below it (0 for the first; the last idle bound for a longer pause): the gap was at least this. */
  readonly from?: number;
  /** Both calls named a stock: whether the same one; undefined when either named none, and for a pause. */
  readonly same: boolean | undefined;
}

export const previousKey = (botId: string): string => `risk:prev:${botId}`;

const BOUNDS = new WeakMap<RiskConfig['sequence'], string>();

/** The gap bounds as learned lead-ins record them (an operator's change of them starts the learning again); once per config. */
export function boundsOf(c: RiskConfig['sequence']): string {
  const known = BOUNDS.get(c);
  if (known !== undefined) return known;
  const b = `${c.leadSeconds.join(',')}/${c.idleSeconds.join(',')}`;
  BOUNDS.set(c, b);
  return b;
}

export function leadKey(lead: Lead): string {
  return `${lead.kind}|${lead.within ?? '-'}|${lead.same === undefined ? '-' : lead.same ? 'same' : 'other'}`;
}

/** A lead-in from its key, with the bound below its gap when `bounds` are given (for its reason). */
export function parseLead(key: string, bounds?: RiskConfig['sequence']): Lead {
  const [kind = 'idle', w = '-', same = '-'] = key.split('|');
  const within = w === '-' ? undefined : Number(w);
  const lead = { kind, within, same: same === '-' ? undefined : same === 'same' };
  if (!bounds) return lead;
  const all = kind === 'idle' ? [...bounds.leadSeconds.slice(-1), ...bounds.idleSeconds] : [0, ...bounds.leadSeconds];
  const at = within === undefined ? all.length : all.indexOf(within);
  return { ...lead, from: all[at - 1] ?? 0 };
}

/** The lead-in of `input` after the call stored as `previous` ("kind|ms|symbol[|out]"; null: none within a day). */
export function leadOf(previous: string | null, input: RiskInput, nowMs: number, bounds: RiskConfig['sequence']): string {
  const [kind = '', at = '0', prevSym = ''] = previous?.split('|') ?? [];
  const gap = previous === null ? Infinity : Math.max(0, nowMs - Number(at)) / 1000;
  const led = bounds.leadSeconds.find((s) => gap < s);
  if (led === undefined) return leadKey({ kind: 'idle', within: bounds.idleSeconds.find((s) => gap < s), same: undefined });
  const sym = symbolOf(input.stkCd);
  return leadKey({ kind, within: led, same: prevSym && sym ? prevSym === sym : undefined });
}

/**
 * Swaps the bot's previous call for this one in the Store (every replica sees the same one; one round trip), returning
 * this call's lead-in when it is of a kind judged by it (risk.sequence.kinds). A held call sent again on its approval
 * is that call: neither read nor recorded, and judged without a lead-in (it was judged when first sent; held.ts keeps
 * its lead-in to be learned). Nor are a token exchange and a realtime LOGIN, which a client's plumbing makes (a
 * reconnect), not its routine.
 */
export async function previousCall(store: Store, cfg: RiskConfig, input: RiskInput, nowMs: number): Promise<string | undefined> {
  if (cfg.weights.sequence === 0 || input.approvalRetry || input.uncounted || input.kind === 'auth') return undefined;
  const previous = await store.swap(previousKey(input.botId), `${input.kind}|${nowMs}|${symbolOf(input.stkCd) ?? ''}`, PREVIOUS_TTL_MS);
  if (!isLeadKind(input.kind, cfg.sequence) || (input.kind === 'account' && !judgedRead(previous, nowMs, cfg))) return undefined;
  return leadOf(previous, input, nowMs, cfg.sequence);
}

/**
 * An account read has a lead-in of its own only inside a trading session (a weekend review is its owner's, and a
 * night read the time detector's), and only when it starts something: one within the last lead bound after a read
 * or an order that went out follows that call up (a restart's balance, then its open orders; an order, then the
 * balance). A held call did not go out, nor has one still in flight: a read right after either is judged (a held
 * read sent again at once, or two sent together, is not the first's follow-up).
 */
function judgedRead(previous: string | null, nowMs: number, cfg: RiskConfig): boolean {
  const [kind = '', at = '0', , out] = previous?.split('|') ?? [];
  const followsUp = (kind === 'account' || kind === 'order') && out === WENT_OUT;
  if (followsUp && nowMs - Number(at) < 1000 * cfg.sequence.leadSeconds.at(-1)!) return false;
  return sessionAt(cfg, nowMs).open;
}

/**
 * Marks the bot's previous call as gone out, when it is still this one (an account read or an order that completed):
 * the call a read right after it follows up (judgedRead). One round trip, after the call; only where reads are judged.
 */
export async function markWentOut(store: Store, cfg: RiskConfig, input: RiskInput, nowMs: number): Promise<void> {
  if (cfg.weights.sequence === 0 || !isLeadKind('account', cfg.sequence) || input.approvalRetry || input.uncounted) return;
  if (input.kind !== 'account' && input.kind !== 'order') return;
  const mine = `${input.kind}|${nowMs}|${symbolOf(input.stkCd) ?? ''}`;
  await store.setIfUnchanged(previousKey(input.botId), mine, `${mine}|${WENT_OUT}`, PREVIOUS_TTL_MS);
}

/**
 * Folds the lead-in of a call that went out (an order or an account read) into the baseline (mutates). Lead-ins
 * learned with other gap bounds are dropped: none of their keys would match a lead-in now, so every call would look new.
 */
export function learnLead(b: Baseline, kind: string, lead: string, nowMs: number, bounds: string): void {
  if (kind !== 'order' && kind !== 'account') return;
  const day = seoulParts(nowMs).date;
  if (b.sequence?.bounds !== bounds) b.sequence = { bounds, days: 0, day: '', leads: {} };
  const s = leadSet(b.sequence, kind, true);
  if (s.day !== day) {
    s.days += 1;
    s.day = day;
  }
  const seen = s.leads[lead];
  if (seen) {
    seen[0] += 1;
    if (seen[2] !== day) {
      seen[1] += 1;
      seen[2] = day;
    }
  } else if (Object.keys(s.leads).length < MAX_LEADS) s.leads[lead] = [1, 1, day];
}

/** How often a day this bot made such calls brings a lead-in it never had: lead-ins seen on one day only, plus one, over those days plus one. */
export function newLeadRate(s: LeadSet): number {
  let once = 0;
  for (const l of Object.values(s.leads)) if (l[1] === 1) once += 1;
  return (once + 1) / (s.days + 1);
}

/**
 * An order after a lead-in none of the bot's learned orders had, once it has `minOrders` of them over `minDays`
 * order-days and seldom shows a new one (at most `maxNewRate` per order-day): an order placed by a hand that
 * does not follow the bot's routine (an insider in the bot's hours and names, a liquidation after a balance read).
 * The same for an account read (`minReads` of them): a bot that reads its balance before the open, after a quiet
 * night, now reads it amid its session's quotes (a hand looking at what there is to sell). A lead-in seen on one
 * day only stops being routine `oneOffDays` after it: a one-off (an intruder's in the unjudged first days, or
 * one call approved) does not pass for good.
 */
export const sequence: Detector = (ctx) => {
  const { input, baseline: b, cfg, live } = ctx;
  const { minOrders, minReads, minDays, maxNewRate, oneOffDays } = cfg.sequence;
  if (live.lead === undefined || !b.sequence || b.sequence.bounds !== boundsOf(cfg.sequence) || !isLeadKind(input.kind, cfg.sequence)) return undefined;
  const s = leadSet(b.sequence, input.kind);
  if (!s || !warmedUp(b, cfg) || s.days < minDays) return undefined;
  const seen = s.leads[live.lead];
  // A one-off's age: routine while it is at most oneOffDays. A routine call (most are) stops here, before the counts.
  const daysAgo = seen?.[1] === 1 && oneOffDays > 0 ? daysBetweenDates(seen[2], seoulDate(ctx.nowMs)) : undefined;
  if (seen !== undefined && (daysAgo === undefined || daysAgo <= oneOffDays)) return undefined;
  const leads = Object.entries(s.leads);
  const calls = leads.reduce((n, [, l]) => n + l[0], 0);
  if (calls < (input.kind === 'order' ? minOrders : minReads)) return undefined;
  const rate = newLeadRate(s);
  if (rate > maxNewRate) return undefined;
  const usual = leads
    .sort((x, y) => y[1][0] - x[1][0])
    .slice(0, 2)
    .map(([k, l]) => ({ lead: parseLead(k, cfg.sequence), pct: Math.round((100 * l[0]) / calls) }));
  const lead = parseLead(live.lead, cfg.sequence);
  const once = daysAgo !== undefined ? { daysAgo, oneOffDays } : undefined;
  return { score: 1, reason: ctx.say.sequence({ kind: input.kind, lead, calls, days: s.days, rate, max: maxNewRate, usual, ...(once ? { once } : {}) }) };
};
