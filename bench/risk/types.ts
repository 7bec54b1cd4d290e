// The corpus model. What the sidecar would see of a call (CorpusEvent) is kept
// apart from what the evaluation knows about it (Label): the replay builds the
// engine's input from a CorpusEvent alone.
import type { Body, Day, Stock } from './market.js';

/** One call as the sidecar sees it: time, bot, source address, api-id, body. Nothing else. */
export interface CorpusEvent {
  readonly id: number;
  /** Epoch ms. */
  readonly t: number;
  readonly bot: string;
  readonly sourceIp: string;
  readonly apiId: string;
  readonly body: Body;
  /**
   * A new order's number as the broker answers it (the sidecar reads ord_no from the response,
   * server/pipeline/after/outcome.ts). The replay's simulated broker issues it when the order goes out,
   * and rejects a modify or cancel of a number it never issued to the account.
   */
  readonly orderNo?: string;
}

export interface BotInfo {
  readonly id: string;
  readonly account: string;
}

export const FAMILIES = [
  'stolen_token_night',
  'liquidate',
  'pump_thin',
  'low_and_slow',
  'scraping',
  'cancel_storm',
  'api_probing',
  'insider',
  // Last, so the scenarios drawn before it keep their ids and their random streams.
  'condition_tamper',
] as const;
export type Family = (typeof FAMILIES)[number];

export const PROFILES = ['scalper', 'swing', 'rebalancer', 'dca', 'screener', 'mover'] as const;
export type Profile = (typeof PROFILES)[number];

/** One attack instance: its events interleave with its victims' normal traffic. */
export interface Scenario {
  readonly id: string;
  readonly victims: readonly string[];
  readonly events: readonly CorpusEvent[];
}

/** What the replay and the engine may see. */
export interface Corpus {
  readonly seed: number;
  readonly days: readonly Day[];
  readonly bots: readonly BotInfo[];
  /** The simulated broker's opening positions per account (code → qty). */
  readonly openingHoldings: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** What the simulated broker's daily chart (ka10081) reports as each code's daily volume. */
  readonly dailyVolume: Readonly<Record<string, number>>;
  /** Every bot's own traffic, in time order (attack scenarios are planted into it at replay). */
  readonly traffic: readonly CorpusEvent[];
  readonly scenarios: readonly Scenario[];
}

export type Label =
  | { readonly class: 'normal'; readonly profile: Profile; readonly note?: string }
  | { readonly class: 'attack'; readonly family: Family; readonly variant: string; readonly scenario: string };

/** Ground truth, kept out of the replay's engine path. */
export interface Labels {
  readonly events: ReadonlyMap<number, Label>;
  readonly botProfiles: ReadonlyMap<string, Profile>;
  readonly scenarios: ReadonlyMap<string, { readonly family: Family; readonly variant: string; readonly victims: readonly string[]; readonly start: number }>;
}

/** An event before it gets its corpus-wide id. */
export type Draft = Omit<CorpusEvent, 'id'> & { readonly note?: string };

/** What a normal profile generator leaves for the attack generators to aim at. */
export interface BotTrace {
  readonly bot: BotInfo;
  readonly profile: Profile;
  readonly events: Draft[];
  readonly opening: Record<string, number>;
  /** Positions at the end of each calendar day (index as in Corpus.days). */
  readonly positions: Record<string, number>[];
  /** The bot's source address on each calendar day. */
  readonly ipOn: (dayIndex: number) => string;
  readonly symbols: readonly string[];
  /** Typical order quantity. */
  readonly typicalQty: number;
  /** Usual active minutes after Seoul midnight [from, to). */
  readonly hours: readonly [number, number];
}

export interface MarketView {
  readonly days: readonly Day[];
  readonly liquid: readonly Stock[];
  readonly thin: readonly Stock[];
  readonly all: readonly Stock[];
  readonly priceOf: (code: string) => number;
}
