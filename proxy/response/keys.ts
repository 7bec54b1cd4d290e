// Store keys and the pub/sub channel of the emergency response, in one place
// because several modules write and read the same keys (lockdown sets the lock
// flags, the lock check reads them, unlock clears them).
export const K = {
  incident: (id: string) => `response:incident:${id}`,
  checklist: (id: string) => `response:incident:${id}:checklist`,
  approvals: (id: string) => `response:incident:${id}:unlock`,
  compensation: (id: string) => `response:incident:${id}:compensation`,
  notifications: (id: string) => `response:incident:${id}:notifications`,
  brokerTokens: (id: string) => `response:incident:${id}:broker-tokens`,
  cancelRetries: (id: string) => `response:incident:${id}:cancel-retries`,
  lateOrders: (id: string) => `response:incident:${id}:late-orders`,
  /** What each replica stopped when it heard the lockdown (one field per replica). */
  stopped: (id: string) => `response:incident:${id}:stopped`,
  /** Set when an unlock starts, before the bot can trade again: every cancel-all of the incident stops sending cancels. */
  unlocking: (id: string) => `response:incident:${id}:unlocking`,
  /** The replica following an incident's cancel-all retries (a lease). */
  cancelFollower: (id: string) => `response:incident:${id}:cancel-follower`,
  /** Incidents whose cancel-all retries are being followed, each with its deadline (ms). */
  cancelPending: 'response:cancel-pending',
  index: 'response:incidents',
  /** The incidents locked now (field: id), for the open-lockdowns gauge: added when recorded, removed at the unlock. */
  open: 'response:incidents:open',
  lockAll: 'response:lock:all',
  lockBot: (b: string) => `response:lock:bot:${b}`,
  lockAccount: (a: string) => `response:lock:account:${a}`,
  holdings: (a: string) => `response:holdings:${a}`,
  holdingsPages: (b: string) => `response:holdings-pages:${b}`,
  alertCooldown: (b: string) => `response:alerted:${b}`,
  autoLockdown: (b: string) => `response:auto-lockdown:${b}`,
};
/** Each lockdown as it is issued, heard by every replica (lockdown-channel.ts). */
export const CHANNEL = 'response:lockdown';
