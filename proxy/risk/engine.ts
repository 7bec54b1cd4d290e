// The risk engine: loads a bot's baseline, reads a few live counters, runs
// every detector and combines them with a weighted noisy-OR, so one strong
// signal can carry the score alone and weak signals add up without exceeding 1.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { toGuardError } from '../common/errors.js';
import type { Store } from '../state/types.js';
import { learnInto, normaliseIp, parseBaseline, symbolOf, notionalOf, type Baseline } from './baseline.js';
import { ABSOLUTE_DETECTORS, compileCidrs, DETECTORS, type RiskConfig } from './config.js';
import { herdAccounts, sourceBots } from './cross-tenant.js';
import { DETECTOR_FUNCTIONS, type LiveCounters } from './detectors.js';
import { counter, histogram } from '../common/metrics.js';
import type { Contribution, RiskAssessment, RiskEngine, RiskInput, RiskLevel, RiskOutcome } from './types.js';

export interface RiskEngineOptions {
  readonly config: RiskConfig;
  readonly store: Store;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Clock for live counters when an input carries no time; tests inject one. */
  readonly now?: () => number;
}

const baselineKey = (botId: string): string => `risk:baseline:${botId}`;
const LIVE_TTL_MS = 150_000;

export function levelFor(score: number, t: RiskConfig['thresholds']): RiskLevel {
  if (score >= t.lockdown) return 'lockdown';
  if (score > t.admin) return 'admin';
  if (score > t.stepUp) return 'step_up';
  if (score >= t.alert) return 'alert';
  return 'none';
}

export function createRiskEngine(opts: RiskEngineOptions): RiskEngine {
  const { config: cfg, store, logger } = opts;
  const clock = opts.now ?? Date.now;
  const cidrsFor = compileCidrs(cfg);
  const scoreHist = histogram(
    opts.registry,
    'kguard_risk_score',
    'Combined risk score per assessed call',
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1],
  );
  const hits = counter(opts.registry, 'kguard_risk_detector_hits_total', 'Calls on which a detector fired', ['detector']);
  const assessSeconds = histogram(
    opts.registry,
    'kguard_risk_assess_seconds',
    'Time to assess one call',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
  );
  // learn() is read-modify-write on one document; serialise it per bot within this process.
  const learning = new Map<string, Promise<void>>();

  async function slidingCount(key: string, nowMs: number, charge: boolean): Promise<number> {
    const minute = Math.floor(nowMs / 60_000);
    const [cur, prev] = await Promise.all([
      charge ? store.incr(`${key}:${minute}`, 1, LIVE_TTL_MS) : store.get(`${key}:${minute}`).then((v) => Number(v ?? 0)),
      store.get(`${key}:${minute - 1}`).then((v) => Number(v ?? 0)),
    ]);
    const elapsed = (nowMs % 60_000) / 60_000;
    return cur + prev * (1 - elapsed);
  }

  async function liveCounters(input: RiskInput, nowMs: number): Promise<Omit<LiveCounters, 'herdAccounts'>> {
    const bot = input.botId;
    const isCancel = input.kind === 'cancel' || input.kind === 'modify';
    const [callsPerMinute, cancelsPerMinute, sources] = await Promise.all([
      slidingCount(`risk:rate:${bot}`, nowMs, true),
      isCancel ? slidingCount(`risk:cxl:${bot}`, nowMs, true) : Promise.resolve(0),
      cfg.weights.shared_source > 0 ? sourceBots(store, cfg, normaliseIp(input.sourceIp), bot, nowMs) : Promise.resolve(0),
    ]);
    let soldDistinct = 0,
      soldNotional = 0;
    if (input.kind === 'order' && input.side === 'sell') {
      const win = Math.floor(nowMs / cfg.pattern.drainWindowMs);
      const ttl = cfg.pattern.drainWindowMs * 2;
      const sym = symbolOf(input.stkCd) ?? '?';
      const fresh = await store.setIfAbsent(`risk:sellsym:${bot}:${win}:${sym}`, '1', ttl);
      [soldDistinct, soldNotional] = await Promise.all([
        fresh ? store.incr(`risk:sellcnt:${bot}:${win}`, 1, ttl) : store.get(`risk:sellcnt:${bot}:${win}`).then((v) => Number(v ?? 0)),
        store.incr(`risk:sellamt:${bot}:${win}`, Math.round(notionalOf(input) ?? 0), ttl),
      ]);
    }
    return { callsPerMinute, cancelsPerMinute, soldDistinct, soldNotional, sourceBots: sources };
  }

  /** Herd counting needs the baseline: only a warm bot's order in a symbol new to it counts (one more round trip, rare). */
  function herdCount(input: RiskInput, baseline: Baseline, nowMs: number): Promise<number> {
    const sym = symbolOf(input.stkCd);
    if (cfg.weights.herd === 0 || input.kind !== 'order' || !input.side || !sym || baseline.calls < cfg.warmupCalls || sym in baseline.symbols) {
      return Promise.resolve(0);
    }
    return herdAccounts(store, cfg, sym, input.side, input.account, nowMs);
  }

  function timeOf(input: RiskInput): number {
    const t = input.now instanceof Date ? input.now.getTime() : input.now;
    return Number.isFinite(t) ? t : clock();
  }

  async function assess(input: RiskInput): Promise<RiskAssessment> {
    const started = process.hrtime.bigint();
    const nowMs = timeOf(input);
    try {
      if (!cfg.enabled) {
        return { score: 0, level: 'none', contributions: [], warmingUp: false, baselineCalls: 0, assessedAt: new Date(nowMs).toISOString() };
      }
      const [json, counted] = await Promise.all([store.get(baselineKey(input.botId)), liveCounters(input, nowMs)]);
      const baseline = parseBaseline(json, nowMs);
      const live: LiveCounters = { ...counted, herdAccounts: await herdCount(input, baseline, nowMs) };
      const ctx = { input, nowMs, baseline, cfg, cidrs: cidrsFor(input.botId), live };
      const warmingUp = baseline.calls < cfg.warmupCalls || nowMs - baseline.firstSeen < cfg.warmupMs;
      const contributions: Contribution[] = [];
      let keepAbsolute = 1,
        keepRelative = 1;
      for (const name of DETECTORS) {
        const weight = cfg.weights[name];
        if (weight === 0) continue;
        const result = DETECTOR_FUNCTIONS[name](ctx);
        if (!result || result.score <= 0) continue;
        const contribution = weight * result.score;
        const absolute = ABSOLUTE_DETECTORS.has(name);
        if (absolute) keepAbsolute *= 1 - contribution;
        else keepRelative *= 1 - contribution;
        const capped = warmingUp && !absolute;
        contributions.push({
          detector: name,
          score: round(result.score),
          weight,
          contribution: round(contribution),
          reason: capped ? `${result.reason} [warming up: at most ${cfg.warmupMaxScore}]` : result.reason,
          ...(capped ? { warmupCapped: true } : {}),
        });
        hits.inc({ detector: name });
      }
      contributions.sort((a, b) => b.contribution - a.contribution);
      const combined = 1 - keepAbsolute * keepRelative;
      // A warming-up bot has no behaviour to deviate from: signals measured against its
      // (empty or young) baseline may raise an alert but never a hold; absolute rules still can.
      const score = round(warmingUp ? Math.max(1 - keepAbsolute, Math.min(combined, cfg.warmupMaxScore)) : combined);
      scoreHist.observe(score);
      return {
        score,
        level: levelFor(score, cfg.thresholds),
        contributions,
        warmingUp,
        baselineCalls: baseline.calls,
        assessedAt: new Date(nowMs).toISOString(),
      };
    } catch (err) {
      // Fail closed: the caller gets a GuardError (KG7001 from the store) and forwards nothing.
      logger.error({ err: toGuardError(err).message, botId: input.botId }, 'risk assessment failed');
      throw toGuardError(err);
    } finally {
      assessSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  async function learnOnce(input: RiskInput): Promise<void> {
    const nowMs = timeOf(input);
    const key = baselineKey(input.botId);
    const baseline = parseBaseline(await store.get(key), nowMs);
    learnInto(baseline, input, nowMs, cfg);
    await store.set(key, JSON.stringify(baseline), cfg.baselineTtlMs);
  }

  async function learn(input: RiskInput, outcome: RiskOutcome): Promise<void> {
    if (!cfg.enabled || !outcome.allowed || !outcome.completed) return;
    const prior = learning.get(input.botId) ?? Promise.resolve();
    const next = prior.then(() => learnOnce(input));
    const tail = next.catch(() => undefined);
    learning.set(input.botId, tail);
    void tail.then(() => {
      if (learning.get(input.botId) === tail) learning.delete(input.botId);
    });
    return next;
  }

  function isHighRisk(a: RiskAssessment): boolean {
    return a.score >= cfg.thresholds.lockdown || a.contributions.some((c) => c.score >= 1 && !c.warmupCapped && cfg.lockdownDetectors.includes(c.detector));
  }

  return {
    assess,
    learn,
    isHighRisk,
    resetBaseline: (botId) => store.del(baselineKey(botId)),
  };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
