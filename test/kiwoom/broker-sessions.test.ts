// One broker session per app key and the call governor, end to end: the real
// sidecar (memory state) in front of the faithful simulator (one token per
// app key, 2 issues/s, 5/s per api-id and per order group, 20/s total).
import t from 'tap';
import type { Test } from 'tap';
import { CANARY, startHarness, sleep, waitFor, type CallResult, type Harness } from '../helpers/harness.js';

const QUOTE = { stk_cd: '005930' };
const BALANCE = { qry_tp: '1', dmst_stex_tp: 'KRX' };
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '60000', trde_tp: '0' };

/** Adds bots that share the harness bot's app key (one account, one key, several strategies). */
async function addBotsOnSameKey(h: Harness, ids: string[]): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  for (const id of ids) tokens.set(id, await h.addBot(id, ['kind:query', 'kind:account', 'kind:order', 'kind:modify', 'kind:cancel']));
  return tokens;
}

function refusalsAtSim(h: Harness): number {
  const r = h.sim.stats().refusals;
  return Object.values(r).reduce((a, b) => a + b, 0);
}

/**
 * Refusals Kiwoom made, as a bot sees them: passed on with no sidecar code, or the sidecar's saying Kiwoom refused
 * (the governor's own refusals carry Kiwoom's [1700] too, so a client backs off on them: those are not Kiwoom's).
 */
function kiwoomRefused(msg: string): boolean {
  return (/\[(8005|1700|1701|1702|8010)/.test(msg) && !/\[KG\d{4}/.test(msg)) || /KG5006:Kiwoom refused|KG5004/.test(msg);
}

function noKiwoomRefusal(t: Test, results: CallResult[]): void {
  const raw = results.filter((r) => kiwoomRefused(String(r.json.return_msg)));
  t.equal(
    raw.length,
    0,
    `no raw Kiwoom refusal reaches a bot (${raw
      .slice(0, 2)
      .map((r) => r.text)
      .join(' | ')})`,
  );
}

t.test('three bots on one app key share one broker token; nothing is refused upstream; it is revoked when idle', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const toks = await addBotsOnSameKey(h, ['bot-a', 'bot-b', 'bot-c']);
  const results: CallResult[] = [];
  // Each bot: a quote every ~150 ms, a balance now and then: about 6-7 calls/s on one key.
  await Promise.all(
    [...toks.values()].map(async (token, i) => {
      for (let n = 0; n < 12; n++) {
        results.push(await h.call(n % 4 === 3 ? 'kt00018' : 'ka10001', n % 4 === 3 ? BALANCE : QUOTE, { token }));
        await sleep(150 + i * 10);
      }
    }),
  );
  t.equal(results.filter((r) => r.json.return_code === 0).length, results.length, 'every call succeeded');
  noKiwoomRefusal(t, results);
  const s = h.sim.stats();
  t.equal(refusalsAtSim(h), 0, `the simulator refused nothing (${JSON.stringify(s.refusals)})`);
  t.ok(s.tokensIssued >= 1 && s.tokensIssued < results.length, `tokens were shared: ${s.tokensIssued} issues for ${results.length} calls`);
  t.ok(s.peakIssuesPerSecond <= 2, `au10001 stayed within its limit (peak ${s.peakIssuesPerSecond}/s)`);
  await h.waitNoLiveTokens(20_000);
  const scrape = async () => (await fetch(`${h.adminUrl}/metrics`)).text();
  t.match(await scrape(), /kguard_broker_token_live_seconds_total [0-9.]+/, 'exposure is counted, with no label per key');
  // The simulator ends the token before its answer to the revoke reaches the replica, which then lets go of it.
  let metrics = '';
  await waitFor(async () => /kguard_broker_token_oldest_live_seconds 0\n/.test((metrics = await scrape())), 20_000, 'the replica holds no token').catch(
    () => undefined,
  );
  t.match(metrics, /kguard_broker_token_oldest_live_seconds 0\n/, 'and no token is live now');
  t.notMatch(metrics, new RegExp(CANARY.appKey), 'no app key in metrics');
});

t.test("a token revoked behind the sidecar's back: the next call re-issues once and succeeds", async (t) => {
  // Keep the token between calls so there is one for Kiwoom to revoke under us.
  const h = await startHarness({ config: { brokerTokens: { idleRevokeMs: 60_000 } } });
  t.teardown(() => h.close());
  const token = await h.token();
  t.equal((await h.call('ka10001', QUOTE, { token })).json.return_code, 0);
  t.equal(h.sim.liveTokens(), 1, 'the token lingers (idleRevokeMs)');
  const issued = h.sim.stats().tokensIssued;
  t.equal(h.sim.revokeAll(), 1, "revoked behind the sidecar's back");
  const results = await Promise.all([1, 2, 3].map(() => h.call('ka10001', QUOTE, { token })));
  for (const r of results) t.equal(r.json.return_code, 0, r.text);
  noKiwoomRefusal(t, results);
  t.equal(h.sim.stats().tokensIssued, issued + 1, 'exactly one re-issue, no storm');
  t.ok(h.sim.stats().refusals['8005'] <= 3, 'at most the in-flight calls met the revoked token once');
  const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
  t.match(metrics, /kguard_broker_token_reissues_total\{reason="8005"\} [1-9]/);
});

t.test('overload at 10+ calls/s on one key: success or a clear limit error with retry-after; Kiwoom refuses nothing; no order twice', async (t) => {
  // The bot is impatient here (the default short waits), unlike the harness's patient default.
  const h = await startHarness({ config: { upstream: { limits: { queryMaxWaitMs: 1_000, orderMaxWaitMs: 200, cancelMaxWaitMs: 5_000 } } } });
  t.teardown(() => h.close());
  const token = await h.token();
  const before = h.sim.orders(CANARY.account).length;
  const calls: Promise<{ kind: string; r: CallResult }>[] = [];
  for (let i = 0; i < 30; i++) {
    const order = i % 3 === 0;
    calls.push(
      h
        .call(order ? 'kt10000' : 'ka10001', order ? { ...BUY, ord_uv: String(60_000 - i * 10) } : QUOTE, { token })
        .then((r) => ({ kind: order ? 'order' : 'query', r })),
    );
    await sleep(50);
  }
  const results = await Promise.all(calls);
  let limited = 0;
  for (const { r } of results) {
    if (r.json.return_code === 0) continue;
    limited++;
    t.equal(r.status, 429, r.text);
    t.equal(r.json.return_code, 5, "Kiwoom's rate-limit return_code, so existing bot code handles it");
    t.match(r.json.return_msg, /KG5006/);
    t.match(String(r.headers['retry-after']), /^\d+$/, 'retry-after tells when to come back');
  }
  t.ok(limited > 0, `the sidecar refused ${limited} of ${results.length} calls itself`);
  noKiwoomRefusal(
    t,
    results.map((x) => x.r),
  );
  t.equal(refusalsAtSim(h), 0, `the simulator refused nothing (${JSON.stringify(h.sim.stats().refusals)})`);
  const okOrders = results.filter((x) => x.kind === 'order' && x.r.json.return_code === 0).length;
  t.equal(h.sim.orders(CANARY.account).length - before, okOrders, 'every accepted order reached Kiwoom exactly once; no refused order was sent');
});

t.test("calls far apart get the seed's promise: a token per call, revoked after each", async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const token = await h.token();
  for (let i = 0; i < 3; i++) {
    t.equal((await h.call('ka10001', QUOTE, { token })).json.return_code, 0);
    await h.waitNoLiveTokens(20_000);
  }
  t.equal(h.sim.stats().tokensIssued, 3);
  t.equal(h.sim.stats().tokensRevoked, 3);
});

t.test('a slow upstream: overlapping calls of several bots never see their shared token revoked', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  h.sim.faults.set({ latencyMs: 250 });
  const toks = [...(await addBotsOnSameKey(h, ['slow-a', 'slow-b'])).values()];
  const results: CallResult[] = [];
  await Promise.all(
    toks.map(async (token, i) => {
      await sleep(i * 120);
      for (let n = 0; n < 4; n++) results.push(await h.call('ka10001', QUOTE, { token }));
    }),
  );
  t.equal(results.filter((r) => r.json.return_code === 0).length, results.length);
  t.equal(h.sim.stats().refusals['8005'], 0, 'no call ever used a revoked token');
  h.sim.faults.clear();
  await h.waitNoLiveTokens(20_000);
});

t.test('admin API lists live sessions by key fingerprint, never the token', async (t) => {
  const h = await startHarness({ config: { brokerTokens: { idleRevokeMs: 60_000 } } });
  t.teardown(() => h.close());
  let issued = '';
  t.equal((await h.call('ka10001', QUOTE)).json.return_code, 0);
  issued = String(h.sim.liveTokens());
  const admin = await h.adminToken('viewer', 'viewer');
  const r = await h.admin('GET', '/admin/v1/broker-sessions', admin);
  t.equal(r.status, 200, r.text);
  const sessions = r.json.sessions as { key: string; state: string; leases: number; ageMs: number; expiresAt: string }[];
  t.equal(sessions.length, 1, issued);
  t.match(sessions[0], { key: /^[0-9a-f]{32}$/, state: 'live', issuedBy: h.botId });
  t.ok(sessions[0]!.leases >= 0 && typeof sessions[0]!.ageMs === 'number' && /^\d{4}-/.test(sessions[0]!.expiresAt));
  t.notMatch(r.text, /token"|sealed/, 'no token or sealed token in the listing');
});

t.test("lockdown under load: new orders stop at once; cancels go first, at the key's limit", async (t) => {
  const h = await startHarness({ config: { risk: { enabled: false } } });
  t.teardown(() => h.close());
  const token = await h.token();
  // 20 resting orders, placed at the key's pace.
  for (let i = 0; i < 20; i++) {
    const r = await h.call('kt10000', { ...BUY, ord_uv: String(50_000 - i * 10) }, { token });
    t.equal(r.json.return_code, 0, r.text);
  }
  const open = () => h.sim.orders(CANARY.account).filter((o) => o.status === 'open').length;
  t.equal(open(), 20);
  // The bot keeps ordering while security presses the button.
  let stop = false;
  const background: CallResult[] = [];
  const loop = (async () => {
    while (!stop) background.push(await h.call('kt10000', { ...BUY, ord_uv: '40000' }, { token }));
  })();
  await waitFor(() => background.length >= 3, 10_000, 'background orders flowing');
  const lockAt = Date.now();
  const report = await h.sidecar.parts.responder.lockdown({ botId: h.botId, reason: 'drill under load', actor: 'sec-admin' });
  const lockedAt = Date.now();
  stop = true;
  await loop;
  t.equal(open(), 0, `every open order was cancelled (${JSON.stringify(report).slice(0, 300)})`);
  const log = h.sim.requestLog().filter((r) => r.time >= lockAt);
  const newOrders = log.filter((r) => r.apiId === 'kt10000' && r.returnCode === 0);
  const cancels = log.filter((r) => r.apiId === 'kt10003');
  t.ok(cancels.length >= 20, `${cancels.length} cancels went out`);
  const firstCancel = Math.min(...cancels.map((r) => r.time));
  t.equal(newOrders.filter((r) => r.time > firstCancel).length, 0, 'no new order reached Kiwoom once cancels started');
  t.equal(refusalsAtSim(h), 0, `cancels ran at the key's limit without a single refusal (${JSON.stringify(h.sim.stats().refusals)})`);
  const after = background.filter((r) => r.json.return_code !== 0);
  t.ok(
    after.every((r) => /KG3008|KG2007|KG2006|KG2004|KG4002|KG5006/.test(String(r.json.return_msg))),
    'orders after the button got a clear refusal',
  );
  t.comment(`cancel-all of 20 open orders under load: ${lockedAt - lockAt} ms for the whole lockdown`);
});

t.test('a token close to expires_dt is revoked and issued afresh before it is handed out', async (t) => {
  // Kiwoom's expires_dt has whole seconds: a 4 s token, renewed when under 2.5 s are left.
  const h = await startHarness({ sim: { tokenTtlMs: 4_000 }, config: { brokerTokens: { idleRevokeMs: 60_000, renewBeforeMs: 2_500 } } });
  t.teardown(() => h.close());
  const token = await h.token();
  t.equal((await h.call('ka10001', QUOTE, { token })).json.return_code, 0);
  t.equal(h.sim.stats().tokensIssued, 1);
  await sleep(2_000); // time to pass
  const r = await h.call('ka10001', QUOTE, { token });
  t.equal(r.json.return_code, 0, r.text);
  const s = h.sim.stats();
  t.equal(s.tokensIssued, 2, 'a fresh token was issued');
  t.equal(s.tokensRevoked, 1, 'the old one was revoked first (re-issuing a live token would return it)');
  t.equal(s.refusals['8005'], 0, 'no call met an expired token');
  const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
  t.match(metrics, /kguard_broker_token_reissues_total\{reason="renew"\} [1-9]/);
});

t.test('a token bound to another address [8010]: a clear error, a metric and a /readyz warning', async (t) => {
  const h = await startHarness({ sim: { bindTokenToAddress: true } });
  t.teardown(() => h.close());
  // Another replica (another egress address) issued the key's token first; Kiwoom hands us the same one.
  const { Agent } = await import('undici');
  const other = new Agent({ localAddress: '127.0.0.2' });
  t.teardown(() => other.close());
  const { call } = await import('../helpers/sim.js');
  const issued = await call(
    h.sim.url,
    '/oauth2/token',
    { grant_type: 'client_credentials', appkey: CANARY.appKey, secretkey: CANARY.secretKey },
    {},
    { dispatcher: other },
  );
  t.equal(issued.json.return_code, 0, issued.text);
  const r = await h.call('ka10001', QUOTE);
  t.equal(r.status, 502, r.text);
  t.match(r.json.return_msg, /KG5007/);
  t.notMatch(r.text, /8010.*Token을|token"/, "the bot gets the sidecar's error, not Kiwoom's raw refusal");
  const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
  t.match(metrics, /kguard_upstream_refusals_total\{code="8010"\} 1/);
  const ready = (await (await fetch(`${h.adminUrl}/readyz`)).json()) as { checks: Record<string, { ok: boolean; severity?: string; error?: string }> };
  t.equal(ready.checks.egress?.ok, false, `egress warns: ${JSON.stringify(ready.checks.egress)}`);
  t.match(h.logs(), /replicas sharing an app key must leave through one egress address/);
});
