// The realtime relay's configuration: knobs, defaults, and Kiwoom's WebSocket URL per upstream target.

export interface RealtimeConfig {
  enabled: boolean;
  /** Kiwoom's WebSocket URL; default: the target's (wss://api.kiwoom.com:10000/...) or the simulator's. */
  url?: string;
  /** A second bot port mirroring Kiwoom's :10000 (WebSocket only); unset = only the bot port. */
  port?: number;
  /** A bot must LOGIN this soon after connecting. */
  loginTimeoutMs: number;
  /** The sidecar PINGs each bot this often; a bot that sends nothing (no PING echo, no frame) for maxMissedPings of them is closed. */
  pingIntervalMs: number;
  maxMissedPings: number;
  /** Frames waiting for a bot that does not read; beyond this it is disconnected (close 4008). */
  maxBufferedBytes: number;
  maxFrameBytes: number;
  /** (type, item) pairs in one REG/REMOVE. */
  maxItemsPerMessage: number;
  /** Frames a bot may have waiting to be handled (store, policy, audit); one more closes it (4002, KG3005). */
  maxWaitingFrames: number;
  /** Realtime sockets one bot may hold on one replica (logged in or logging in); one more LOGIN is refused (KG3018). */
  maxSessionsPerBot: number;
  /** Per bot, unless a policy `realtime` rule sets less. */
  maxRegistrationsPerBot: number;
  maxLiveSearchesPerBot: number;
  /** How often a live bot session re-checks its token, lockdown and trading state. */
  recheckMs: number;
  /** The upstream session closes this long after its last bot left. */
  lingerMs: number;
  ownerTtlMs: number;
  peerTimeoutMs: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
}

export const REALTIME_DEFAULTS: RealtimeConfig = {
  enabled: true,
  loginTimeoutMs: 10_000,
  pingIntervalMs: 20_000,
  maxMissedPings: 3,
  maxBufferedBytes: 1024 * 1024,
  maxFrameBytes: 64 * 1024,
  maxItemsPerMessage: 100,
  maxWaitingFrames: 100,
  maxSessionsPerBot: 5,
  maxRegistrationsPerBot: 200,
  maxLiveSearchesPerBot: 10,
  recheckMs: 1_000,
  lingerMs: 5_000,
  ownerTtlMs: 6_000,
  peerTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 5_000,
  reconnectBaseMs: 500,
  reconnectMaxMs: 30_000,
};

const KIWOOM_WS: Record<'production' | 'mock', string> = {
  production: 'wss://api.kiwoom.com:10000/api/dostk/websocket',
  mock: 'wss://mockapi.kiwoom.com:10000/api/dostk/websocket',
};

/** Kiwoom's WebSocket for this upstream: configured, Kiwoom's own, or the custom host's same path. */
export function realtimeUrl(config: { upstream: { target: string }; realtime: RealtimeConfig }, restBase: string | undefined): string | undefined {
  if (config.realtime.url) return config.realtime.url;
  const t = config.upstream.target;
  if (t === 'production' || t === 'mock') return KIWOOM_WS[t];
  if (!restBase) return undefined;
  const u = new URL(restBase);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/api/dostk/websocket';
  return u.toString();
}
