// Public types of the Kiwoom REST simulator.
import type { Logger } from 'pino';

export interface SimOptions {
  /** Listen address; loopback by default. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Rows per page for list queries before cont-yn/next-key paging kicks in. Default 20. */
  readonly pageSize?: number;
  /** Rows of a daily chart page (ka10081), newest first. Default 600, Kiwoom's page. */
  readonly chartDays?: number;
  /** Broker token lifetime. Default 24 h (Kiwoom's is about a day). */
  readonly tokenTtlMs?: number;
  /** Serve the loopback control API under /_sim/. Default false (on for `kguard sim`). */
  readonly control?: boolean;
  /** Largest request body accepted. Default 64 KiB. */
  readonly maxBodyBytes?: number;
  /** Request records kept for requestLog() (oldest dropped first). Default 10000. */
  readonly maxRequestLog?: number;
  /**
   * Today's idealised simulator, for benchmarks: every au10001 issues a fresh
   * independent token (older ones stay valid), no rate or symbol limits, no
   * address binding. Default false: behave like the real Kiwoom (one shared
   * token per app key while valid, limits per app key). `limits` and
   * `bindTokenToAddress` cannot be combined with it.
   */
  readonly ideal?: boolean;
  /** Overrides of the per-app-key limits (faithful mode only); unset fields keep their defaults. */
  readonly limits?: Partial<SimLimits>;
  /**
   * Write every REST answer's return_code as a numeric string ("0000" for success, "5", "3", ...) instead of a JSON
   * number: Kiwoom does so on some endpoints, as its own Python client notes (kiwoom/core/errors.py
   * normalize_return_code: "0", "0000", "8005"). Default false (numbers).
   */
  readonly textReturnCodes?: boolean;
  /** HTTP status of rate-limit refusals (1700/1701/1702). Kiwoom mostly answers 200; 429 is also seen. Default 200. */
  readonly rateLimitStatus?: 200 | 429;
  /**
   * A token used on a TR call from another source address than the one that
   * first issued it gets [8010], as on Kiwoom. Default false (everything in
   * tests comes from loopback anyway).
   */
  readonly bindTokenToAddress?: boolean;
  /** Optional pino logger; tokens and keys are never logged. */
  readonly logger?: Logger;
  /** Clock, for tests. Default Date.now. */
  readonly now?: () => number;
  /**
   * TEST HOOK ONLY: called with a fresh copy of every broker token's bytes when
   * it is created (not again when au10001 hands the same live token out a
   * second time), so leak tests (canaries) can search logs, metrics, audit
   * output and bot responses for real broker tokens. The simulator looks
   * tokens up by SHA-256 digest and keeps only each app's current live token
   * (faithful mode, zero-filled when it ends); the callee owns the Buffer and
   * should zero-fill it when done. Never wire this outside tests.
   */
  readonly onTokenIssued?: (token: Buffer) => void;
  /** The server sends {"trnm":"PING"} to every logged-in WebSocket session this often. Default 10 000 ms. */
  readonly wsPingIntervalMs?: number;
  /** A session that leaves this many PINGs in a row unanswered gets SYSTEM R10002 and is closed. Default 3. */
  readonly wsMaxMissedPings?: number;
  /** A WebSocket that has not sent a good LOGIN this long after connecting is closed (SYSTEM R10004). Default 10 000 ms. */
  readonly wsLoginTimeoutMs?: number;
  /** Most REG (type, item) pairs one session may hold across its groups. Default 100 (Kiwoom's own cap is not published). */
  readonly wsMaxRegistrations?: number;
  /** Most live condition searches (CNSRREQ search_type 1) per login. Default 10, as in Kiwoom's terms. */
  readonly wsMaxLiveConditions?: number;
  /** Registered 0B/0D items get a simulated trade this often (prices walk a tick). 0 turns the timer off. Default 1000 ms. */
  readonly wsQuoteIntervalMs?: number;
  /** Live condition searches see one stock enter or leave a condition this often. 0 turns the timer off. Default 5000 ms. */
  readonly wsConditionIntervalMs?: number;
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

/** Per-app-key limits of the faithful mode; sliding 1000 ms windows measured at request arrival. */
export interface SimLimits {
  /** au10001 calls per app key per second. Default 2. Refusal [1700], API ID=au10001. */
  readonly tokenPerSecond: number;
  /** Calls of one TR api-id per app key per second. Default 5. Refusal [1700]. */
  readonly perApiIdPerSecond: number;
  /** All TR calls of an app key per second. Default 20. Refusal [1701]. */
  readonly totalPerSecond: number;
  /** Stock and credit orders, modifies and cancels together per app key per second. Default 5. Refusal [1702]. */
  readonly orderGroupPerSecond: number;
  /** Most `|`-separated codes in one stk_cd. Default 100. Refusal [1634]; not a rate slot. */
  readonly maxSymbolsPerRequest: number;
}

/** Detail codes counted in SimStats.refusals. */
export type SimRefusalCode = '1700' | '1701' | '1702' | '1634' | '8005' | '8010';

export interface SimStats {
  /** Distinct tokens created (an au10001 that returns the live token again is not counted here). */
  readonly tokensIssued: number;
  /** Successful au10001 answers that returned the app's existing live token. */
  readonly tokensReused: number;
  readonly tokensRevoked: number;
  /** Issued, not revoked, not expired. */
  readonly liveTokens: number;
  /** HTTP requests received on the Kiwoom API (control API excluded). */
  readonly requests: number;
  /**
   * Refusals made by the simulator's model (not by fault knobs), by detail
   * code: rate limits 1700/1701/1702 (au10001 included), 1634, 8005 and 8010
   * on TR calls. Every key is present.
   */
  readonly refusals: Readonly<Record<SimRefusalCode, number>>;
  /** au10001 calls refused for rate ([1700], API ID=au10001); also counted in refusals['1700']. */
  readonly refusedIssues: number;
  /** Most au10001 calls (any outcome, any app) that arrived within one 1000 ms window. */
  readonly peakIssuesPerSecond: number;
  /** The realtime WebSocket (/api/dostk/websocket). */
  readonly ws: SimWsStats;
}

export interface SimWsStats {
  /** Logged-in sessions now (at most one per app key). */
  readonly sessions: number;
  /** Successful LOGINs. */
  readonly logins: number;
  /** LOGINs refused (bad, expired, revoked or unknown token; another source address). */
  readonly loginFailures: number;
  /** Sessions closed with SYSTEM R10001 because a newer LOGIN used the same app key. */
  readonly replaced: number;
  /** REAL frames sent. */
  readonly pushes: number;
  /** REG (type, item) pairs held by the logged-in sessions now. */
  readonly registrations: number;
}

/** One stock entering (I) or leaving (D) a simulated condition. */
export interface SimConditionEvent {
  readonly seq: string;
  readonly stkCd: string;
  readonly kind: 'I' | 'D';
  /** REAL 02 frames sent for it (one per session with a live search on `seq`). */
  readonly pushes: number;
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
  /** The bracketed detail code of an error answer, e.g. '8005', '1700', '2000'. */
  readonly detail?: string;
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
  /** The next N TR calls are carried out (an order is placed), then their socket destroyed before the answer. */
  readonly dropAnswerNext?: number;
  /** The next N paged answers that continue (cont-yn Y) carry an empty next-key: a page list the client cannot follow. */
  readonly nextKeyLostNext?: number;
  /** The next N /oauth2/revoke calls answer HTTP 500 and revoke nothing. */
  readonly revokeFailNext?: number;
  /**
   * The next N /oauth2/revoke calls find their token already invalid at Kiwoom: it ends, and the answer is
   * Kiwoom's bad-token refusal `[8005]` instead of success (an unknown token still gets [8015]).
   */
  readonly revokeInvalidNext?: number;
  /** The next N /oauth2/token calls answer HTTP 500 and issue nothing. */
  readonly tokenFailNext?: number;
  /** The next N /oauth2/token calls are refused for au10001's own rate ([1700]) and issue nothing (as when another process of the key issued just before). */
  readonly issueRateLimitNext?: number;
  /** The next N TR calls answer HTTP 429 with Kiwoom's 1700 body (not counted in SimStats.refusals). */
  readonly rateLimitNext?: number;
  /**
   * The next N TR calls are refused by a gateway in front of Kiwoom: HTTP 429, an HTML page, no return_code and no
   * detail code; the call is not processed.
   */
  readonly gatewayRateLimitNext?: number;
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
  /** Kiwoom's realtime WebSocket on the same port, e.g. 'ws://127.0.0.1:40123/api/dostk/websocket'. */
  readonly wsUrl: string;
  readonly host: string;
  readonly port: number;
  readonly faults: SimFaults;
  registerApp(registration: SimAppRegistration): void;
  setQuote(stkCd: string, price: number): void;
  /** Gives a known code's NXT or SOR spelling (005930_NX, 005930_AL) its own quote; the KRX one stays. */
  setVenueQuote(stkCd: string, price: number): void;
  /** A known code's average daily volume (shares), around which its daily chart's volumes lie. */
  setVolume(stkCd: string, adv: number): void;
  quote(stkCd: string): number | undefined;
  stats(): SimStats;
  liveTokens(): number;
  requestLog(): readonly SimRequestRecord[];
  orders(accountNo: string): readonly SimOrder[];
  /** Replaces an account's holdings (its orders and cash stay): a replay playing the market. */
  setHoldings(accountNo: string, holdings: readonly SimHolding[]): void;
  /** Cash and holdings of an account, for assertions. */
  account(accountNo: string): { cash: number; holdings: readonly SimHolding[] } | undefined;
  /**
   * Revokes every live token, or only those of the apps registered for
   * `accountNo` ("a token revoked behind the sidecar's back"). Returns how
   * many were revoked. Throws SimError on a non-string accountNo.
   */
  revokeAll(accountNo?: string): number;
  /** True when started with `ideal: true`. */
  readonly ideal: boolean;
  /** Current limits (faithful mode; the defaults, unused, in ideal mode). */
  limits(): SimLimits;
  /**
   * Merges the given limits into the current ones and returns the result.
   * Bad values (or any call in ideal mode) throw SimError and change nothing.
   */
  setLimits(limits: Partial<SimLimits>): SimLimits;
  /** Most au10001 calls that arrived within one 1000 ms window so far. */
  peakIssuesPerSecond(): number;
  /** Logged-in WebSocket sessions per app key fingerprint (wsFingerprint(appKey)); never the key itself. */
  wsSessions(): Readonly<Record<string, number>>;
  /** Destroys every WebSocket (logged in or not) without a close frame, as a network drop would; returns how many. */
  dropWebSockets(): number;
  /**
   * A trade in `stkCd` now: with `price` the quote moves there first (as setQuote, resting orders
   * included), without it the trade is at the current price. Sends REAL 0B and 0D to the sessions
   * that registered the stock; returns how many REAL frames went out. Throws SimError on a bad code or price.
   */
  pushQuote(stkCd: string, price?: number): number;
  /**
   * One stock enters or leaves simulated condition `seq` ('0'..'11') now: the given stock (default: the
   * condition's next stock in rotation) and kind (default: the opposite of its current membership).
   * Sends REAL 02 to the sessions with a live search on `seq`. Throws SimError on a bad seq or code.
   */
  triggerCondition(seq: string, change?: { readonly stkCd?: string; readonly kind?: 'I' | 'D' }): SimConditionEvent;
  /** Forgets tokens, orders, apps, quotes overrides, faults, the request log, counters and rate windows; limits go back to the start-up ones. WebSockets are dropped. */
  reset(): void;
  close(): Promise<void>;
}
