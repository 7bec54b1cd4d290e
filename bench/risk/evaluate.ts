// The figures: replays normal traffic alone (false positives) and every
// attack scenario inside its victims' traffic (detection), then measures per
// family and overall. Labels are read here, after the engine has scored.
import { seoulDate } from '../../proxy/kiwoom/protocol/index.js';
import { DEFAULT_STEP_UP } from '../../proxy/policy/compile.js';
import { type CallRecord, type EngineVariant, evaluationConfig, type ReplayOptions, replay as replayEngine } from './replay.js';
import { type Corpus, type CorpusEvent, FAMILIES, type Family, type Labels } from './types.js';
import type { RiskAssessment, RiskInput } from '../../proxy/risk/index.js';

export interface ThresholdFigures {
  readonly threshold: number;
  readonly detected: number;
  readonly scenarios: number;
  readonly detectionRate: number;
  /** Over detected scenarios: median calls (1 = the first attack call) and seconds from the first attack call. */
  readonly medianCallsToDetect: number | null;
  readonly medianSecondsToDetect: number | null;
  /** KRW of attack orders that went out before detection (all of them when undetected): median and max over scenarios. */
  readonly medianKrwMoved: number;
  readonly maxKrwMoved: number;
  /** Scenarios stopped before 1,000,000 KRW moved (the goal, at the lockdown threshold). */
  readonly stoppedUnder1M: number;
}

export interface FamilyFigures {
  readonly family: Family | 'overall';
  readonly stepUp: ThresholdFigures;
  readonly lockdown: ThresholdFigures;
}

export interface ScenarioResult {
  readonly id: string;
  readonly family: Family;
  readonly variant: string;
  readonly victims: readonly string[];
  readonly attackCalls: number;
  readonly attackKrw: number;
  readonly maxScore: number;
  readonly firstStepUp: { calls: number; seconds: number; krwMoved: number } | null;
  readonly firstLockdown: { calls: number; seconds: number; krwMoved: number } | null;
  readonly krwMovedTotal: number;
  readonly topDetectors: readonly string[];
  /** The highest score among the attack calls made before 1,000,000 KRW had moved: a lockdown threshold at or below it stops the scenario in time. */
  readonly scoreBefore1M: number;
}

/**
 * What stopping a scenario before 1,000,000 KRW moved would have cost, to first order (the same scores): the
 * lockdown threshold it needed, and the normal calls at or above it (each one a lockdown of a bot at work).
 */
export interface MissCost {
  readonly id: string;
  readonly family: Family;
  readonly variant: string;
  readonly krwMoved: number;
  readonly neededThreshold: number;
  readonly normalCallsAtOrAbove: number;
  readonly perBotWeek: number;
}

export interface NormalFigures {
  readonly calls: number;
  readonly botDays: number;
  readonly stepUps: number;
  readonly admin: number;
  readonly lockdowns: number;
  readonly stepUpsPer10k: number;
  readonly lockdownsPer10k: number;
  readonly stepUpsPerBotDay: number;
  /** Step-ups per bot-week (bot-days / 7), and the most any one bot had in one Seoul week (Mon-Sun). */
  readonly stepUpsPerBotWeek: number;
  readonly maxStepUpsInOneBotWeek: number;
  readonly byProfile: Record<string, { calls: number; botDays: number; stepUps: number; lockdowns: number }>;
  readonly detectorsOnStepUps: Record<string, number>;
  /** Each normal call held (the first STEP_UP_LIST_MAX): what a security engineer reviews to tune a detector. */
  readonly stepUpCalls: readonly NormalStepUp[];
}

export interface NormalStepUp {
  readonly t: number;
  readonly bot: string;
  readonly profile: string;
  readonly apiId: string;
  readonly symbol?: string;
  readonly score: number;
  /** The detectors behind the score, largest contribution first, with their reasons (English). */
  readonly because: ReadonlyArray<{ readonly detector: string; readonly contribution: number; readonly reason: string }>;
}

/** Normal step-ups listed in the results (a run has 10 to 20; a broken detector would have thousands). */
const STEP_UP_LIST_MAX = 200;

export interface SweepPoint {
  readonly threshold: number;
  readonly normalPer10k: number;
  readonly detection: Record<Family, number>;
}

export interface Results {
  readonly engine: EngineVariant;
  readonly seed: number;
  readonly thresholds: { readonly stepUp: number; readonly lockdown: number };
  readonly corpus: {
    readonly days: number;
    readonly tradingDays: number;
    readonly bots: number;
    readonly normalCalls: number;
    readonly scenarios: number;
    readonly attackCalls: number;
  };
  readonly normal: NormalFigures;
  readonly families: readonly FamilyFigures[];
  readonly scenarios: readonly ScenarioResult[];
  readonly sweep: readonly SweepPoint[];
  /** The learned model in shadow: its scores on normal calls and attack calls (scored whatever its weight). */
  readonly model: ModelFigures;
  /** Scenarios not stopped before 1,000,000 KRW at lockdown, and what stopping them would have cost. */
  readonly misses: readonly MissCost[];
}

export interface ModelFigures {
  readonly weight: number;
  readonly normalScored: number;
  readonly normalP999: number;
  readonly normalMax: number;
  /** Scenarios with an attack call scoring above every normal call (the model's detections at zero false positives). */
  readonly scenariosAboveNormalMax: number;
  /** Of those, scenarios the rules did not catch at lockdown: what the model would add. */
  readonly addedOverLockdown: number;
  readonly addedOverStepUp: number;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const moved = (r: CallRecord): number => (r.outcome === 'forwarded' || r.outcome === 'held-approved' ? r.notional : 0);

function firstCatch(records: readonly CallRecord[], caught: (r: CallRecord) => boolean): ScenarioResult['firstStepUp'] {
  const i = records.findIndex(caught);
  if (i < 0) return null;
  const krwMoved = records.slice(0, i).reduce((a, r) => a + moved(r), 0);
  return { calls: i + 1, seconds: (records[i]!.t - records[0]!.t) / 1000, krwMoved };
}

function figures(results: readonly ScenarioResult[], threshold: number, key: 'firstStepUp' | 'firstLockdown'): ThresholdFigures {
  const hits = results.filter((r) => r[key] !== null);
  const krw = results.map((r) => r[key]?.krwMoved ?? r.krwMovedTotal);
  return {
    threshold,
    detected: hits.length,
    scenarios: results.length,
    detectionRate: results.length === 0 ? 0 : hits.length / results.length,
    medianCallsToDetect: median(hits.map((r) => r[key]!.calls)),
    medianSecondsToDetect: median(hits.map((r) => r[key]!.seconds)),
    medianKrwMoved: median(krw) ?? 0,
    maxKrwMoved: Math.max(0, ...krw),
    stoppedUnder1M: results.filter((r) => r[key] !== null && r[key]!.krwMoved < 1_000_000).length,
  };
}

export interface EvaluateOptions {
  /** Sees every input the engine is given (the test checks no label leaks into it). */
  readonly onInput?: (input: RiskInput) => void;
  readonly log?: (line: string) => void;
  readonly engine?: EngineVariant;
  /** risk.* settings over the variant's (an owner's alternative, e.g. `{ orderSize: { envelopeFactor: 1.01 } }`). */
  readonly riskConfig?: Readonly<Record<string, unknown>>;
  /** Skip the normal-traffic replay (scenario figures only, while iterating). */
  readonly skipNormal?: boolean;
  /** Observes every assessment of the scenario replays. */
  readonly onAssess?: ReplayOptions['onAssess'];
  /** How events are replayed: the engine directly (default, replay.ts) or through the real sidecar (sidecar-replay.ts). */
  readonly replayer?: Replayer;
}

export type Replayer = (corpus: Corpus, events: readonly CorpusEvent[], opts: ReplayOptions) => Promise<CallRecord[]>;

export async function evaluate(corpus: Corpus, labels: Labels, opts: EvaluateOptions = {}): Promise<Results> {
  const cfg = evaluationConfig(opts.engine, opts.riskConfig);
  // The policy holds above its stepUp (policy/compile DEFAULT_STEP_UP); the engine locks down at its lockdown threshold.
  const stepUp = DEFAULT_STEP_UP;
  const lockdown = cfg.thresholds.lockdown;
  const isNormal = (ev: CorpusEvent): boolean => labels.events.get(ev.id)?.class === 'normal';
  const common = { ...(opts.onInput ? { onInput: opts.onInput } : {}), config: cfg };

  // 1. Normal traffic alone: every held call is the owner's own and approved; a lockdown is unlocked at once.
  const normalModel: number[] = [];
  const stepUpCalls: NormalStepUp[] = [];
  const replay = opts.replayer ?? replayEngine;
  const normalRecords = await replay(corpus, opts.skipNormal ? [] : corpus.traffic, {
    approve: () => true,
    haltOnLockdown: false,
    ...common,
    onAssess: (ev, a) => {
      if (a.model) normalModel.push(a.model.score);
      if (a.score > stepUp && stepUpCalls.length < STEP_UP_LIST_MAX) stepUpCalls.push(normalStepUp(ev, a, labels));
    },
  });
  opts.log?.(`normal replay: ${normalRecords.length} calls`);

  // 2. Each scenario inside its victims' traffic; the approver refuses held attack calls; a lockdown halts the bot.
  const scenarios: ScenarioResult[] = [];
  const attackModel = new Map<string, number>();
  for (const s of corpus.scenarios) {
    const truth = labels.scenarios.get(s.id)!;
    const victims = new Set(s.victims);
    const end = Math.max(...s.events.map((e) => e.t)) + 10 * 60_000;
    const stream = [...corpus.traffic.filter((e) => victims.has(e.bot) && e.t <= end), ...s.events].sort((a, b) => a.t - b.t || a.id - b.id);
    const attackIds = new Set(s.events.map((e) => e.id));
    const records = await replay(corpus, stream, {
      approve: isNormal,
      haltOnLockdown: true,
      ...common,
      onAssess: (ev, a) => {
        opts.onAssess?.(ev, a);
        if (a.model && attackIds.has(ev.id)) attackModel.set(s.id, Math.max(attackModel.get(s.id) ?? 0, a.model.score));
      },
    });
    const attack = records.filter((r) => attackIds.has(r.eventId));
    const det: Record<string, number> = {};
    for (const r of attack) for (const d of r.detectors) det[d] = (det[d] ?? 0) + 1;
    scenarios.push({
      id: s.id,
      family: truth.family,
      variant: truth.variant,
      victims: s.victims,
      attackCalls: attack.length,
      attackKrw: attack.reduce((a, r) => a + r.notional, 0),
      maxScore: Math.max(0, ...attack.map((r) => r.score)),
      // A call the bot makes after its lockdown is refused whichever call (attack or its own, escalated) locked it.
      firstStepUp: firstCatch(attack, (r) => r.highRisk || r.outcome === 'halted' || r.score > stepUp),
      firstLockdown: firstCatch(attack, (r) => r.highRisk || r.outcome === 'halted'),
      krwMovedTotal: attack.reduce((a, r) => a + moved(r), 0),
      scoreBefore1M: scoreBefore(attack, 1_000_000),
      topDetectors: Object.entries(det)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([d]) => d),
    });
    opts.log?.(`${s.id} ${truth.family}/${truth.variant}: ${records.length} calls replayed, max score ${scenarios.at(-1)!.maxScore}`);
  }

  const families: FamilyFigures[] = [...FAMILIES, 'overall' as const].map((family) => {
    const rs = family === 'overall' ? scenarios : scenarios.filter((r) => r.family === family);
    return { family, stepUp: figures(rs, stepUp, 'firstStepUp'), lockdown: figures(rs, lockdown, 'firstLockdown') };
  });

  return {
    engine: opts.engine ?? 'current',
    seed: corpus.seed,
    thresholds: { stepUp, lockdown },
    corpus: {
      days: corpus.days.length,
      tradingDays: corpus.days.filter((d) => d.trading).length,
      bots: corpus.bots.length,
      normalCalls: corpus.traffic.length,
      scenarios: corpus.scenarios.length,
      attackCalls: corpus.scenarios.reduce((a, s) => a + s.events.length, 0),
    },
    normal: normalFigures(normalRecords, labels, stepUp, stepUpCalls),
    families,
    scenarios,
    sweep: sweep(normalRecords, scenarios),
    model: modelFigures(cfg.weights.model, normalModel, attackModel, scenarios),
    misses: missCosts(normalRecords, scenarios),
  };
}

function scoreBefore(attack: readonly CallRecord[], krw: number): number {
  let movedSoFar = 0,
    best = 0;
  for (const r of attack) {
    if (movedSoFar >= krw) break;
    best = Math.max(best, r.score);
    movedSoFar += moved(r);
  }
  return best;
}

function missCosts(normal: readonly CallRecord[], scenarios: readonly ScenarioResult[]): MissCost[] {
  const botDays = new Set(normal.map((r) => `${r.bot}|${seoulDate(r.t)}`)).size;
  return scenarios
    .filter((s) => !(s.firstLockdown && s.firstLockdown.krwMoved < 1_000_000))
    .map((s) => {
      const at = normal.filter((r) => r.score >= s.scoreBefore1M).length;
      return {
        id: s.id,
        family: s.family,
        variant: s.variant,
        krwMoved: s.firstLockdown?.krwMoved ?? s.krwMovedTotal,
        neededThreshold: s.scoreBefore1M,
        normalCallsAtOrAbove: at,
        perBotWeek: (7 * at) / Math.max(1, botDays),
      };
    });
}

function modelFigures(weight: number, normal: number[], attack: ReadonlyMap<string, number>, scenarios: readonly ScenarioResult[]): ModelFigures {
  const sorted = [...normal].sort((a, b) => a - b);
  const max = sorted.at(-1) ?? 0;
  const above = scenarios.filter((s) => (attack.get(s.id) ?? 0) > max);
  return {
    weight,
    normalScored: sorted.length,
    normalP999: sorted[Math.floor(0.999 * (sorted.length - 1))] ?? 0,
    normalMax: max,
    scenariosAboveNormalMax: above.length,
    addedOverLockdown: above.filter((s) => s.firstLockdown === null).length,
    addedOverStepUp: above.filter((s) => s.firstStepUp === null).length,
  };
}

function normalStepUp(ev: CorpusEvent, a: RiskAssessment, labels: Labels): NormalStepUp {
  const because = [...a.contributions]
    .sort((x, y) => y.contribution - x.contribution)
    .map((c) => ({ detector: c.detector, contribution: Math.round(c.contribution * 100) / 100, reason: c.reason }));
  return {
    t: ev.t,
    bot: ev.bot,
    profile: labels.botProfiles.get(ev.bot) ?? '?',
    apiId: ev.apiId,
    ...(ev.body.stk_cd ? { symbol: ev.body.stk_cd } : {}),
    score: Math.round(a.score * 100) / 100,
    because,
  };
}

function normalFigures(records: readonly CallRecord[], labels: Labels, stepUp: number, stepUpCalls: readonly NormalStepUp[]): NormalFigures {
  const botDays = new Set<string>();
  const byProfile: NormalFigures['byProfile'] = {};
  const detectorsOnStepUps: Record<string, number> = {};
  let stepUps = 0,
    admin = 0,
    lockdowns = 0;
  const dayKeys = new Map<string, Set<string>>();
  for (const r of records) {
    const profile = labels.botProfiles.get(r.bot)!;
    const p = byProfile[profile] ?? { calls: 0, botDays: 0, stepUps: 0, lockdowns: 0 };
    byProfile[profile] = p;
    p.calls++;
    const key = `${r.bot}|${seoulDate(r.t)}`;
    botDays.add(key);
    const set = dayKeys.get(profile) ?? new Set<string>();
    set.add(key);
    dayKeys.set(profile, set);
    if (r.highRisk) {
      lockdowns++;
      p.lockdowns++;
    }
    if (r.highRisk || r.score > stepUp) {
      stepUps++;
      p.stepUps++;
      for (const d of r.detectors) detectorsOnStepUps[d] = (detectorsOnStepUps[d] ?? 0) + 1;
    }
    if (r.level === 'admin' || r.level === 'lockdown') admin++;
  }
  for (const [profile, set] of dayKeys) byProfile[profile]!.botDays = set.size;
  const n = records.length || 1;
  // Seoul weeks start on Monday: bucket by the Monday's date.
  const weekOf = (t: number): string => {
    const d = new Date(`${seoulDate(t)}T00:00:00Z`);
    return new Date(d.getTime() - ((d.getUTCDay() + 6) % 7) * 86_400_000).toISOString().slice(0, 10);
  };
  const perBotWeek = new Map<string, number>();
  for (const r of records) if (r.highRisk || r.score > stepUp) perBotWeek.set(`${r.bot}|${weekOf(r.t)}`, (perBotWeek.get(`${r.bot}|${weekOf(r.t)}`) ?? 0) + 1);
  return {
    calls: records.length,
    botDays: botDays.size,
    stepUps,
    admin,
    lockdowns,
    stepUpsPer10k: (stepUps / n) * 10_000,
    lockdownsPer10k: (lockdowns / n) * 10_000,
    stepUpsPerBotDay: stepUps / Math.max(1, botDays.size),
    stepUpsPerBotWeek: (7 * stepUps) / Math.max(1, botDays.size),
    maxStepUpsInOneBotWeek: Math.max(0, ...perBotWeek.values()),
    byProfile,
    detectorsOnStepUps,
    stepUpCalls,
  };
}

function sweep(normal: readonly CallRecord[], scenarios: readonly ScenarioResult[]): SweepPoint[] {
  const out: SweepPoint[] = [];
  const scores = normal.map((r) => r.score);
  for (let i = 0; i <= 50; i++) {
    const thr = i / 50;
    const detection = Object.fromEntries(
      FAMILIES.map((f) => {
        const rs = scenarios.filter((s) => s.family === f);
        return [f, rs.length === 0 ? 0 : rs.filter((s) => s.maxScore >= thr && s.maxScore > 0).length / rs.length];
      }),
    ) as Record<Family, number>;
    out.push({ threshold: thr, normalPer10k: (scores.filter((s) => s >= thr && s > 0).length / Math.max(1, scores.length)) * 10_000, detection });
  }
  return out;
}
