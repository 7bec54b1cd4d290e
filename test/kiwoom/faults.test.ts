// Upstream faults: the bot gets a clear error, the broker token is revoked on
// every path (retried until Kiwoom accepts), and nothing is sent twice.
import t from 'tap';
import { request } from 'undici';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { upstream: { target: 'custom', headersTimeoutMs: 1500, bodyTimeoutMs: 1500 } } });
});
t.teardown(() => h.close());
t.afterEach(() => h.sim.faults.clear());

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

function sent(apiId: string): number {
  return h.sim.requestLog().filter((r) => r.apiId === apiId).length;
}

async function metric(name: string): Promise<number> {
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

t.test('upstream 5xx: the answer comes back, the order is not retried, the token is revoked', async (t) => {
  const token = await h.token();
  const n = sent('kt10000');
  h.sim.faults.set({ fail5xxNext: 1 });
  const r = await h.call('kt10000', BUY, { token });
  t.equal(r.status, 500);
  t.not(r.json.return_code, 0);
  t.equal(sent('kt10000') - n, 1, 'sent exactly once');
  await h.waitNoLiveTokens();
});

t.test('upstream time-out on a written order: KG5011 (fate unknown, naming the KG5002 time-out), sent once, token revoked', async (t) => {
  const token = await h.token();
  const n = sent('kt10000');
  h.sim.faults.set({ hangNext: 1 });
  const r = await h.call('kt10000', BUY, { token });
  t.equal(r.status, 502, r.text);
  t.match(r.json.return_msg, /KG5011:KG5002/);
  t.equal(sent('kt10000') - n, 1, 'not retried');
  await h.waitNoLiveTokens();
});

t.test('dropped connection on a written order: KG5011 (fate unknown, naming the KG5001 drop), sent once, token revoked', async (t) => {
  const token = await h.token();
  const n = sent('kt10000');
  h.sim.faults.set({ dropNext: 1 });
  const r = await h.call('kt10000', BUY, { token });
  t.equal(r.status, 502, r.text);
  t.match(r.json.return_msg, /KG5011:KG5001/);
  t.equal(sent('kt10000') - n, 1);
  await h.waitNoLiveTokens();
});

t.test('token issue failure: KG5004 and the TR call is never sent', async (t) => {
  const token = await h.token();
  const n = sent('ka10001');
  h.sim.faults.set({ tokenFailNext: 1 });
  const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(r.status, 502, r.text);
  t.match(r.json.return_msg, /KG5004/);
  t.equal(sent('ka10001') - n, 0);
});

t.test('failing revoke is retried with backoff until it succeeds, off the bot critical path', async (t) => {
  const token = await h.token();
  const failuresBefore = await metric('kguard_broker_token_revoke_failures_total{final="false"}');
  h.sim.faults.set({ revokeFailNext: 3 });
  const t0 = performance.now();
  const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
  const ms = performance.now() - t0;
  t.equal(r.json.return_code, 0, 'the bot got its answer');
  t.equal(h.sim.liveTokens(), 1, 'the token is still live right after the response: the bot did not wait for the revoke');
  t.comment(`answered in ${ms.toFixed(1)} ms while the revoke was still failing`);
  await h.waitNoLiveTokens(20_000);
  const failuresAfter = await metric('kguard_broker_token_revoke_failures_total{final="false"}');
  t.equal((failuresAfter || 0) - (failuresBefore || 0), 3, 'three failed attempts counted');
  // The ledger entry is forgotten (one fsync) after Kiwoom confirmed the revoke: wait for it, do not race it.
  await waitFor(async () => (await metric('kguard_broker_tokens_outstanding')) === 0, 20_000, 'no outstanding token');
  t.pass('nothing outstanding');
});

t.test('a token Kiwoom no longer knows ([8015] on revoke) counts as revoked: no retries, the key is free at once', async (t) => {
  const token = await h.token();
  await h.waitNoLiveTokens(20_000);
  const failuresBefore = (await metric('kguard_broker_token_revoke_failures_total{final="false"}')) || 0;
  // A cadence keeps the token between calls; then Kiwoom forgets its tokens (the simulator reset,
  // the app registered again), so the sidecar's revoke at the end of the linger is refused [8015].
  for (let i = 0; i < 3; i++) {
    t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0);
    await new Promise((r) => setTimeout(r, 100));
  }
  h.sim.reset();
  h.sim.registerApp({
    appKey: CANARY.appKey,
    secretKey: CANARY.secretKey,
    accountNo: CANARY.account,
    cash: 500_000_000,
    holdings: [{ stkCd: '005930', qty: 1000, avgPrice: 70_000 }],
  });
  await waitFor(async () => (await metric('kguard_broker_tokens_outstanding')) === 0, 20_000, 'the token given up');
  t.equal(((await metric('kguard_broker_token_revoke_failures_total{final="false"}')) || 0) - failuresBefore, 0, 'no revoke retried');
  const gone = async () =>
    (await readAuditRecords(path.join(h.dataDir, 'audit'))).filter((r) => r.type === 'broker_token.revoked' && r.data.notRegistered === true);
  await waitFor(async () => (await gone()).length === 1, 20_000, 'the revoke audit record');
  t.equal((await gone()).length, 1, 'its audit record says Kiwoom no longer knew the token');
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0, 'the next call gets a new token');
});

t.test('the bot disconnecting mid-call still ends in revocation', async (t) => {
  const token = await h.token();
  h.sim.faults.set({ latencyMs: 300 });
  const ac = new AbortController();
  const p = request(`${h.url}/api/dostk/stkinfo`, {
    method: 'POST',
    body: '{"stk_cd":"005930"}',
    signal: ac.signal,
    headers: { 'content-type': 'application/json', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
  }).catch((e: Error) => e);
  await waitFor(() => h.sim.stats().tokensIssued > 0 && h.sim.liveTokens() > 0, 20_000, 'token issued');
  ac.abort();
  t.type(await p, Error, 'the client gave up');
  await h.waitNoLiveTokens(20_000);
  t.pass('no broker token left live');
});

// Kiwoom's own [1700] (return_code 5), and a bare 429 from a gateway in front of Kiwoom (an HTML page, no return_code):
// both slow the key, a query is retried, an order is refused for rate and never sent twice.
for (const [what, fault, code] of [
  ['rate limited by Kiwoom [1700]', { rateLimitNext: 1 }, '1700'],
  ['a bare 429 from a gateway in front of Kiwoom', { gatewayRateLimitNext: 1 }, '429'],
] as const) {
  t.test(`${what}: a query is retried after a pause, an order is never sent twice`, async (t) => {
    const token = await h.token();
    const counted = `kguard_upstream_refusals_total{code="${code}"}`;
    const before = await metric(counted);
    h.sim.faults.set(fault);
    const q = await h.call('ka10001', { stk_cd: '005930' }, { token });
    t.equal(q.json.return_code, 0, `the query was retried and answered: ${q.text}`);
    t.equal((await metric(counted)) - (before || 0), 1, 'the refusal is counted');
    const orders = h.sim.orders(CANARY.account).length;
    h.sim.faults.set(fault);
    const o = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '60000', trde_tp: '0' }, { token });
    t.equal(o.status, 429, o.text);
    t.equal(o.json.return_code, 5, "Kiwoom's rate-limit return_code");
    t.match(o.json.return_msg, new RegExp(`KG5006.*${code}`));
    t.match(String(o.headers['retry-after']), /^\d+$/);
    t.equal(h.sim.orders(CANARY.account).length, orders, 'the refused order was not sent again');
    await h.waitNoLiveTokens();
  });
}

t.test('concurrent calls: every broker token is revoked', async (t) => {
  const token = await h.token();
  const before = h.sim.stats();
  const results = await Promise.all(Array.from({ length: 20 }, () => h.call('ka10001', { stk_cd: '005930' }, { token })));
  // On a loaded CI machine some calls may hit this harness's short 500 ms upstream
  // time-out; each still gets a Kiwoom-shaped answer and its token must still be revoked.
  t.ok(
    results.every((r) => typeof r.json.return_code === 'number'),
    'every call got a Kiwoom-shaped answer',
  );
  t.ok(results.filter((r) => r.json.return_code === 0).length >= 10, 'most succeeded');
  await h.waitNoLiveTokens(20_000);
  const after = h.sim.stats();
  const issued = after.tokensIssued - before.tokensIssued;
  t.ok(issued >= 1 && issued < 20, `concurrent calls share the key's token (${issued} issued for 20 calls)`);
  t.equal(after.tokensRevoked - before.tokensRevoked, issued, 'and every one was revoked');
});

t.test('the broker-session ledger cannot record an issue: the call fails closed and the key is not left without token-issue slots', async (t) => {
  const token = await h.token();
  await h.waitNoLiveTokens();
  // Every write of the ledger fails while its file's place is taken by a directory. The last revoke's ledger write
  // (temp file, fsync, rename) can still land after the simulator saw the revoke: the place is taken once it stays
  // taken (a later rename onto the directory fails, as every write should now).
  const ledger = path.join(h.dataDir, 'broker-sessions.json');
  let saved = Buffer.alloc(0);
  await waitFor(
    async () => {
      saved = await readFile(ledger);
      await rm(ledger);
      return mkdir(ledger).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'EEXIST') return false;
          throw err;
        },
      );
    },
    20_000,
    "the ledger's place taken by a directory",
  );
  const issued = h.sim.stats().tokensIssued;
  // Two failures: as many as Kiwoom's token-issue limit allows per second (2).
  for (let i = 0; i < 2; i++) {
    const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
    t.not(r.json.return_code, 0, 'refused while the intent cannot be recorded');
    t.match(r.json.return_msg, /KG7001/);
  }
  t.equal(h.sim.stats().tokensIssued, issued, 'no token was issued without its intent on disk');
  await rmdir(ledger);
  await writeFile(ledger, saved, { mode: 0o600 });
  const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(r.json.return_code, 0, `the key issues again once the ledger can be written (${r.text})`);
  await h.waitNoLiveTokens();
});
