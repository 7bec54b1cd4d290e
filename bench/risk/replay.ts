// Replays corpus events through the real risk engine the way the sidecar
// calls it (engine level, not over HTTP): the pipeline's own riskInput()
// builds the input from the event, holdings come from the bot's last balance
// inquiry as in the risk stage, assess() scores, isHighRisk() locks down, a
// score above the policy's step-up holds the call for approval, and learn()
// runs only for calls that went out — exactly the after-stage's rule — and
// hears whether the simulated broker completed them (a modify or cancel of an
// order that is not open in the account — never issued, or already cancelled or replaced — is rejected, and so
// is a sell of more than the account holds: broker-model.ts).
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import { baseCode } from '../../proxy/kiwoom/protocol/index.js';
import { seoulDay } from '../../proxy/common/kst.js';
import { DEFAULT_STEP_UP } from '../../proxy/policy/compile.js';
import {
  createRiskEngine,
  parseRiskConfig,
  type RiskConfig,
  type RiskEngine,
  type RiskAssessment,
  type RiskInput,
  type RiskLevel,
} from '../../proxy/risk/index.js';
import type { Parsed } from '../../proxy/server/pipeline/need.js';
import { riskInput } from '../../proxy/server/pipeline/risk.js';
import { conditionRiskInput, loginRiskInput } from '../../proxy/server/realtime-risk.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import { positionsModel } from './broker-model.js';
import { API, KRX_HOLIDAYS } from './market.js';
import type { Corpus, CorpusEvent } from './types.js';

/** 'refused': a realtime condition search above step-up, refused by the policy's risk rule (a WebSocket message cannot wait for approval). */
export type Outcome = 'forwarded' | 'held-approved' | 'held-refused' | 'refused' | 'lockdown' | 'halted' | 'unknown-api';

export interface CallRecord {
  readonly eventId: number;
  readonly t: number;
  readonly bot: string;
  readonly score: number;
  readonly level: RiskLevel;
  readonly highRisk: boolean;
  readonly outcome: Outcome;
  /** KRW of a new order (qty × price from its body), 0 otherwise. */
  readonly notional: number;
  /** Detectors that fired, highest contribution first. */
  readonly detectors: readonly string[];
}

export interface ReplayOptions {
  /**
   * The human approver of a held call. It is the only place ground truth
   * enters the replay, and it never reaches the engine: it decides after
   * the score whether a held call goes out (and so is learned).
   */
  readonly approve: (ev: CorpusEvent) => boolean;
  /** A locked-down bot stays halted for the rest of the replay (attack runs) or is unlocked at once (false-positive runs). */
  readonly haltOnLockdown: boolean;
  /** Observes every engine input (tests check what the engine sees). */
  readonly onInput?: (input: RiskInput) => void;
  /** Observes every assessment (the bench's shadow-model figures and debugging). */
  readonly onAssess?: (ev: CorpusEvent, a: RiskAssessment) => void;
  readonly config?: RiskConfig;
}

export type EngineVariant = 'rules' | 'current' | 'model';

/** The weights of the rules-only baseline: the per-bot detectors at their weights before issue 17, everything added since off. */
const RULES_ONLY = {
  new_symbol: 0.3,
  cancel_storm: 0.6,
  shared_source: 0,
  herd: 0,
  sell_off: 0,
  order_size: 0,
  account_reads: 0,
  api_breadth: 0,
  condition: 0,
  stuffing: 0,
  sequence: 0,
  model: 0,
  escalation: 0,
};

/**
 * The config the evaluation runs: defaults, with the corpus' KRX holidays configured as an operator would.
 * 'rules' approximates the rules-only baseline of issue 17 (bench/risk/BASELINE.md was measured on the code
 * before it; the detectors changed since — young source, fresh symbol, drain — keep their new shape here, and
 * new_symbol's dormant buys, added since, are off);
 * 'current' is every default; 'model' is the default with the learned model weighted (the enable test).
 */
export function evaluationConfig(variant: EngineVariant = 'current', overrides: Readonly<Record<string, unknown>> = {}): RiskConfig {
  const weights = variant === 'rules' ? RULES_ONLY : variant === 'model' ? { model: 0.75 } : {};
  return parseRiskConfig({
    holidays: [...KRX_HOLIDAYS],
    weights,
    ...(variant === 'model' ? { model: { scoreFrom: 0.2 } } : {}),
    ...(variant === 'rules' ? { dormantBuys: { days: 0 } } : {}),
    ...overrides,
  });
}

/** The record of a call of a bot the replay halted after its lockdown: never sent, never judged. */
export const HALTED = { score: 0, level: 'none', highRisk: false, outcome: 'halted', detectors: [] } as const satisfies Omit<
  CallRecord,
  'eventId' | 't' | 'bot' | 'notional'
>;

export function notionalOfEvent(ev: CorpusEvent): number {
  if (ev.apiId !== API.buy && ev.apiId !== API.sell) return 0;
  const q = Number(ev.body.ord_qty),
    p = Number(ev.body.ord_uv);
  return Number.isFinite(q) && Number.isFinite(p) ? q * p : 0;
}

/** The events' inputs as the pipeline's risk stage builds them (bot record, classified entry, parsed body). */
function inputFor(ev: CorpusEvent, account: string, now: number): RiskInput | undefined {
  const entry = lookupApi(ev.apiId);
  if (!entry) return undefined;
  // Condition searches come over the WebSocket: the realtime endpoint builds their input (realtime-risk.ts).
  if (entry.kind === 'realtime')
    return ev.body.seq === undefined ? undefined : conditionRiskInput({ id: ev.bot, account }, ev.apiId, ev.body.seq, ev.sourceIp, now);
  const ctx = { bot: { id: ev.bot, account }, apiId: ev.apiId, entry, json: { ...ev.body }, sourceIp: ev.sourceIp } as unknown as Parsed;
  return riskInput(ctx, now);
}

export async function replay(corpus: Corpus, events: readonly CorpusEvent[], opts: ReplayOptions): Promise<CallRecord[]> {
  let clock = events[0]?.t ?? 0;
  const store = createMemoryStore({ now: () => clock, maxKeys: 5_000_000 });
  const config = opts.config ?? evaluationConfig();
  const engine: RiskEngine = createRiskEngine({ config, store, registry: new Registry(), logger: pino({ level: 'silent' }), now: () => clock, language: 'en' });
  const accountOf = new Map(corpus.bots.map((b) => [b.id, b.account]));
  // The simulated broker: positions per account (every forwarded order fills), and the holdings
  // baseline the sidecar records from a bot's own balance inquiry (after/holdings.ts).
  const positions = positionsModel(corpus);
  const lastBalance = new Map<string, Map<string, number>>();
  // Open orders per account (the broker's numbers): a modify or cancel of any other — never issued, or already
  // cancelled or replaced — is rejected (return_code != 0), as Kiwoom and the simulator reject it.
  const open = new Map<string, Set<string>>();
  const halted = new Set<string>();
  // Realtime sockets logged in, per bot and source address (the sidecar replay keeps one each): a lockdown closes the bot's.
  const loggedIn = new Set<string>();
  const closeSockets = (bot: string): void => {
    for (const k of loggedIn) if (k.startsWith(`${bot}|`)) loggedIn.delete(k);
  };
  const out: CallRecord[] = [];
  try {
    for (const ev of events) {
      clock = ev.t;
      const account = accountOf.get(ev.bot)!;
      const base = { eventId: ev.id, t: ev.t, bot: ev.bot, notional: notionalOfEvent(ev) };
      if (halted.has(ev.bot)) {
        out.push({ ...base, ...HALTED });
        continue;
      }
      let input = inputFor(ev, account, clock);
      if (!input) {
        out.push({ ...base, score: 0, level: 'none', highRisk: false, outcome: 'unknown-api', detectors: [] });
        continue;
      }
      if (input.kind === 'realtime' && !loggedIn.has(`${ev.bot}|${ev.sourceIp}`)) {
        // The socket's LOGIN is judged first (realtime-risk.ts): above step-up it is refused and the message never goes out.
        const login = await engine.assess(loginRiskInput({ id: ev.bot, account }, ev.sourceIp, clock));
        const highRisk = engine.isHighRisk(login);
        if (highRisk || login.score > DEFAULT_STEP_UP) {
          opts.onAssess?.(ev, login);
          const outcome: Outcome = highRisk ? 'lockdown' : 'refused';
          out.push({ ...base, score: login.score, level: login.level, highRisk, outcome, detectors: login.contributions.map((c) => c.detector) });
          if (highRisk) closeSockets(ev.bot);
          if (highRisk && opts.haltOnLockdown) halted.add(ev.bot);
          continue;
        }
        loggedIn.add(`${ev.bot}|${ev.sourceIp}`);
      }
      if (input.side === 'sell' && input.stkCd) {
        const held = lastBalance.get(account)?.get(baseCode(input.stkCd));
        if (lastBalance.has(account)) input = { ...input, holdingQty: held ?? 0 };
      }
      opts.onInput?.(input);
      const a = await engine.assess(input);
      opts.onAssess?.(ev, a);
      const highRisk = engine.isHighRisk(a);
      let outcome: Outcome = 'forwarded';
      if (highRisk) {
        outcome = 'lockdown';
        closeSockets(ev.bot);
        if (opts.haltOnLockdown) halted.add(ev.bot);
      } else if (a.score > DEFAULT_STEP_UP && input.kind === 'realtime') {
        // A search request is refused by the policy's risk rule; a clear is not judged by the policy (realtime.ts).
        if (input.apiId !== API.conditionClear) outcome = 'refused';
      } else if (a.score > DEFAULT_STEP_UP) outcome = opts.approve(ev) ? 'held-approved' : 'held-refused';
      out.push({ ...base, score: a.score, level: a.level, highRisk, outcome, detectors: a.contributions.map((c) => c.detector) });
      // The approval service tells the engine of a refusal (sidecar.ts: onRefused).
      if (outcome === 'held-refused') {
        const order = input.kind === 'order' && input.side && input.stkCd ? { account, stkCd: input.stkCd, side: input.side } : undefined;
        await engine.noteRefused(ev.bot, clock, order);
      }
      if (outcome !== 'forwarded' && outcome !== 'held-approved') continue;
      // The call went out: the broker acts on it, the holdings baseline follows a balance inquiry, the baseline learns.
      const filled = positions.fill(account, ev);
      if (ev.apiId === API.balance) lastBalance.set(account, new Map(positions.of(account)));
      // A daily chart teaches the sidecar the symbol's volume (after/daily-volume.ts): 20 completed days at its ADV.
      if (ev.apiId === API.daily && ev.body.stk_cd && corpus.dailyVolume[baseCode(ev.body.stk_cd)] !== undefined) {
        const adv = corpus.dailyVolume[baseCode(ev.body.stk_cd)]!;
        const days = Array.from({ length: 20 }, (_, i) => ({ day: seoulDay(clock - (i + 1) * 86_400_000), shares: adv }));
        await engine.noteDailyVolume(ev.body.stk_cd, days, clock);
      }
      const mine = open.get(account) ?? new Set<string>();
      open.set(account, mine);
      if (ev.orderNo && filled) mine.add(ev.orderNo);
      // The corpus' modifies and cancels act on the whole order: a completed one closes it.
      const completed = ev.apiId === API.modify || ev.apiId === API.cancel ? mine.delete(ev.body.orig_ord_no ?? '') : filled;
      await engine.learn(input, { allowed: true, completed, approved: outcome === 'held-approved' });
    }
  } finally {
    await store.close();
  }
  return out;
}
