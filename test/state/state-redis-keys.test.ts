// Redis memory stays bounded: a realistic workload through the real sidecar
// on a real redis-server (several bots; quotes, balances, orders, a cancel; a
// held call approved and one refused; a lockdown and its unlock; a bot
// disabled, then removed with kguard bots remove; risk baselines learned; a
// wrong bot secret),
// run twice with two days passing in Redis between the rounds, then every
// key is looked at. Each must either expire (a TTL) or be one of the
// allowlisted keys below, each with the bound that keeps it small. A collection (hash, zset, stream) must
// also name its bound, and the bound is checked: a TTL that every new write
// renews does not keep an index from growing with traffic.
//
// "Two days passing" is done to Redis itself: every key whose TTL would run out
// is deleted, the others' TTLs shortened by as much (see travel()). The
// sidecar's clock does not move: what it decides from time is not under test.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import t from 'tap';
import type { Test } from 'tap';
import { enrolApprover } from '../helpers/approvers.js';
import { FIXTURES, startHarness, waitFor, type CallResult, type Harness } from '../helpers/harness.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const HOUR = 3_600_000;
const MAX_ORDER_RECORDS = 50;
const AUDIT_MAXLEN = 1000;
const CHECKPOINT_MAXLEN = 100;
const ROUNDS = 4;

const POLICY = `${readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 500 }
  - { id: day-cap, type: daily-cap, maxOrders: 500, maxGrossNotional: 10000000000 }
  - { id: no-double-send, type: duplicate-guard, windowSeconds: 3 }
  - { id: cancels, type: cancel-ratio, maxCancelsPerOrder: 10 }
  - id: query-day
    type: rate-limit
    when: { kinds: [query, account] }
    limits:
      - { max: 100000, per: day }
      - { max: 1000, per: 1m }
`;

const code = (r: CallResult): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];

let redis: RedisProcess;
let client: Redis;
let h: Harness;
let dir: string;
const settled = new Set<string>();
const answered = new Set<string>();

t.before(async () => {
  redis = await startRedis();
  client = new Redis(redis.port, '127.0.0.1');
  dir = await mkdtemp(path.join(tmpdir(), 'kguard-keys-'));
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(policyFile, POLICY);
  h = await startHarness({
    policyFile,
    onSettled: (ctx) => void settled.add(ctx.id),
    config: {
      state: { backend: 'redis', redis: { url: redis.url } },
      approval: { mode: 'pending', retentionHours: 24 },
      response: { incidentRetentionDays: 1 },
      policy: { file: policyFile, maxOrderRecords: MAX_ORDER_RECORDS },
      audit: {
        replicaId: 'replica-a',
        sinks: [{ type: 'file' }, { type: 'redis-stream', stream: 'kguard:audit', maxLen: AUDIT_MAXLEN }],
        checkpoint: { everyRecords: 5, mirrorRedisKey: 'kguard:audit:checkpoints', mirrorRedisMaxLen: CHECKPOINT_MAXLEN },
      },
    },
  });
});
t.teardown(async () => {
  await h?.close();
  client?.disconnect();
  await redis?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Everything in Redis as it would be `ms` later with nobody calling: keys whose TTL runs out are gone. */
async function travel(ms: number): Promise<void> {
  for (const key of await client.keys('*')) {
    // Kiwoom's per-key call windows mirror the simulator's, whose clock does not travel: left as they are.
    if (key.includes('{gov:')) continue;
    const ttl = await client.pttl(key);
    if (ttl === -1 || ttl === -2) continue;
    if (ttl <= ms) await client.del(key);
    else await client.pexpire(key, ttl - ms);
  }
}

async function call(apiId: string, body: unknown, token: string, headers: Record<string, string> = {}): Promise<CallResult> {
  const r = await h.call(apiId, body, { token, headers });
  answered.add(String(r.headers['x-kguard-request-id']));
  return r;
}

/** Every call answered so far has run its after-stages (outcome counters, learning), and no broker token is live. */
async function quiet(): Promise<void> {
  await waitFor(() => [...answered].every((id) => settled.has(id)), 30_000, 'after-stages of every call');
  await h.waitNoLiveTokens(30_000);
}

const QUOTE = (stk: string) => ({ stk_cd: stk });
const BALANCE = { qry_tp: '1', dmst_stex_tp: 'KRX' };
const BUY = (qty: number, px: number, stk = '005930') => ({ dmst_stex_tp: 'KRX', stk_cd: stk, ord_qty: String(qty), ord_uv: String(px), trde_tp: '0' });
const SELL = (qty: number, px: number) => ({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: String(qty), ord_uv: String(px), trde_tp: '0' });

async function trade(t: Test, token: string, round: number, i: number): Promise<void> {
  for (const stk of ['005930', '000660', '035420']) t.equal((await call('ka10001', QUOTE(stk), token)).json.return_code, 0, `quote ${stk}`);
  t.equal((await call('kt00018', BALANCE, token)).json.return_code, 0, 'balance');
  const resting = await call('kt10000', BUY(1, 60_000 + round * 100 + i), token);
  t.equal(resting.json.return_code, 0, `resting buy: ${resting.text.slice(0, 160)}`);
  t.equal((await call('kt10001', SELL(1, 90_000 + round * 100 + i), token)).json.return_code, 0, 'sell');
  const cancel = await call('kt10003', { dmst_stex_tp: 'KRX', orig_ord_no: String(resting.json.ord_no), stk_cd: '005930', cncl_qty: '0' }, token);
  t.equal(cancel.json.return_code, 0, `cancel: ${cancel.text.slice(0, 160)}`);
}

async function round(t: Test, n: number, bots: string[], admins: { lead: string; second: string }, approvers: Awaited<ReturnType<typeof enrolApprover>>) {
  const tokens = new Map<string, string>();
  for (const b of bots)
    tokens.set(b, b === h.botId ? await h.token() : await h.addBot(b, ['kind:query', 'kind:account', 'kind:order', 'kind:modify', 'kind:cancel']));
  for (const [i, b] of bots.entries()) await trade(t, tokens.get(b)!, n, i);
  // A wrong bot secret: the shared bot-login limiter's keys (tokens.authFailures).
  const wrong = await h.post(
    '/oauth2/token',
    JSON.stringify({ grant_type: 'client_credentials', appkey: bots[1], secretkey: `wrong-${n}-${'4d3c2b1a'.repeat(5)}` }),
  );
  t.equal(code(wrong), 'KG2005', 'a wrong secret refused');

  // A held call approved, then sent again with its approval.
  const big = BUY(500, 61_000 + n);
  const held = await call('kt10000', big, tokens.get(bots[0]!)!);
  t.equal(code(held), 'KG3004', `held: ${held.text.slice(0, 160)}`);
  const id = String(held.headers['x-kguard-approval-id']);
  t.equal((await approvers.approve(id)).status, 200, 'approved');
  const retry = await call('kt10000', big, tokens.get(bots[0]!)!, { 'x-kguard-approval-id': id });
  t.equal(retry.json.return_code, 0, `sent once approved: ${retry.text.slice(0, 160)}`);

  // One refused.
  const other = await call('kt10000', BUY(600, 61_500 + n), tokens.get(bots[1]!)!);
  t.equal(code(other), 'KG3004', 'held');
  const refused = await h.admin('POST', `/admin/v1/approvals/${String(other.headers['x-kguard-approval-id'])}/refuse`, approvers.approver, {
    reason: 'not ours',
  });
  t.equal(refused.status, 200, 'refused');

  // A lockdown of a third bot, recovered and unlocked by two admins.
  const lock = await h.admin('POST', '/admin/v1/lockdown', admins.lead, { reason: `drill ${n}`, bot: bots[2] });
  t.equal(lock.status, 201, lock.text.slice(0, 160));
  const inc = String(lock.json.id);
  for (const step of lock.json.checklist as { id: string; required: boolean }[]) {
    if (step.required) t.equal((await h.admin('POST', `/admin/v1/incidents/${inc}/steps/${step.id}/confirm`, admins.lead, {})).status, 200);
  }
  for (const a of [admins.lead, admins.second]) t.equal((await h.admin('POST', `/admin/v1/incidents/${inc}/approve-unlock`, a, {})).status, 200);
  const unlocked = await h.admin('POST', `/admin/v1/incidents/${inc}/unlock`, admins.second, {});
  t.equal(unlocked.status, 200, `unlocked: ${unlocked.text.slice(0, 160)}`);
  await quiet();
}

interface Bound {
  /** What the key is, and why it stays small: the bound, named. */
  readonly why: string;
  readonly match: RegExp;
  /** The bound, checked on the key (a collection's size, or what its members refer to). */
  readonly check?: (key: string, type: string) => Promise<string | undefined>;
}

const P = 'kguard:';
const count = async (key: string, type: string): Promise<number> =>
  type === 'hash' ? client.hlen(key) : type === 'zset' ? client.zcard(key) : type === 'stream' ? client.xlen(key) : type === 'set' ? client.scard(key) : 1;
const atMost = (n: number) => async (key: string, type: string) => {
  const c = await count(key, type);
  return c <= n ? undefined : `${c} members, bound ${n}`;
};
/**
 * An index of records that expire: it may name the records still kept and those gone since it was last written,
 * never every record it was ever given. The rounds here are even, so that is at most twice the records kept.
 */
const indexes = (recordKey: (id: string) => string) => async (key: string) => {
  const ids = await client.hkeys(key);
  let live = 0;
  for (const id of ids) live += await client.exists(recordKey(id));
  return ids.length <= 2 * live ? undefined : `${ids.length} fields for ${live} records still kept`;
};
/** Every field names a record still kept. */
const onlyLive = (recordKey: (id: string) => string) => async (key: string) => {
  const stale: string[] = [];
  for (const id of await client.hkeys(key)) if ((await client.exists(recordKey(id))) === 0) stale.push(id);
  return stale.length === 0 ? undefined : `${stale.length} fields name records that are gone`;
};

let botCount = 0;
/**
 * Keys without a TTL, each bounded by configuration or by operator action rather than by traffic. Anything else
 * must expire. Collections with a TTL are listed in COLLECTIONS with their bound.
 */
const PERSISTENT: Bound[] = [
  { match: /^kguard:approval:approvers$/, why: 'enrolled approvers: one field per approver an operator enrolled', check: atMost(1) },
  {
    match: /^kguard:epoch:[a-z0-9_-]+$/,
    why: 'session epoch: one integer per bot id whose sessions an operator (or a lockdown) ended; not written by calls',
    check: async () => ((await client.keys(`${P}epoch:*`)).length <= botCount ? undefined : 'more epochs than bot ids'),
  },
  {
    match: /^kguard:bot-disabled:[a-z0-9_-]+$/,
    why: 'disabled flag: one per bot id an operator disabled, deleted when enabled again or the bot removed',
    check: async () => ((await client.keys(`${P}bot-disabled:*`)).length === 0 ? undefined : 'the one bot disabled was removed, its flag with it'),
  },
  {
    match: /^kguard:response:incidents:open$/,
    why: 'open lockdowns: one field per incident locked now (removed at its unlock; a scrape drops one whose record is gone)',
    check: onlyLive((id) => `${P}response:incident:${id}`),
  },
  { match: /^kguard:audit:replica-a$/, why: 'audit stream: XADD MAXLEN ~ audit maxLen (and an idle expiry)', check: atMost(AUDIT_MAXLEN * 2) },
  { match: /^kguard:audit:checkpoints$/, why: 'checkpoint mirror: XADD MAXLEN ~ mirrorRedisMaxLen', check: atMost(CHECKPOINT_MAXLEN * 2) },
];

/** Collections that expire, and what bounds them between expiries (a TTL each write renews bounds nothing). */
const COLLECTIONS: Bound[] = [
  {
    match: /^kguard:approval:index$/,
    why: 'approval index: one field per approval record still kept (request + use window + retention)',
    check: indexes((id) => `${P}approval:rec:${id}`),
  },
  {
    match: /^kguard:approval:open$/,
    why: 'open approvals: at most approval.maxPending, each an approval record still kept',
    check: onlyLive((id) => `${P}approval:rec:${id}`),
  },
  { match: /^kguard:approval:votes:[0-9a-f-]{36}$/, why: 'votes on one approval: one per approver (expires with it)', check: atMost(2) },
  {
    match: /^kguard:response:incidents$/,
    why: 'incident index: one field per incident record still kept (incidentRetentionDays)',
    check: indexes((id) => `${P}response:incident:${id}`),
  },
  {
    match: /^kguard:response:incident:[0-9a-f-]{36}:(checklist|unlock|notifications|broker-tokens|stopped)$/,
    why: "one incident's checklist, unlock approvals, deliveries, tokens, calls stopped per replica: fixed by configuration and the replica count (expires with it)",
    check: atMost(50),
  },
  { match: /^kguard:bs:index$/, why: 'broker-session index: one field per app key with a live or issuing token', check: atMost(1) },
  { match: /^kguard:\{bs:[^}]+\}:session(:leases)?$/, why: "an app key's leased token and its holders (replicas)", check: atMost(5) },
  { match: /^kguard:\{gov:[^}]+\}:[a-z]+$/, why: "a Kiwoom limit window: at most the lane's per-second limit of slot stamps", check: atMost(20) },
  {
    match: /^kguard:kguard:\{policy\}:ord:[0-9]+:\d{4}-\d{2}-\d{2}$/,
    why: "one account's orders of one Seoul day: at most policy.maxOrderRecords",
    check: atMost(MAX_ORDER_RECORDS),
  },
  {
    match: /^kguard:kguard:\{policy\}:rl:[^:]+:.+:(\d+(ms|s|m|h))$/,
    why: "a sliding rate-limit window: at most the rule's max events",
    check: atMost(1000),
  },
];

t.test('every key the sidecar writes to Redis expires or is bounded by configuration', async (t) => {
  const approvers = await enrolApprover(t, h);
  const lead = approvers.admin;
  const admins = { lead, second: await h.adminToken('sec-two', 'admin') };

  // Four rounds 16 hours apart (approvals and incidents are kept 24 hours here), then 16 more hours.
  for (let n = 1; n <= ROUNDS; n++) {
    await round(t, n, [h.botId, `keys-r${n}a`, `keys-r${n}b`, ...(n === 1 ? ['keys-gone'] : [])], admins, approvers);
    if (n === 1) {
      // A bot goes: disabled by an operator, later removed (kguard bots remove: its per-bot keys go with it).
      t.equal((await h.admin('POST', '/admin/v1/bots/keys-gone/disable', lead, { reason: 'leaving' })).status, 200, 'disabled');
      const removed = await h.admin('POST', '/admin/v1/bots/keys-gone/remove', lead, { reason: 'left' });
      t.equal(removed.status, 200, `removed: ${removed.text.slice(0, 200)}`);
      await quiet();
    }
    await travel(16 * HOUR);
  }
  botCount = 2 + 2 * ROUNDS;
  const keys = await client.keys('*');
  t.ok(keys.length > 50, `a realistic key set (${keys.length} keys)`);
  const unbounded: string[] = [];
  const overBound: string[] = [];
  const seen = new Map<string, number>();
  for (const key of keys.sort()) {
    const [ttl, type] = await Promise.all([client.pttl(key), client.type(key)]);
    const shape = key.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').replace(/\d{4,}/g, '<n>');
    seen.set(`${shape} (${type}${ttl > 0 ? '' : ', no TTL'})`, (seen.get(`${shape} (${type}${ttl > 0 ? '' : ', no TTL'})`) ?? 0) + 1);
    const persistent = PERSISTENT.find((b) => b.match.test(key));
    const collection = COLLECTIONS.find((b) => b.match.test(key));
    if (ttl === -1 && !persistent) unbounded.push(`${key} (${type}): no TTL and not allowlisted`);
    if (type !== 'string' && !persistent && !collection) unbounded.push(`${key} (${type}): a collection with no named bound`);
    const bound = persistent ?? collection;
    const over = await bound?.check?.(key, type);
    if (over) overBound.push(`${key}: ${over} (${bound!.why})`);
  }
  t.comment(
    [...seen]
      .sort()
      .map(([s, n]) => `${String(n).padStart(4)}  ${s}`)
      .join('\n'),
  );
  t.same(unbounded, [], 'no key that neither expires nor is bounded');
  t.same(overBound, [], 'every bounded key within its bound');
});
