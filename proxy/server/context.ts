// The request context every pipeline stage reads and extends. A stage either
// returns (next stage runs), sets `reply` (the pipeline stops and answers), or
// throws a GuardError (the pipeline stops and answers with a Kiwoom-shaped error).
// Stages read what earlier stages set through the narrowing views in
// pipeline/need.ts, never through `!`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiEntry } from '../kiwoom/types.js';
import type { BotRecord, SessionClaims } from '../auth/index.js';
import type { TrResponse } from '../kiwoom/client.js';
import type { CallOutcome, Decision } from '../policy/types.js';
import type { PendingDecision, PrefetchedTradingState } from '../policy/engine.js';
import type { MarketSnapshot, OrderTerms } from '../policy/compiled.js';
import type { RiskInput } from '../risk/index.js';
import type { GuardError } from '../common/errors.js';

export type Route = 'token' | 'revoke' | 'tr';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RiskView {
  score: number;
  level?: string;
  /** Each detector that fired: its own score, its weight and what it added (weight x score), with the reason. */
  contributions: readonly { detector: string; score: number; weight: number; contribution?: number; reason: string }[];
  /** The learned model's verdict and the features that drove it (recorded in shadow mode too). */
  model?: { score: number; weight: number; top: readonly { feature: string; value: number; share: number }[] };
}

export interface RequestContext {
  readonly id: string;
  readonly startedAt: number;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Aborted when the bot disconnects or the request deadline passes. */
  readonly signal: AbortSignal;
  readonly route: Route;
  readonly sourceIp: string;
  body: Buffer;
  json?: Record<string, unknown>;
  claims?: SessionClaims;
  bot?: BotRecord;
  /** The store's verdict on the session, started by authenticate, awaited by the session stage. */
  liveCheck?: Promise<void>;
  /** Reads started together with the session check (prefetch stage). */
  prefetched?: {
    tradingState: PrefetchedTradingState;
    lockdown: Promise<void>;
    /** engine.originalOrder: the order a modify or cancel names, when the policy selects by side. */
    original: Promise<OrderTerms | null | undefined>;
  };
  /** What the risk engine judged, kept for learning after the call. */
  riskInput?: RiskInput;
  apiId?: string;
  entry?: ApiEntry;
  contYn?: string;
  nextKey?: string;
  /** The bot marked a deliberate duplicate order (x-kguard-intentional: 1). */
  intentional: boolean;
  /** Approval id the bot retries with after a pending-approval error. */
  approvalId?: string;
  /** The call is the retry of one this bot's approval holds (same call hash): judged, not counted again (its daily caps aside). */
  approvalRetry?: boolean;
  /** The call goes out on a human approval the approval stage consumed (the risk engine's grace opens only then). */
  approved?: boolean;
  /** That approval and who gave it, for the call's outcome record (the order's own record names its approvers). */
  approval?: { readonly id: string; readonly approvers: readonly string[] };
  risk?: RiskView;
  /** The policy's plan while it still needs market data or counters (policy → market-data → decide → limits). */
  pendingDecision?: PendingDecision;
  /** Market data fetched for the policy (only what the plan asked for). */
  market?: MarketSnapshot;
  decision?: Decision;
  upstream?: TrResponse;
  /** How far the call got towards Kiwoom (UpstreamCall.onWire): unset, it never left. */
  wire?: 'writing' | 'answered';
  /** Time spent waiting on the broker (token issue + call), for overhead metrics. */
  upstreamMs: number;
  reply?: Reply;
  error?: GuardError;
  /** Set by the outcome after-stage for a TR call: did it complete OK upstream, or certainly not take effect there. */
  outcome?: CallOutcome;
  /** The answer's JSON, parsed once for the after-stages (outcome.ts answerOf). */
  answer?: Record<string, unknown>;
  /** Set by the holdings after-stage when this balance inquiry became the account's holdings (a whole read). */
  holdingsRecorded?: boolean;
  /** Names of stages run, for the audit record and debugging. */
  readonly trail: string[];
}

export type Stage = (ctx: RequestContext) => Promise<void> | void;

export interface NamedStage {
  readonly name: string;
  readonly run: Stage;
}

export const JSON_CONTENT_TYPE = 'application/json;charset=UTF-8';

export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE, ...headers }, body: Buffer.from(JSON.stringify(value)) };
}
