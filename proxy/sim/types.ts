// Public types of the Kiwoom REST simulator.
import type { Logger } from 'pino';

export interface SimOptions {
  /** Listen address; loopback by default. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Rows per page for list queries before cont-yn/next-key paging kicks in. Default 20. */
  readonly pageSize?: number;
  /** Broker token lifetime. Default 24 h (Kiwoom's is about a day). */
  readonly tokenTtlMs?: number;
  /** Serve the loopback control API under /_sim/. Default false (on for `kguard sim`). */
  readonly control?: boolean;
  /** Largest request body accepted. Default 64 KiB. */
  readonly maxBodyBytes?: number;
  /** Request records kept for requestLog() (oldest dropped first). Default 10000. */
  readonly maxRequestLog?: number;
  /** Issuing a token invalidates the app's older tokens, as some clients observe. Default false. */
  readonly singleTokenPerApp?: boolean;
  /** Optional pino logger; tokens and keys are never logged. */
  readonly logger?: Logger;
  /** Clock, for tests. Default Date.now. */
  readonly now?: () => number;
  /**
   * TEST HOOK ONLY: called with a fresh copy of every broker token's bytes as
   * it is issued, so leak tests (canaries) can search logs, metrics, audit
   * output and bot responses for real broker tokens. The simulator keeps no
   * other copy (tokens are stored as SHA-256 digests); the callee owns the
   * Buffer and should zero-fill it when done. Never wire this outside tests.
   */
  readonly onTokenIssued?: (token: Buffer) => void;
}

export interface SimHolding {
  readonly stkCd: string;
  readonly qty: number;
  readonly avgPrice: number;
}

export interface SimAppRegistration {
  readonly appKey: Buffer | string;
  readonly secretKey: Buffer | string;
  readonly accountNo: string;
  /** Deposit in KRW. Default 100,000,000. */
  readonly cash?: number;
  readonly holdings?: readonly SimHolding[];
}

export interface SimStats {
  readonly tokensIssued: number;
  readonly tokensRevoked: number;
  /** Issued, not revoked, not expired, not superseded. */
  readonly liveTokens: number;
  /** HTTP requests received on the Kiwoom API (control API excluded). */
  readonly requests: number;
}

export interface SimRequestRecord {
  readonly method: string;
  readonly path: string;
  readonly apiId: string | undefined;
  /** HTTP status sent; 0 when the connection was dropped or hung. */
  readonly status: number;
  /** Kiwoom return_code of the body, when there was a JSON body. */
  readonly returnCode: number | undefined;
  readonly outcome: 'answered' | 'dropped' | 'hung';
  /** Epoch ms when the request arrived. */
  readonly time: number;
}

export interface SimFaultSettings {
  /** Added before every Kiwoom API response. */
  readonly latencyMs?: number;
  /** Added (on top of latencyMs) before every /oauth2/revoke response only: a slow revoke. */
  readonly revokeLatencyMs?: number;
  /** The next N TR calls answer HTTP 500. */
  readonly fail5xxNext?: number;
  /** TR calls with these api-ids answer HTTP 500 until cleared. */
  readonly fail5xxApiIds?: readonly string[];
  /** The next N TR calls get their socket destroyed without a response. */
  readonly dropNext?: number;
  /** The next N /oauth2/revoke calls answer HTTP 500 and revoke nothing. */
  readonly revokeFailNext?: number;
  /** The next N /oauth2/token calls answer HTTP 500 and issue nothing. */
  readonly tokenFailNext?: number;
  /** The next N TR calls answer HTTP 429 with Kiwoom's 1700 body. */
  readonly rateLimitNext?: number;
  /** The next N TR calls never get an answer (until the client gives up or the sim closes). */
  readonly hangNext?: number;
}

export interface SimFaults {
  /** Merges the given knobs into the current ones. Bad values throw SimError and change nothing. */
  set(settings: SimFaultSettings): void;
  clear(): void;
  current(): SimFaultSettings;
}

export type SimOrderStatus = 'open' | 'filled' | 'cancelled' | 'replaced' | 'killed';

export interface SimOrder {
  readonly ordNo: string;
  /** '0000000' for a new order; the order it modifies or cancels otherwise. */
  readonly origOrdNo: string;
  readonly apiId: string;
  readonly market: 'stock' | 'credit' | 'gold';
  readonly side: 'buy' | 'sell';
  /** As sent, e.g. '005930' or '005930_NX'. */
  readonly stkCd: string;
  readonly exchange: 'KRX' | 'NXT' | 'SOR';
  readonly trdeTp: string;
  readonly qty: number;
  /** 0 for market-type orders. */
  readonly price: number;
  readonly openQty: number;
  readonly filledQty: number;
  readonly fillPrice: number;
  readonly status: SimOrderStatus;
  readonly time: number;
}

export interface Simulator {
  /** e.g. 'http://127.0.0.1:40123' */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly faults: SimFaults;
  registerApp(registration: SimAppRegistration): void;
  setQuote(stkCd: string, price: number): void;
  quote(stkCd: string): number | undefined;
  stats(): SimStats;
  liveTokens(): number;
  requestLog(): readonly SimRequestRecord[];
  orders(accountNo: string): readonly SimOrder[];
  /** Cash and holdings of an account, for assertions. */
  account(accountNo: string): { cash: number; holdings: readonly SimHolding[] } | undefined;
  /** Forgets tokens, orders, apps, quotes overrides, faults and the request log. */
  reset(): void;
  close(): Promise<void>;
}
