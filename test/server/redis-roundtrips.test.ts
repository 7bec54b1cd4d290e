// How many Redis commands one bot call costs through the real sidecar on a
// real redis-server, counted with MONITOR on a second connection. Commands
// Redis received before the sidecar handed the bot its answer (res.end) are
// the critical path; the rest ran after the response (revocation, outcome
// bookkeeping, learning). The split is at the sidecar's res.end, not at the
// client's read: test and sidecar share one event loop, and on a loaded
// machine the after-stages can run before the client reads the answer. Commands run
// inside Lua scripts are not round trips and are left out. Bounds are today's
// counts plus a small margin: a regression fails here, with the breakdown.
import { ServerResponse } from 'node:http';
import { Redis } from 'ioredis';
import t from 'tap';
import { request } from 'undici';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0', cond_uv: '' };
const QUERY = { qry_tp: '3' };
const PREFIX = 'kguard:';
const nowMs = (): number => performance.timeOrigin + performance.now();

// Today's counts (see the printed breakdown) plus a margin; lower them when a change saves round trips.
// Was 13/16/4 (query) and 15/18/5 (order) before one MGET for the session
// check and one for the lockdown flags, one HMGET for the trading state, all
// three in one wait, and no alert-cooldown SET NX while this replica's runs.
// Since one broker session per app key and the governor: each measured call
// here is cold (calls 300 ms apart, the token was revoked in between, as the
// seed promises), so it pays the key's token issue: governor slot, lease
// take, issue lock, ledger intent + issue slot (one wait), lease put; and,
// after the response, lease release, retire, drop and the index entry. A call
// on a key whose token is live costs the governor slot only.
// The cross-tenant shared-source detector (risk.crossTenant) adds one GET and
// one SET to every call's risk reads, in the same wait: +2 commands, +0 waits.
const CROSS_TENANT = 2;
// Issue 17 adds, in the same wait: one MGET for the stuffing counts on every
// call, and one INCR of the day's account reads on an account inquiry: +2, +0 waits.
const FLOW = 2;
// A new order also reads how many accounts' orders in its symbol their owners refused (herd), in the same wait: +1, +0 waits.
const REFUSED_HERD = 1;
// A buy also reads its symbol's daily volume learned from charts (drain's illiquid check), in the same wait: +1, +0 waits.
const DAILY_VOLUME = 1;
// An order reads its session, the lock flags (one MGET each) and the trading state (one HMGET) again, together, right
// before it is written: a lockdown pressed, a session ended, the bot disabled or trading halted meanwhile stops it. +3, +1 wait.
const SEND_RECHECK = 3;
// An order Kiwoom accepted reads the lock flags once more (one MGET, not awaited by the bot's answer): a lockdown
// pressed while it was on the wire cancels it. +1, +0 waits.
const LATE_LOCK = 1;
// The sequence detector swaps the bot's previous call for this one (one EVALSHA) on every call, in the same wait: +1, +0 waits.
const SEQUENCE = 1;
// An account read or an order that went out marks that previous call as gone out (one compare-and-set EVALSHA) when
// it is learned, after the response: a read right after it follows it up (sequence.ts). +1 total, +0 waits.
const WENT_OUT = 1;
const BOUNDS = {
  query: { critical: 15 + 2 + CROSS_TENANT + FLOW + SEQUENCE, total: 22 + 2 + CROSS_TENANT + FLOW + SEQUENCE + WENT_OUT, waits: 5 + 1 },
  order: {
    critical: 16 + 2 + CROSS_TENANT + FLOW + REFUSED_HERD + DAILY_VOLUME + SEND_RECHECK + LATE_LOCK + SEQUENCE,
    total: 23 + 2 + CROSS_TENANT + FLOW + REFUSED_HERD + DAILY_VOLUME + SEND_RECHECK + LATE_LOCK + SEQUENCE + WENT_OUT,
    waits: 6 + 1 + 1,
  },
};

interface Seen {
  at: number;
  args: string[];
  source: string;
}

/** Which part a key belongs to, from the key layout of each part. */
function partOf(cmd: string, key: string | undefined): string {
  if (key === undefined) return '-';
  let k = key;
  // The policy part adds its own 'kguard:' under the store's prefix.
  while (k.startsWith(PREFIX)) k = k.slice(PREFIX.length);
  const rules: [RegExp, string][] = [
    [/^generation/, 'state generation marker'],
    [/^(jti|epoch|bot-disabled):/, 'auth sessions'],
    [/^(\{bs:|bs:)/, 'broker session (lease, lock, ledger index)'],
    [/^\{gov:/, 'governor (Kiwoom limits)'],
    [/^response:/, 'response (lockdown flags)'],
    [/^risk:/, 'risk (behaviour counters, baseline)'],
    [/^approval:/, 'approval'],
    [/^\{policy\}:trading-state/, 'policy (trading-state posture)'],
    [/^policy:|^\{/, 'policy (limits, counters)'],
  ];
  for (const [re, part] of rules) if (re.test(k)) return part;
  return `? (${cmd})`;
}

function describe(s: Seen): string {
  const cmd = s.args[0]!.toUpperCase();
  // EVALSHA sha numkeys key...: name the first key.
  const key = cmd === 'EVALSHA' || cmd === 'EVAL' ? s.args[3] : s.args[1];
  const shownKey = key
    ?.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/[0-9a-f]{16,}/g, '<hex>')
    .replace(/:\d{4,}/g, ':<n>');
  return `${cmd} ${shownKey ?? ''} [${partOf(cmd, key)}]`;
}

/**
 * Sequential waits on the call's path: the store's methods are wrapped to
 * record when each op starts and ends; ops that overlap in time share one
 * wait (issued together, e.g. Promise.all), so the waits are the busy periods.
 */
const STORE_OPS = [
  'get',
  'mget',
  'set',
  'setIfAbsent',
  'del',
  'incr',
  'expire',
  'hget',
  'hmget',
  'hset',
  'hdel',
  'hgetall',
  'consume',
  'peek',
  'publish',
] as const;
const opSpans: { start: number; end: number; op: string }[] = [];
function instrument(store: Record<string, unknown>): void {
  for (const name of STORE_OPS) {
    const inner = store[name] as (...a: unknown[]) => Promise<unknown>;
    store[name] = async (...a: unknown[]) => {
      const span = { start: nowMs(), end: Infinity, op: name };
      opSpans.push(span);
      try {
        return await inner(...a);
      } finally {
        span.end = nowMs();
      }
    };
  }
}
function busyPeriods(spans: { start: number; end: number }[]): number {
  let n = 0;
  let busyUntil = -Infinity;
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    if (s.start > busyUntil) n++;
    busyUntil = Math.max(busyUntil, s.end);
  }
  return n;
}

/** When the sidecar last called res.end on a bot's response (its listening port only, not the simulator's). */
let answeredAt = 0;
let sidecarPort = 0;
const originalEnd = ServerResponse.prototype.end;
function markAnswers(): void {
  ServerResponse.prototype.end = function (this: ServerResponse, ...a: unknown[]) {
    if (this.req?.socket.localPort === sidecarPort) answeredAt = nowMs();
    return (originalEnd as (...x: unknown[]) => ServerResponse).apply(this, a);
  } as typeof originalEnd;
}

let redis: RedisProcess;
let h: Harness;
let monitor: Redis;
const log: Seen[] = [];
t.before(async () => {
  redis = await startRedis();
  h = await startHarness({
    config: {
      // Periodic work (generation check, broker-session sweep, the sweep for lockdown cancel-all retries nobody
      // follows: one HGETALL per replica every retryIntervalMs) out of the measuring windows.
      state: { backend: 'redis', redis: { url: redis.url, generationCheckMs: 3_600_000 } },
      brokerTokens: { sweepIntervalMs: 3_600_000 },
      response: { cancel: { retryIntervalMs: 3_600_000, followLeaseMs: 7_200_000 } },
    },
  });
  instrument(h.sidecar.parts.store as unknown as Record<string, unknown>);
  sidecarPort = Number(new URL(h.url).port);
  markAnswers();
  const client = new Redis(redis.url, { lazyConnect: true });
  await client.connect();
  monitor = await client.monitor();
  monitor.on('monitor', (time: string, args: string[], source: string) => {
    // "lua" marks commands a script ran inside Redis: no extra round trip.
    if (source === 'lua') return;
    log.push({ at: Number(time) * 1000, args: args.map(String), source });
  });
  client.disconnect();
});
t.teardown(async () => {
  ServerResponse.prototype.end = originalEnd;
  monitor?.disconnect();
  await h?.close();
  await redis?.cleanup();
});

async function measure(kind: 'query' | 'order', token: string) {
  const [apiId, body, path] = kind === 'order' ? ['kt10000', BUY, '/api/dostk/ordr'] : ['kt00001', QUERY, '/api/dostk/acnt'];
  // Quiet before: nothing from earlier calls still running.
  await new Promise((r) => setTimeout(r, 300));
  log.length = 0;
  opSpans.length = 0;
  answeredAt = 0;
  const start = nowMs();
  const res = await request(h.url + path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': apiId, authorization: `Bearer ${token}` },
  });
  const text = await res.body.text();
  const answered = answeredAt;
  if (answered === 0) throw new Error('the sidecar answered without res.end');
  await h.waitNoLiveTokens(20_000); // revocation ran
  await new Promise((r) => setTimeout(r, 300)); // after-response bookkeeping settles
  const seen = log.filter((s) => s.at >= start - 1).sort((a, b) => a.at - b.at);
  const critical = seen.filter((s) => s.at <= answered);
  const after = seen.filter((s) => s.at > answered);
  const waits = busyPeriods(opSpans.filter((o) => o.start <= answered));
  return { ok: JSON.parse(text).return_code === 0, text, critical, after, waits, ms: answered - start };
}

function breakdown(list: Seen[], origin: number): string {
  return list.map((s) => `    +${((s.at - origin) * 1000).toFixed(0).padStart(6)} µs  ${describe(s)}`).join('\n');
}

t.test('Redis round trips per call (query, order) with a per-command breakdown', async (t) => {
  const token = await h.token();
  // Warm-up: scripts loaded (EVALSHA hits), policy and risk state created, connections warm.
  for (let i = 0; i < 3; i++) {
    await measure('query', token);
    await measure('order', token);
  }
  // Quiet window: nothing runs in the background while nobody calls.
  log.length = 0;
  await new Promise((r) => setTimeout(r, 500));
  t.same(log.map(describe), [], "no background Redis traffic while idle (the counts below are the calls' own)");

  for (const kind of ['query', 'order'] as const) {
    const runs = [await measure(kind, token), await measure(kind, token)];
    for (const r of runs) t.ok(r.ok, `${kind} forwarded: ${r.text.slice(0, 100)}`);
    const [a, b] = runs as [Awaited<ReturnType<typeof measure>>, Awaited<ReturnType<typeof measure>>];
    // Split by time against the response, so a command may land on either side on a loaded machine.
    // Which side of the response an unawaited settle or unlock lands on varies with load; the total does not.
    const totalA = a.critical.length + a.after.length,
      totalB = b.critical.length + b.after.length;
    t.ok(
      Math.abs(totalA - totalB) <= 1,
      `${kind}: the same total count twice, within one (${totalA}, ${totalB}; critical ${a.critical.length}, ${b.critical.length})`,
    );
    // The bounds judge the quieter run: an unawaited unlock issued before res.end may reach Redis on
    // either side of it. A command added to the critical path shows in both runs.
    const q = a.critical.length <= b.critical.length ? a : b;
    const waits = Math.min(a.waits, b.waits);
    const origin = q.critical[0]?.at ?? 0;
    t.comment(
      [
        `MEASURED ${kind}: ${q.critical.length} commands before the response in ${q.waits} sequential waits, call took ${q.ms.toFixed(2)} ms; ${q.after.length} after; total ${q.critical.length + q.after.length}`,
        '  critical path:',
        breakdown(q.critical, origin),
        '  after the response:',
        breakdown(q.after, origin),
      ].join('\n'),
    );
    t.ok(q.critical.length <= BOUNDS[kind].critical, `${kind}: critical path ${q.critical.length} <= ${BOUNDS[kind].critical}`);
    t.ok(waits <= BOUNDS[kind].waits, `${kind}: ${waits} sequential Redis waits before the response <= ${BOUNDS[kind].waits} (runs: ${a.waits}, ${b.waits})`);
    t.ok(q.critical.length + q.after.length <= BOUNDS[kind].total, `${kind}: total ${q.critical.length + q.after.length} <= ${BOUNDS[kind].total}`);
  }
});
