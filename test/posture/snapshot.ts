// A hand-made posture snapshot on which every check passes; tests change one
// fact at a time (with `withSnapshot`) and look at the one check it concerns.
import type { PostureRule, PostureSnapshot } from '../../proxy/admin/posture-types.js';

export const NOW = Date.parse('2026-03-10T03:00:00.000Z');
export const daysAgo = (d: number): string => new Date(NOW - d * 86_400_000).toISOString();

export const GOOD_RULES: PostureRule[] = [
  { id: 'least-privilege', type: 'allow-apis', mode: 'enforce' },
  { id: 'limit-only', type: 'trade-types', mode: 'enforce', allow: ['limit'] },
  { id: 'order-size', type: 'order-size', mode: 'enforce' },
  { id: 'order-rate', type: 'rate-limit', mode: 'enforce', kinds: ['order', 'modify', 'cancel'] },
  { id: 'krx-hours', type: 'trading-window', mode: 'enforce' },
];

export function goodSnapshot(): PostureSnapshot {
  return {
    now: NOW,
    bot: {
      id: 'trend-bot',
      owner: 'alice',
      account: '5012345678',
      enabled: true,
      createdAt: daysAgo(10),
      canOrder: true,
      secret: { alg: 'scrypt', N: 16384, r: 8, p: 1, saltBytes: 16, hashBytes: 32 },
    },
    credential: { keyVersion: 2, createdAt: daysAgo(20), provider: 'aws-kms', enabled: true, keyFingerprint: 'abc123' },
    keyProvider: 'aws-kms',
    upstream: { target: 'production', url: 'https://api.kiwoom.com', allowInsecureHttp: false },
    admins: [
      { name: 'sec-lead', role: 'admin', totp: true },
      { name: 'grafana', role: 'viewer', totp: false },
    ],
    policy: { state: 'loaded', version: '0123456789abcdef', name: 'desk-a', rules: GOOD_RULES },
    sources: {
      trustedCidrs: ['10.1.2.0/24'],
      seen: [{ address: '10.1.2.3', lastSeenAt: daysAgo(0) }],
      since: daysAgo(30),
    },
    audit: {
      sinks: [
        { type: 'file', id: 'file', fsync: 'group', dir: '/var/lib/kguard/data/audit' },
        { type: 'redis-stream', id: 'redis-stream' },
      ],
      checkpointMirror: false,
      lastVerify: { at: daysAgo(2), ok: true, target: '/var/lib/kguard/data/audit', records: 1234 },
    },
    listen: {
      bot: { host: '127.0.0.1', port: 8080, tls: false },
      admin: { host: '127.0.0.1', port: 9090, enabled: true, tls: false },
    },
    brokerTokens: { idleRevokeMs: 0, sessions: [], liveSecondsTotal: 42 },
  };
}

type Mutable<T> = T extends string | number | boolean | null | undefined ? T : { -readonly [K in keyof T]: Mutable<T[K]> };

/** A good snapshot with one change applied. */
export function withSnapshot(change: (s: Mutable<PostureSnapshot>) => void): PostureSnapshot {
  const s = structuredClone(goodSnapshot()) as Mutable<PostureSnapshot>;
  change(s);
  return s as PostureSnapshot;
}

/** A good snapshot whose policy in force has exactly these rules. */
export function withRules(rules: readonly PostureRule[]): PostureSnapshot {
  return { ...goodSnapshot(), policy: { state: 'loaded', version: 'v', rules } };
}
