// The shape of a validated policy file (what the schema admits).
import type { ApiKind, OrderSide } from '../kiwoom/types.js';
import type { Venue } from '../kiwoom/protocol/index.js';
import type { RuleMode } from './types.js';

export type Scope = 'bot' | 'account' | 'bot-account' | 'global';

export interface Selector {
  bots?: string[];
  accounts?: string[];
  kinds?: ApiKind[];
  apiIds?: string[];
  sides?: OrderSide[];
}

interface RuleBase {
  id: string;
  mode?: RuleMode;
  description?: string;
  message?: string;
  overrides?: string;
  when?: Selector;
}

export type RuleDoc = RuleBase &
  (
    | { type: 'allow-apis' | 'deny-apis'; kinds?: ApiKind[]; apiIds?: string[] }
    | { type: 'allow-symbols' | 'deny-symbols'; symbols: string[] }
    | { type: 'markets'; allow: Venue[] }
    | { type: 'order-size'; maxQuantity?: number; maxNotional?: number }
    | { type: 'price-collar'; maxDeviationPercent: number }
    | { type: 'trade-types'; allow?: string[]; deny?: string[] }
    | { type: 'trading-window'; windows: { days?: string[]; start: string; end: string; markets?: Venue[] }[]; closedOnHolidays?: boolean }
    | { type: 'rate-limit'; scope?: Scope; limits: { max: number; per: string }[] }
    | { type: 'daily-cap'; scope?: Scope; maxOrders?: number; maxBuyNotional?: number; maxSellNotional?: number; maxGrossNotional?: number }
    | { type: 'cancel-ratio'; scope?: Scope; maxCancelsPerOrder: number; minOrders?: number; countModifies?: boolean }
    | { type: 'max-open-orders'; max: number }
    | { type: 'realtime-limits'; maxRegistrations?: number; maxLiveSearches?: number }
    | { type: 'duplicate-guard'; windowSeconds: number }
    | { type: 'trading-state'; state: 'REDUCING' | 'HALTED' }
    | { type: 'require-approval'; outcome?: 'step-up' | 'hold'; minQuantity?: number; minNotional?: number }
  );

export interface PolicyDoc {
  version: 1;
  name?: string;
  description?: string;
  language?: 'ko' | 'en';
  riskThresholds?: { stepUp?: number; approval?: number };
  calendar?: { holidays?: string[] };
  rules: RuleDoc[];
}
