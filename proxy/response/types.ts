// What the responder needs from other parts, as narrow interfaces. The
// sidecar passes the real parts (Vault, policy engine, sessions, broker
// tokens); tests pass the same real parts or small fakes where a part does
// not exist yet (the WebSocket condition-search subscriber).
import { GuardError } from '../common/errors.js';
import type { TokenMark, TokenState } from '../kiwoom/revoke-status.js';

export interface OpenOrder {
  readonly ordNo: string;
  /** As Kiwoom lists it (e.g. 005930 or 005930_NX): sent back unchanged in the cancel. */
  readonly stkCd: string;
  readonly side: 'buy' | 'sell' | 'unknown';
  readonly qty: number;
  /** Quantity still open. */
  readonly remaining: number;
  readonly price: number;
  readonly trdeTp: string;
  /** dmst_stex_tp for the cancel: KRX, NXT or SOR. */
  readonly exchange: string;
}

export interface Fill {
  readonly ordNo: string;
  readonly stkCd: string;
  readonly side: 'buy' | 'sell' | 'unknown';
  readonly qty: number;
  readonly price: number;
  /** Epoch ms when known (Kiwoom gives HHmmss, today, Seoul). */
  readonly at?: number;
}

export interface Holding {
  readonly stkCd: string;
  readonly qty: number;
  /** Current price (KRW). */
  readonly price: number;
  readonly avgPrice?: number;
}

export interface CancelResult {
  readonly ok: boolean;
  /** Broker's message when refused (non-secret). */
  readonly detail?: string;
  /** Kiwoom's return_code as it answered (0 accepted), for the audit record of the cancel. */
  readonly returnCode?: string | number;
}

/** Kiwoom's open-order list could not be read to its end (cont-yn Y without a next-key): `orders` were read. */
export class IncompleteOrderList extends GuardError {
  constructor(
    detail: string,
    readonly orders: readonly OpenOrder[],
  ) {
    super('KG5005', detail);
  }
}

/** One broker session for one account: a token issued for it, revoked when the session ends. */
export interface BrokerSession {
  /** All open orders across every page (ka10075 with cont-yn/next-key); IncompleteOrderList when the pages break off. */
  listOpenOrders(): Promise<OpenOrder[]>;
  /** kt10003 for the whole remaining quantity. Throws on transport / 5xx / 429 (retried); returns ok:false when the broker refuses. */
  cancel(order: OpenOrder): Promise<CancelResult>;
  /** Fills since the given time (ka10076, all pages). */
  fills(since: number): Promise<Fill[]>;
  /** Current holdings (kt00018, all pages). */
  holdings(): Promise<Holding[]>;
}

export interface BrokerGateway {
  /** Runs fn with a session for the bot's account; the broker token is revoked afterwards whatever happens. */
  withSession<T>(botId: string, fn: (session: BrokerSession) => Promise<T>): Promise<T>;
}

/** The Vault satisfies this. */
export interface CredentialControl {
  /**
   * As a lockdown (disable) and its unlock (enable). An enable answers false when it left the credentials off: an
   * operator disabled them (kguard keys disable), during the incident or before; any other answer counts as done.
   */
  setEnabled(botId: string, enabled: boolean): Promise<unknown>;
  /** `enabled` false: the credentials were already off (an operator's kill switch); absent counts as on. */
  list(): Promise<readonly { readonly botId: string; readonly account: string; readonly enabled?: boolean }[]>;
}

export interface SessionControl {
  /** Bumps the session epoch and revokes every jti of the bot. */
  killAll(botId: string): Promise<unknown>;
}

export type TradingState = 'ACTIVE' | 'REDUCING' | 'HALTED';
export interface TradingStateScope {
  readonly global?: true;
  readonly botId?: string;
  readonly account?: string;
}
export interface TradingStateRecordLike {
  readonly state: TradingState;
  readonly reason: string;
}
export interface TradingStateControl {
  setTradingState(scope: TradingStateScope, state: TradingState, reason: string): Promise<void>;
  /** The records per scope (the policy engine's): lets an unlock put back what operators had set before the lockdown. */
  tradingState?(
    botId: string,
    account: string,
  ): Promise<{ readonly global?: TradingStateRecordLike; readonly bot?: TradingStateRecordLike; readonly account?: TradingStateRecordLike }>;
}

export interface BrokerTokenControl {
  /** Revokes the broker access of the bot (its key's token once no call holds it). */
  revokeOutstanding(botId: string): Promise<unknown>;
  /** The bot's key and the generation of its token now (none: no token live); KG4003 when the bot has no credentials. */
  markToken?(botId: string): Promise<BrokerTokenMark>;
  /** Whether the marked token has ended (Kiwoom confirmed the revoke, or it is dead), is live, or its last revoke failed. */
  tokenState?(mark: BrokerTokenMark): Promise<BrokerTokenState>;
}

/** A key's broker token at one moment, and what became of it: the broker session layer's own types. */
export type BrokerTokenMark = TokenMark;
export type BrokerTokenState = TokenState;

/** Realtime condition searches (Kiwoom WebSocket CNSRREQ) to clear while locked. */
export interface ConditionSubscriber {
  suspendConditions(target: { botId: string; account: string }): Promise<void>;
}
