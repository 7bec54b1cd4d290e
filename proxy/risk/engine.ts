// The risk engine: loads a bot's baseline, reads a few live counters, runs
// every detector and combines them with a weighted noisy-OR, so one strong
// signal can carry the score alone and weak signals add up without exceeding 1.
// Calls that keep scoring above step-up escalate to lockdown (sustained risk).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { GuardError, type Language, toGuardError } from '../common/errors.js';
import { counter, histogram } from '../common/metrics.js';
import type { Store } from '../state/types.js';
import { type Baseline, emptyBaseline, learnInto, normaliseIp, symbolOf, warmedUp } from './baseline.js';
import { baselineJson, readBaseline } from './baseline-json.js';
import { cidrMatcher } from '../common/cidr.js';
import { ABSOLUTE_DETECTORS, compileCidrs, DETECTORS, type DetectorName, type RiskConfig } from './config.js';
import { herdAccounts, noteRefusedOrder } from './cross-tenant.js';
import { DETECTOR_FUNCTIONS, type LiveCounters } from './detectors.js';
import {
  clearEscalation,
  features,
  hotCalls,
  liveCounters,
  newApis,
  newConditions,
  noteAuthFailure,
  noteRefused,
  noteRejectedCancel,
  refusedCalls,
  sellsToday,
} from './live.js';
import { createForest, modelState } from './model.js';
import { graceFor, graceKey, openGrace } from './grace.js';
import { advOf, noteDailyVolume } from './market-volume.js';
import { REASONS } from './reasons.js';
import { boundsOf, learnLead, markWentOut, previousKey } from './sequence.js';
import { noteHeld, takeHeld } from './held.js';
import type { Contribution, RiskAssessment, RiskEngine, RiskInput, RiskLevel, RiskOutcome } from './types.js';

export interface RiskEngineOptions {
  readonly config: RiskConfig;
  readonly store: Store;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Clock for live counters when an input carries no time; tests inject one. */
  readonly now?: () => number;
  /** The language of the reasons (config `language`; Korean by default). */
  readonly language?: Language;
}

const baselineKey = (botId: string): string => `risk:baseline:${botId}`;
/** Set while a call above step-up of this bot is not approved (escalation.followMs). */
const followKey = (botId: string): string => `risk:follow:${botId}`;
/** Writes of one learned call tried while other replicas keep changing the bot's baseline (each a read and a write). */
const LEARN_ATTEMPTS = 8;

/** The detectors behind a score, each once, in the contributions' order (escalation can add a follow-up and a count to one call). */
export function detectorsOf(contributions: readonly Contribution[]): DetectorName[] {
  return [...new Set(contributions.map((c) => c.detector))];
}

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
  const say = REASONS[opts.language ?? 'ko'];
  const cidrsFor = compileCidrs(cfg);
  const isBotHost = cidrMatcher(cfg.crossTenant.botHostCidrs);
  const forest = createForest(cfg.model);
  const scoreHist = histogram(
    opts.registry,
    'kguard_risk_score',
    'Combined risk score per assessed call',
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1],
  );
  const hits = counter(opts.registry, 'kguard_risk_detector_hits_total', 'Calls on which a detector fired', ['detector']);
  // At 0 from start, so that an alert sees a detector's first hit (KiwoomGuardDisallowedSource on `cidr`).
  for (const detector of DETECTORS) hits.inc({ detector }, 0);
  const unreadable = counter(
    opts.registry,
    'kguard_risk_baseline_unreadable_total',
    'Stored bot baselines that could not be read (judged as none, replaced by the next learned call)',
  );
  const learnConflicts = counter(
    opts.registry,
    'kguard_risk_learn_conflicts_total',
    "Baseline writes found another replica's learning since their read (learned again from it)",
  );
  const assessSeconds = histogram(
    opts.registry,
    'kguard_risk_assess_seconds',
    'Time to assess one call',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
  );
  // learn() is read-modify-write on one document; serialise it per bot within this process.
  const learning = new Map<string, Promise<void>>();
  const parsed = new Map<string, { json: string; baseline: Baseline }>();
  // The model's features and the order's lead-in of an assessed call, for learn() of the same input object.
  const assessed = new WeakMap<RiskInput, { x: number[] | undefined; lead: string | undefined }>();
  // The escalation bucket a call above step-up was counted in (learn() takes an approved one off).
  const hotKeys = new WeakMap<RiskInput, string>();
  // The detectors that flagged a call above step-up (an approved one opens the approval grace).
  const heldBy = new WeakMap<RiskInput, string[]>();

  function baselineOf(botId: string, json: string | null, nowMs: number): Baseline {
    const hit = parsed.get(botId);
    if (json !== null && hit && hit.json === json) return hit.baseline;
    const b = parseStored(botId, json, nowMs);
    if (json !== null) remember(botId, json, b);
    return b;
  }

  /** The stored baseline; one that cannot be read is judged as none (as a missing one), said once per document. */
  function parseStored(botId: string, json: string | null, nowMs: number): Baseline {
    if (json === null) return emptyBaseline(nowMs);
    const b = readBaseline(json);
    if (b) return b;
    unreadable.inc();
    logger.error({ botId, bytes: json.length }, 'risk baseline unreadable: judged as none, replaced by the next learned call');
    return emptyBaseline(nowMs);
  }

  function remember(botId: string, json: string, baseline: Baseline): void {
    // Kept per bot while the stored text is unchanged, at most risk.baselineCacheBots (the Store stays the truth).
    parsed.delete(botId);
    if (cfg.baselineCacheBots === 0) return;
    parsed.set(botId, { json, baseline });
    if (parsed.size > cfg.baselineCacheBots) parsed.delete(parsed.keys().next().value!);
  }

  /** Herd counting needs the baseline: only a warm bot's order in a symbol it never ordered counts (one more round trip, rare). */
  function herdCount(input: RiskInput, baseline: Baseline, nowMs: number): Promise<number> {
    const sym = symbolOf(input.stkCd);
    const traded = baseline.traded ?? baseline.symbols;
    if (cfg.weights.herd === 0 || input.kind !== 'order' || !input.side || !sym || !warmedUp(baseline, cfg) || sym in traded) {
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
      const [json, counted, symbolAdv] = await Promise.all([
        store.get(baselineKey(input.botId)),
        liveCounters(store, cfg, input, nowMs, isBotHost),
        advOf(store, cfg, input),
      ]);
      const baseline = baselineOf(input.botId, json, nowMs);
      const [herd, fresh, conditions, sells] = await Promise.all([
        herdCount(input, baseline, nowMs),
        newApis(store, cfg, input, baseline, nowMs),
        newConditions(store, cfg, input, baseline, nowMs),
        sellsToday(store, cfg, input, baseline, nowMs),
      ]);
      const live: LiveCounters = {
        ...counted,
        herdAccounts: herd,
        newApis: fresh,
        newConditions: conditions,
        closesToday: sells.closes,
        partsToday: sells.parts,
      };
      const x = cfg.model.enabled ? features(input, baseline, live, nowMs) : undefined;
      assessed.set(input, { x, lead: live.lead });
      const verdict = x && forest.score(modelState(baseline.model, cfg.model), x);
      // The detectors see the symbol's learned daily volume; the input itself stays the key of the per-call maps.
      const judged = symbolAdv === input.symbolAdv ? input : { ...input, symbolAdv };
      const warmingUp = !warmedUp(baseline, cfg) || nowMs - baseline.firstSeen < cfg.warmupMs;
      const ctx = { input: judged, nowMs, baseline, cfg, cidrs: cidrsFor(input.botId), live, model: verdict, say, warmingUp };
      const contributions: Contribution[] = [];
      let keepAbsolute = 1,
        keepRelative = 1;
      const add = (name: (typeof DETECTORS)[number], score: number, reason: string): void => {
        const weight = cfg.weights[name];
        const contribution = weight * score;
        const absolute = ABSOLUTE_DETECTORS.has(name);
        if (absolute) keepAbsolute *= 1 - contribution;
        else keepRelative *= 1 - contribution;
        const capped = warmingUp && !absolute;
        contributions.push({
          detector: name,
          score: round(score),
          weight,
          contribution: round(contribution),
          reason: capped ? say.warmupCap(reason, cfg.warmupMaxScore) : reason,
          ...(capped ? { warmupCapped: true } : {}),
        });
        hits.inc({ detector: name });
      };
      for (const name of DETECTORS) {
        // The model is always scored (shadow mode at weight 0: recorded, adds nothing).
        if (cfg.weights[name] === 0 && name !== 'model') continue;
        const result = DETECTOR_FUNCTIONS[name](ctx);
        if (!result || result.score <= 0) continue;
        add(name, result.score, result.reason);
      }
      // The owner refused one of this bot's held calls lately (it was not theirs): whatever moves money now locks it down.
      // (The key's TTL bounds it in the Store; the times bound it for a clock that is not the Store's.)
      const afterRefusal = live.refusedAt !== undefined && nowMs >= live.refusedAt && nowMs - live.refusedAt < cfg.escalation.refusedOrdersMs;
      if (afterRefusal) add('escalation', 1, say.afterRefusal(Math.round((nowMs - live.refusedAt!) / 60_000), cfg.escalation.refusedOrdersMs / 3_600_000));
      const combine = (): number => {
        const combined = 1 - keepAbsolute * keepRelative;
        // A warming-up bot has no behaviour to deviate from: signals measured against its
        // (empty or young) baseline may raise an alert but never a hold; absolute rules still can.
        return round(warmingUp ? Math.max(1 - keepAbsolute, Math.min(combined, cfg.warmupMaxScore)) : combined);
      };
      let score = combine();
      if (score > cfg.thresholds.stepUp && score <= cfg.thresholds.admin && cfg.approvalGrace.windowMs > 0 && !input.approvalRetry) {
        const grace = await graceFor(store, cfg, input, contributions, nowMs);
        if (grace) {
          // Nothing new since the owner's approval: an alert, not another hold (and not counted toward escalation).
          score = Math.min(score, cfg.thresholds.stepUp);
          for (const [i, c] of contributions.entries()) contributions[i] = { ...c, reason: say.graced(c.reason, grace) };
        }
      }
      const follow = cfg.escalation.followMs > 0 && cfg.weights.escalation > 0 && !input.approvalRetry && !input.uncounted;
      if (follow && score >= cfg.thresholds.alert && score <= cfg.thresholds.stepUp) {
        const since = await store.get(followKey(input.botId));
        // The windows end by this engine's clock, not by their keys' lives in a Store that may keep another.
        if (since !== null && nowMs - Number(since) < cfg.escalation.followMs) {
          // The owner has not approved the bot's last held call: what raises an alert now waits for them too.
          const mins = Math.round((nowMs - Number(since)) / 60_000);
          add('escalation', cfg.escalation.followScore, say.followUp(mins, cfg.escalation.followMs / 60_000));
          score = combine();
        }
      }
      if (score > cfg.thresholds.stepUp) heldBy.set(input, detectorsOf(contributions));
      if (follow && score > cfg.thresholds.stepUp) await store.set(followKey(input.botId), String(nowMs), cfg.escalation.followMs);
      if (cfg.weights.escalation > 0 && score > cfg.thresholds.stepUp && !input.approvalRetry && !input.uncounted) {
        const { after, refusedAfter, windowMs } = cfg.escalation;
        const [{ count: n, key }, refused] = await Promise.all([
          hotCalls(store, cfg, input.botId, nowMs),
          refusedAfter > 0 ? refusedCalls(store, cfg, input.botId, nowMs) : Promise.resolve(0),
        ]);
        hotKeys.set(input, key);
        const hours = windowMs / 3_600_000;
        // Counted either way; added once (an order after a refusal already scored escalation 1).
        if (!afterRefusal && n >= after) {
          add('escalation', 1, say.escalationHot(n, cfg.thresholds.stepUp, hours, after));
          score = combine();
        } else if (!afterRefusal && refusedAfter > 0 && refused >= refusedAfter) {
          add('escalation', 1, say.escalationRefused(refused, cfg.thresholds.stepUp, hours, refusedAfter));
          score = combine();
        }
      }
      if (score > cfg.thresholds.stepUp && !input.approvalRetry) {
        const held = { detectors: heldBy.get(input)!, ...(hotKeys.has(input) ? { hotKey: hotKeys.get(input) } : {}), lead: live.lead };
        await noteHeld(store, input, held, cfg.escalation.windowMs);
      }
      contributions.sort((a, b) => b.contribution - a.contribution);
      scoreHist.observe(score);
      return {
        score,
        level: levelFor(score, cfg.thresholds),
        contributions,
        warmingUp,
        baselineCalls: baseline.calls,
        assessedAt: new Date(nowMs).toISOString(),
        ...(verdict ? { model: { score: verdict.score, weight: cfg.weights.model, top: verdict.top } } : {}),
      };
    } catch (err) {
      // Fail closed: the caller gets a GuardError (KG7001 from the store) and forwards nothing.
      logger.error({ err: toGuardError(err).message, botId: input.botId }, 'risk assessment failed');
      throw toGuardError(err);
    } finally {
      assessSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /**
   * Learns one call into the bot's baseline: read, learn, write back unless another replica wrote it meanwhile
   * (then read what it wrote and learn into that), so two replicas learning one bot at once lose neither's calls.
   * The first write goes without a read when this process holds the text it last read or wrote (assess() read it for
   * this very call): a document of 13 KB or more need not cross the wire twice; one another replica changed since is
   * refused by the compare-and-set and read then.
   */
  async function learnOnce(input: RiskInput, holdingsRecorded: boolean, heldLead: string | undefined): Promise<void> {
    const nowMs = timeOf(input);
    const key = baselineKey(input.botId);
    const { x, lead = heldLead } = assessed.get(input) ?? {};
    const write = async (json: string | null): Promise<boolean> => {
      // The stored text unchanged since this process parsed it: learn into that object, sparing a parse of the whole
      // document and a decode of the model per call. learnInto runs in one turn, so assess() never reads it
      // half-learned; a write that fails or is refused forgets it.
      const hit = parsed.get(input.botId);
      const baseline = json !== null && hit?.json === json ? hit.baseline : parseStored(input.botId, json, nowMs);
      learnInto(baseline, input, nowMs, cfg, holdingsRecorded);
      if (lead !== undefined) learnLead(baseline, input.kind, lead, nowMs, boundsOf(cfg.sequence));
      if (x) baseline.model = forest.learn(modelState(baseline.model, cfg.model), x);
      else if (!cfg.model.enabled) baseline.model = undefined;
      const next = baselineJson(baseline);
      let written = false;
      try {
        written = await store.setIfUnchanged(key, json, next, cfg.baselineTtlMs);
      } finally {
        if (written) remember(input.botId, next, baseline);
        else parsed.delete(input.botId);
      }
      return written;
    };
    const known = parsed.get(input.botId);
    if (known && (await write(known.json))) return;
    for (let attempt = 1; ; attempt++) {
      if (await write(await store.get(key))) return;
      // Another replica learned this bot since the read: what was learned here is dropped with the parse.
      learnConflicts.inc();
      if (attempt >= LEARN_ATTEMPTS) throw new GuardError('KG7001', `risk baseline of ${input.botId} kept changing under ${LEARN_ATTEMPTS} writes`);
      // Replicas learning in step would meet again at once: a random pause, longer each time, parts them.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 ** attempt));
    }
  }

  async function learn(input: RiskInput, outcome: RiskOutcome): Promise<void> {
    if (!cfg.enabled || !outcome.allowed) return;
    if (!outcome.completed) {
      // Not learned; a cancel or modify the broker refused is counted for cancel_storm (the order was not there).
      if ((input.kind === 'cancel' || input.kind === 'modify') && cfg.weights.cancel_storm > 0) await noteRejectedCancel(store, input.botId, timeOf(input));
      return;
    }
    // Only an approval clears what a call above step-up counted toward escalation: one that went out unheld (a
    // condition clear, a looser policy threshold) was approved by nobody, and stays counted with its follow-up.
    // An approved retry of a call held in `pending` mode is that call: what it counted and what held it (held.ts).
    const retried = input.approvalRetry && outcome.approved === true ? await takeHeld(store, input) : undefined;
    const hot = hotKeys.get(input) ?? retried?.hotKey;
    hotKeys.delete(input);
    if (hot && outcome.approved === true) await store.incr(hot, -1, cfg.escalation.windowMs);
    const approved = heldBy.get(input) ?? retried?.detectors;
    if (approved && outcome.approved === true && cfg.escalation.followMs > 0) await store.del(followKey(input.botId));
    if (approved && outcome.approved === true && cfg.approvalGrace.windowMs > 0) {
      // A held call went out on its owner's approval: open the grace for what flagged it. A call above step-up that
      // went out unheld (a condition clear, a looser policy threshold) was approved by nobody and opens none.
      heldBy.delete(input);
      const grace = openGrace(input, timeOf(input), normaliseIp(input.sourceIp), approved);
      await store.set(graceKey(input.botId), JSON.stringify(grace), cfg.approvalGrace.windowMs);
    }
    await markWentOut(store, cfg, input, timeOf(input));
    const prior = learning.get(input.botId) ?? Promise.resolve();
    const next = prior.then(() => learnOnce(input, outcome.holdingsRecorded ?? true, retried?.lead));
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
    noteAuthFailure: (botId, sourceIp, now, registered = false) => noteAuthFailure(store, cfg, botId, sourceIp, now ?? clock(), registered),
    noteRefused: async (botId, now, order) => {
      if (!cfg.enabled) return;
      const at = now ?? clock();
      const sym = symbolOf(order?.stkCd);
      await Promise.all([
        // noteRefused writes only what refusedAfter and refusedOrdersMs use.
        cfg.weights.escalation > 0 ? noteRefused(store, cfg, botId, at) : undefined,
        order && sym && cfg.weights.herd > 0 ? noteRefusedOrder(store, cfg, sym, order.side, order.account, at) : undefined,
      ]);
    },
    noteDailyVolume: (stkCd, days, now) => noteDailyVolume(store, cfg, stkCd, days, now ?? clock()),
    learnsDailyVolume: cfg.enabled && cfg.weights.drain > 0,
    quotesMarketOrders: cfg.enabled && cfg.orderSize.quoteMarketOrders,
    clearEscalation: (botId, now) => clearEscalation(store, cfg, botId, followKey(botId), now ?? clock()),
    resetBaseline: async (botId) => {
      parsed.delete(botId);
      // All of it: a bot registered again under this id must not inherit the old one's refusal (its first order
      // locked down), escalation count, follow-up, approval grace or last call (an order's lead-in).
      const keys = [baselineKey(botId), graceKey(botId), previousKey(botId)];
      await Promise.all([...keys.map((k) => store.del(k)), clearEscalation(store, cfg, botId, followKey(botId), clock())]);
    },
  };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
