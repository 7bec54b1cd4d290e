// Kiwoom's per-key call limits (이용약관 제11조 as quoted by clients: 5 queries and
// 5 orders per second per app key; token issue observed at about 2 per second).
// Defaults for the governor; every one is a config knob under upstream.limits.

export interface GovernorLimits {
  queriesPerSecond: number;
  ordersPerSecond: number;
  tokenIssuesPerSecond: number;
  /** Kiwoom's window: per second. */
  windowMs: number;
  /** Longest a query waits for a slot before it is refused (KG5006, retry-after). */
  queryMaxWaitMs: number;
  /** Longest a new order or modify waits: short, a stale order is worse than a refused one. */
  orderMaxWaitMs: number;
  cancelMaxWaitMs: number;
  /** Lockdown's own calls (cancel-all and its listings) wait this long at most. */
  lockdownMaxWaitMs: number;
  tokenMaxWaitMs: number;
  /** Waiters per key and class beyond which calls are refused at once. */
  maxQueuePerKey: number;
  /** After Kiwoom refuses with [1700/1701/1702], the key's class gets no slot for this long. */
  refusalPauseMs: number;
  /**
   * Upper bound on a call's time holding its slot unanswered (waiting for its key's token, then in flight): it counts
   * as used until then unless settled sooner. From config: brokerTokens.sessionWaitMs + upstream.answerTimeoutMs.
   */
  holdMs: number;
}

export const KIWOOM_LIMITS: Readonly<GovernorLimits> = Object.freeze({
  queriesPerSecond: 5,
  ordersPerSecond: 5,
  tokenIssuesPerSecond: 2,
  windowMs: 1_000,
  queryMaxWaitMs: 1_000,
  orderMaxWaitMs: 200,
  cancelMaxWaitMs: 5_000,
  lockdownMaxWaitMs: 120_000,
  tokenMaxWaitMs: 5_000,
  maxQueuePerKey: 500,
  refusalPauseMs: 1_000,
  holdMs: 30_000,
});
