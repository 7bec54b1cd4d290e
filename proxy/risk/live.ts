// Live counters the detectors read, kept in the Store so every replica
// counts the same: calls and cancels per minute, the current drain window,
// account inquiries today, never-used api-ids within the hour, the
// cross-tenant source and stuffing counts, the sustained-risk (escalation)
// count, and the bot's previous call (an order's or read's lead-in, sequence.ts). Each
// call reads a bounded, fixed set of keys: nothing grows with history.
import { seoulParts } from '../kiwoom/protocol/index.js';
import type { Store } from '../state/types.js';
import { type Baseline, CONDITION_REQUESTS, isTradingKind, normaliseIp, notionalOf, soldFraction, symbolOf, warmedUp } from './baseline.js';
import type { RiskConfig } from './config.js';
import { distinct, refusedAccountsKey, sourceBots, windowDistinct } from './cross-tenant.js';
import type { LiveCounters } from './detectors.js';
import { FEATURES } from './model.js';
import { previousCall } from './sequence.js';
import type { RiskInput } from './types.js';

const LIVE_TTL_MS = 150_000;
const DAY_MS = 86_400_000;

export async function slidingCount(store: Store, key: string, nowMs: number, charge: boolean): Promise<number> {
  const minute = Math.floor(nowMs / 60_000);
  const [cur, prev] = await Promise.all([
    charge ? store.incr(`${key}:${minute}`, 1, LIVE_TTL_MS) : store.get(`${key}:${minute}`).then((v) => Number(v ?? 0)),
    store.get(`${key}:${minute - 1}`).then((v) => Number(v ?? 0)),
  ]);
  const elapsed = (nowMs % 60_000) / 60_000;
  return cur + prev * (1 - elapsed);
}

async function drainCounts(store: Store, cfg: RiskConfig, input: RiskInput, nowMs: number): Promise<[number, number]> {
  if (input.kind !== 'order' || input.side !== 'sell') return [0, 0];
  const bot = input.botId;
  const win = Math.floor(nowMs / cfg.pattern.drainWindowMs);
  const ttl = cfg.pattern.drainWindowMs * 2;
  const sym = symbolOf(input.stkCd) ?? '?';
  const fresh = await store.setIfAbsent(`risk:sellsym:${bot}:${win}:${sym}`, '1', ttl);
  const [n, amt] = await Promise.all([
    fresh ? store.incr(`risk:sellcnt:${bot}:${win}`, 1, ttl) : store.get(`risk:sellcnt:${bot}:${win}`).then((v) => Number(v ?? 0)),
    store.incr(`risk:sellamt:${bot}:${win}`, Math.round(notionalOf(input) ?? 0), ttl),
  ]);
  return [n, amt];
}

/** Per-bot counters that need the baseline (a never-used api-id) come from `liveWithBaseline`; herd is the engine's. */
export async function liveCounters(
  store: Store,
  cfg: RiskConfig,
  input: RiskInput,
  nowMs: number,
  isBotHost: (ip: string) => boolean,
): Promise<Omit<LiveCounters, 'herdAccounts' | 'newApis' | 'newConditions' | 'closesToday' | 'partsToday' | 'hotCalls'>> {
  const bot = input.botId;
  const isCancel = input.kind === 'cancel' || input.kind === 'modify';
  const ip = normaliseIp(input.sourceIp);
  const sw = Math.floor(nowMs / cfg.stuffing.windowMs);
  const sym = symbolOf(input.stkCd);
  const order = input.kind === 'order' && input.side !== undefined && sym !== undefined && cfg.weights.herd > 0;
  const movesMoney = isTradingKind(input.kind) && cfg.escalation.refusedOrdersMs > 0 && cfg.weights.escalation > 0;
  const [callsPerMinute, cancelsPerMinute, cancelsRejected, sources, readsToday, stuff, [soldDistinct, soldNotional], refused, refusedAt, lead] =
    await Promise.all([
      slidingCount(store, `risk:rate:${bot}`, nowMs, true),
      isCancel ? slidingCount(store, `risk:cxl:${bot}`, nowMs, true) : Promise.resolve(0),
      isCancel ? slidingCount(store, rejectedKey(bot), nowMs, false) : Promise.resolve(0),
      cfg.weights.shared_source > 0 && !isBotHost(ip) ? sourceBots(store, cfg, ip, bot, nowMs) : Promise.resolve(0),
      input.kind === 'account' && cfg.weights.account_reads > 0 ? store.incr(`risk:reads:${bot}:${seoulParts(nowMs).date}`, 1, 2 * DAY_MS) : Promise.resolve(0),
      cfg.weights.stuffing > 0
        ? store.mget([`risk:xfail:src:${ip}:${sw}:n`, `risk:xfail:all:${sw}:n`, `risk:xfail:all:${sw}:m:${bot}`])
        : Promise.resolve([null, null, null]),
      drainCounts(store, cfg, input, nowMs),
      order ? store.get(refusedAccountsKey(cfg, sym!, input.side!, nowMs)) : Promise.resolve(null),
      movesMoney && !input.approvalRetry ? store.get(refusedAtKey(bot)) : Promise.resolve(null),
      previousCall(store, cfg, input, nowMs),
    ]);
  return {
    ...(lead !== undefined ? { lead } : {}),
    ...(refusedAt !== null && Number.isFinite(Number(refusedAt)) ? { refusedAt: Number(refusedAt) } : {}),
    refusedAccounts: Number(refused ?? 0),
    callsPerMinute,
    cancelsPerMinute,
    cancelsRejected,
    soldDistinct,
    soldNotional,
    sourceBots: sources,
    readsToday,
    stuffingSource: Number(stuff[0] ?? 0),
    stuffingGlobal: Number(stuff[1] ?? 0),
    stuffingThisBot: stuff[2] !== null,
  };
}

const rejectedKey = (bot: string): string => `risk:cxlrej:${bot}`;

/** Counts a cancel or modify the broker rejected (learn() of a call that went out and did not complete), per minute. */
export async function noteRejectedCancel(store: Store, botId: string, nowMs: number): Promise<void> {
  await store.incr(`${rejectedKey(botId)}:${Math.floor(nowMs / 60_000)}`, 1, LIVE_TTL_MS);
}

/**
 * Distinct condition searches this bot never ran, requested within the last one to two api-breadth windows (0 when this one is known
 * or the bot runs none: nothing is read).
 */
export function newConditions(store: Store, cfg: RiskConfig, input: RiskInput, baseline: Baseline, nowMs: number): Promise<number> {
  const seq = input.condition;
  const known = baseline.conditions ?? {};
  if (cfg.weights.condition === 0 || seq === undefined || !CONDITION_REQUESTS.has(input.apiId) || seq in known || Object.keys(known).length === 0) {
    return Promise.resolve(0);
  }
  return windowDistinct(store, `risk:newcond:${input.botId}`, seq, cfg.apiBreadth.windowMs, nowMs, cfg.crossTenant.maxTracked);
}

/**
 * This Seoul day's sells of a known position, this one included, by kind: of the whole of it (drainHoldingFraction
 * or more, as sell_off knows the position) or of a part. Only this call's kind is counted and read; 0 for the other
 * and for any other call (nothing is read). Counted when judged, so held and refused sells count too, once each.
 */
export async function sellsToday(
  store: Store,
  cfg: RiskConfig,
  input: RiskInput,
  baseline: Baseline,
  nowMs: number,
): Promise<{ closes: number; parts: number }> {
  const p = cfg.pattern;
  const none = { closes: 0, parts: 0 };
  if (cfg.weights.drain === 0 || input.kind !== 'order' || input.side !== 'sell') return none;
  const fraction = soldFraction(baseline, input, cfg.sellOff.minHoldingQty);
  if (fraction === undefined) return none;
  const whole = fraction >= p.drainHoldingFraction;
  if ((whole ? p.drainDayCloses : p.drainDayParts) === 0) return none;
  const key = `risk:${whole ? 'closes' : 'parts'}:${input.botId}:${seoulParts(nowMs).date}`;
  // The approval protocol's retry of a held sell is that sell, counted when it was held.
  const n = input.approvalRetry ? Number((await store.get(key)) ?? 0) : await store.incr(key, 1, 2 * DAY_MS);
  return whole ? { closes: n, parts: 0 } : { closes: 0, parts: n };
}

/** Distinct never-used api-ids this bot called within the last one to two windows (0 when this one is known: nothing is read). */
export function newApis(store: Store, cfg: RiskConfig, input: RiskInput, baseline: Baseline, nowMs: number): Promise<number> {
  if (cfg.weights.api_breadth === 0 || input.kind === 'auth' || !warmedUp(baseline, cfg) || input.apiId in baseline.apis) return Promise.resolve(0);
  return windowDistinct(store, `risk:newapi:${input.botId}`, input.apiId, cfg.apiBreadth.windowMs, nowMs, cfg.crossTenant.maxTracked);
}

/**
 * Sustained risk: counts this call when it scored above step-up, and returns
 * how many such calls the bot made within the escalation window (day buckets,
 * one round trip; only on calls above step-up, which are rare). A held call
 * the owner approves is taken off again when it is learned (learn() runs only
 * for calls that went out): only refused, pending or unheld calls escalate.
 */
export async function hotCalls(store: Store, cfg: RiskConfig, botId: string, nowMs: number): Promise<{ count: number; key: string }> {
  return windowCount(store, cfg, `risk:hot:${botId}`, nowMs, 1);
}

const refusedAtKey = (bot: string): string => `risk:refusedat:${bot}`;

/** Records a held call of this bot its owner (or an approver) refused: what refusedAfter counts, and when (refusedOrdersMs). */
export async function noteRefused(store: Store, cfg: RiskConfig, botId: string, nowMs: number): Promise<void> {
  await Promise.all([
    cfg.escalation.refusedAfter > 0 ? windowCount(store, cfg, `risk:refused:${botId}`, nowMs, 1) : undefined,
    cfg.escalation.refusedOrdersMs > 0 ? store.set(refusedAtKey(botId), String(nowMs), cfg.escalation.refusedOrdersMs) : undefined,
  ]);
}

/** Held calls of this bot refused within the escalation window (read on calls above step-up only). */
export async function refusedCalls(store: Store, cfg: RiskConfig, botId: string, nowMs: number): Promise<number> {
  return (await windowCount(store, cfg, `risk:refused:${botId}`, nowMs, 0)).count;
}

/**
 * Forgets this bot's escalation: held calls counted, refusals, the refusal's orders window and the unapproved hold
 * being followed. For an unlock after a recovery: the bot starts again, and its first order is not the one the
 * refusal before the lockdown still locks down.
 */
export async function clearEscalation(store: Store, cfg: RiskConfig, botId: string, followKey: string, nowMs: number): Promise<void> {
  const buckets = (prefix: string) => windowKeys(cfg, prefix, nowMs);
  await Promise.all([...buckets(`risk:hot:${botId}`), ...buckets(`risk:refused:${botId}`), refusedAtKey(botId), followKey].map((k) => store.del(k)));
}

/** The escalation window's day buckets of `prefix`, the current one first. */
function windowKeys(cfg: RiskConfig, prefix: string, nowMs: number): string[] {
  const bucketMs = Math.min(DAY_MS, cfg.escalation.windowMs);
  const cur = Math.floor(nowMs / bucketMs);
  return Array.from({ length: Math.max(1, Math.ceil(cfg.escalation.windowMs / bucketMs)) }, (_, i) => `${prefix}:${cur - i}`);
}

/** Adds `by` to this day's bucket of `prefix` and sums the buckets of the escalation window (one round trip). */
async function windowCount(store: Store, cfg: RiskConfig, prefix: string, nowMs: number, by: number): Promise<{ count: number; key: string }> {
  const [key, ...older] = windowKeys(cfg, prefix, nowMs) as [string, ...string[]];
  const sum = (vs: readonly (string | null)[]): number => vs.reduce((a: number, v) => a + Number(v ?? 0), 0);
  // Reading only: every bucket in one MGET.
  if (by === 0) return { count: sum(await store.mget([key, ...older])), key };
  const { windowMs } = cfg.escalation;
  const [mine, rest] = await Promise.all([
    store.incr(key, by, windowMs + Math.min(DAY_MS, windowMs)),
    older.length > 0 ? store.mget(older) : Promise.resolve([]),
  ]);
  return { count: mine + sum(rest), key };
}

/**
 * Records a failed bot secret for the stuffing detector (bounded cardinality: maxTracked members per window). A
 * registered bot is marked as failed in the wave past the cap too (the registry bounds them): a wave wider than the
 * cap must still flag the bot whose secret it then guesses, whichever it tried first.
 */
export async function noteAuthFailure(store: Store, cfg: RiskConfig, botId: string, sourceIp: string, nowMs: number, registered: boolean): Promise<void> {
  if (cfg.weights.stuffing === 0) return;
  const w = cfg.stuffing.windowMs;
  const win = Math.floor(nowMs / w);
  const ip = normaliseIp(sourceIp);
  await Promise.all([
    distinct(store, `risk:xfail:src:${ip}:${win}`, botId, 2 * w, cfg.crossTenant.maxTracked),
    distinct(store, `risk:xfail:all:${win}`, botId, 2 * w, cfg.crossTenant.maxTracked, registered),
  ]);
}

/** The model's feature vector, each in [0,1] (FEATURES order). */
export function features(input: RiskInput, b: Baseline, live: LiveCounters, nowMs: number): number[] {
  const st = seoulParts(nowMs);
  const kinds = ['order', 'modify', 'cancel', 'query', 'account'];
  const k = kinds.indexOf(input.kind);
  const sym = symbolOf(input.stkCd);
  const frac = input.side === 'sell' && input.holdingQty && input.holdingQty > 0 && input.qty ? Math.min(1.5, input.qty / input.holdingQty) / 1.5 : 0;
  const x = [
    (st.hour + st.minute / 60) / 24,
    st.weekday / 6,
    (k < 0 ? 5 : k) / 5,
    input.side === 'buy' ? 0.25 : input.side === 'sell' ? 0.75 : 0.5,
    Math.min(1, Math.log10((input.qty ?? 0) + 1) / 6),
    Math.min(1, Math.log10((notionalOf(input) ?? 0) + 1) / 10),
    frac,
    Math.min(1, Math.log10(1 + live.callsPerMinute) / 3),
    Math.min(1, Math.log10(1 + live.readsToday) / 3),
    b.calls > 0 && !(input.apiId in b.apis) ? 1 : 0,
    !sym ? 0 : !(sym in b.symbols) ? 1 : b.fresh && sym in b.fresh ? 0.5 : 0,
    b.calls > 0 && !(normaliseIp(input.sourceIp) in b.sources) ? 1 : 0,
  ];
  if (x.length !== FEATURES.length) throw new Error('model features out of step with FEATURES');
  return x;
}
