import type { ApiKind, OrderSide } from '../kiwoom/types.js';
import type { DetectorName } from './config.js';
import type { DailyVolume } from './market-volume.js';

/** What the risk engine sees of one call, before any key is decrypted. */
export interface RiskInput {
  readonly botId: string;
  readonly account: string;
  readonly apiId: string;
  readonly kind: ApiKind;
  readonly side?: OrderSide;
  /** Kiwoom stock code as sent (005930, 005930_NX, ...). */
  readonly stkCd?: string;
  readonly qty?: number;
  readonly price?: number;
  /** KRW; defaults to qty * price when both are known. */
  readonly notional?: number;
  /**
   * Where the price of an order at the market, which sends none, came from: the bot's last balance read or the
   * policy's quote. It moves between a held call and its retry, so a held call's record does not bind it (held.ts).
   */
  readonly pricedBy?: 'holdings' | 'quote';
  readonly sourceIp: string;
  /** Client certificate subject / pod identity, when the listener knows one. */
  readonly clientId?: string;
  readonly now: Date | number;
  /** Optional context the pipeline may know: current position in this symbol. */
  readonly holdingQty?: number;
  /** A realtime registration (REG): the stock codes it registers, each a call about that stock (new_symbol, dormant buys). */
  readonly watched?: readonly string[];
  /** A realtime condition search (CNSRREQ, CNSRCLR): the condition's seq in the account's list. */
  readonly condition?: string;
  /** Average daily traded volume of the symbol, in shares (the engine reads the one learned from daily charts when absent). */
  readonly symbolAdv?: number;
  /**
   * The call names an approval (the approval protocol's retry of a held call). It is scored as
   * usual but not counted again toward escalation: the approval stage lets it through only if an
   * owner approved exactly this call, and refuses it otherwise.
   */
  readonly approvalRetry?: boolean;
  /**
   * Judged, but not counted toward escalation or its follow-up: a realtime LOGIN, which places and reads nothing
   * itself (the messages on its socket are judged and counted on their own).
   */
  readonly uncounted?: boolean;
}

export interface Contribution {
  readonly detector: DetectorName;
  /** Detector's own score in [0,1]. */
  readonly score: number;
  readonly weight: number;
  /** weight * score: what this detector adds to the combined score. */
  readonly contribution: number;
  /** Human-readable, non-secret explanation ("qty 5000 is 14.2 MADs above median 100"). */
  readonly reason: string;
  /** Baseline-relative signal of a warming-up bot: it cannot lift the score past `warmupMaxScore`. */
  readonly warmupCapped?: boolean;
}

export type RiskLevel = 'none' | 'alert' | 'step_up' | 'admin' | 'lockdown';

export interface RiskAssessment {
  /** Noisy-OR of weighted detector scores: 1 - prod(1 - weight * score), in [0,1]. */
  readonly score: number;
  readonly level: RiskLevel;
  /** Detectors that fired (score > 0), highest contribution first. */
  readonly contributions: readonly Contribution[];
  /** True while the bot has fewer learned calls than `warmupCalls` (and calls on fewer than `warmupDays` Seoul days) or a baseline younger than `warmupHours`. */
  readonly warmingUp: boolean;
  readonly baselineCalls: number;
  readonly assessedAt: string;
  /** The learned model's verdict (recorded even in shadow mode, weight 0), with the features that drove it. */
  readonly model?: {
    readonly score: number;
    readonly weight: number;
    readonly top: readonly { readonly feature: string; readonly value: number; readonly share: number }[];
  };
}

export interface RiskOutcome {
  readonly allowed: boolean;
  readonly completed: boolean;
  /**
   * For a balance inquiry: whether it became the holdings sells are judged against (a whole read; a first
   * page of several does not). Only then do the bot's own orders since the read start again from zero.
   * Absent: it did (every inquiry is whole).
   */
  readonly holdingsRecorded?: boolean;
  /**
   * The call went out on a human approval (the approval stage consumed one). Only then does a call that scored
   * above step-up open the approval grace and come off the escalation count: one that went out unheld (a realtime
   * condition clear, which the policy is not asked about; a policy whose step-up threshold is above the engine's)
   * was approved by nobody. Absent: not approved.
   */
  readonly approved?: boolean;
}

/** A refused new order: whose, in what, which way. */
export interface RefusedOrder {
  readonly account: string;
  readonly stkCd: string;
  readonly side: OrderSide;
}

export interface RiskEngine {
  assess(input: RiskInput): Promise<RiskAssessment>;
  /** Updates baselines; ignores calls that were not allowed and completed. */
  learn(input: RiskInput, outcome: RiskOutcome): Promise<void>;
  /** True when the assessment warrants automatic lockdown (score or a lockdown detector). */
  isHighRisk(assessment: RiskAssessment): boolean;
  /**
   * Records a failed bot secret (token exchange) for the cross-tenant stuffing detector. `registered`: the bot id is
   * one the registry knows (its failure is recorded even past crossTenant.maxTracked; a made-up id's is not).
   */
  noteAuthFailure(botId: string, sourceIp: string, now?: number, registered?: boolean): Promise<void>;
  /**
   * Records that a held call of this bot was refused (escalation.refusedAfter); a refused new order also
   * counts, across tenants, toward the herd of its symbol and side (crossTenant.herdRefusedMinAccounts).
   */
  noteRefused(botId: string, now?: number, order?: RefusedOrder): Promise<void>;
  /**
   * Learns a symbol's average daily volume from a daily chart a bot fetched (its completed days), for the
   * drain detector's illiquid-buy check; returns it, or undefined when the chart had too few completed days.
   */
  noteDailyVolume(stkCd: string, days: readonly DailyVolume[], now?: number): Promise<number | undefined>;
  /** False when nothing judges the daily volume (risk off, drain weight 0): a chart need not be read for it. */
  readonly learnsDailyVolume: boolean;
  /** True when an order at the market without a price from the holdings read is priced at a quote (orderSize.quoteMarketOrders). */
  readonly quotesMarketOrders: boolean;
  /**
   * Deletes what the engine keeps for a bot (its removal): the learned baseline, the escalation state (as
   * clearEscalation) and the approval grace, so a bot registered again under the id starts afresh.
   */
  resetBaseline(botId: string): Promise<void>;
  /** Forgets the bot's escalation state (held calls counted, refusals and their orders window): an unlock's fresh start. */
  clearEscalation(botId: string, now?: number): Promise<void>;
}
