// Approvals end to end through the real sidecar over HTTP against the simulator:
// a step-up-scored call held open (hold mode) and approved with a TOTP through
// the admin API; the pending mode (KG3004 + approval id, retry with the header,
// replay on a different body refused); and a warming-up bot at sustained load
// that must never be held.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { startHarness, CANARY, waitFor, type CallResult } from '../helpers/harness.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { approvalWorld, type ApprovalWorld } from '../helpers/approvers.js';
import { DEFAULT_RECOVERY_STEPS } from '../../proxy/response/config.js';
import { startWebhookServer } from '../helpers/webhook-server.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { kguardInProcess } from '../cli/run-cli.js';

const code = (r: CallResult): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];

async function world(t: Test, mode: 'hold' | 'pending', response: Record<string, unknown> = {}): Promise<ApprovalWorld> {
  return approvalWorld(t, { mode, config: { response } });
}

// From the bot's usual address, a first buy (new api-id) of a never-traded symbol: new_api + new_symbol,
// a step-up. (From a new address as well it is admin-level: a new source on an order weighs more since issue 17.)
const STEP_UP_BUY = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '1', ord_uv: '150000', trde_tp: '0' };

async function pendingApprovals(w: ApprovalWorld): Promise<Record<string, any>[]> {
  const r = await w.h.admin('GET', '/admin/v1/approvals?status=pending', w.admin);
  return r.json.approvals as Record<string, any>[];
}

t.test('hold mode: a step-up call waits, is approved with a TOTP through the admin API, and proceeds', async (t) => {
  const w = await world(t, 'hold');
  const held = w.h.call('kt10000', STEP_UP_BUY);
  let pending: Record<string, any>[] = [];
  await waitFor(async () => (pending = await pendingApprovals(w)).length === 1, 20_000, 'a pending approval');
  const a = pending[0]!;
  const { request } = await import('undici');
  const scrape = await (await request(`${w.h.adminUrl}/metrics`)).body.text();
  t.match(scrape, /^kguard_approvals_pending 1$/m, 'the held call shows in kguard_approvals_pending');
  t.equal(a.level, 'step_up');
  t.ok(a.score >= 0.7 && a.score < 0.9, `step-up score ${a.score}`);
  t.match(JSON.stringify(a.reasons), /이 봇이 쓴 적 없는 api-id/, 'the reasons in the sidecar language (Korean by default)');
  t.same(a.summary, STEP_UP_BUY, 'approvers see what they approve');
  t.notOk(
    w.h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'nothing forwarded while held',
  );

  const wrong = await w.h.admin('POST', `/admin/v1/approvals/${a.id}/approve`, w.approver, {
    code: '000000' === w.code() ? '111111' : '000000',
  });
  t.equal(wrong.status, 403, 'a wrong TOTP is refused');
  const ok = await w.h.admin('POST', `/admin/v1/approvals/${a.id}/approve`, w.approver, { code: w.code() });
  t.equal(ok.status, 200, `approved: ${ok.json.status}`);
  const res = await held;
  t.equal(res.json.return_code, 0, 'the held call proceeds once approved');
  t.ok(
    w.h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420' && o.side === 'buy'),
    'the order reached the simulator',
  );
  t.equal((await w.h.admin('GET', `/admin/v1/approvals/${a.id}`, w.admin)).json.status, 'consumed', 'single use: consumed');
});

t.test('pending mode: KG3004 with the approval id, retry succeeds, replay on another body refused', async (t) => {
  const w = await world(t, 'pending');
  const token = await w.h.token();
  const first = await w.h.call('kt10000', STEP_UP_BUY, { token });
  t.equal(first.status, 202);
  t.equal(code(first), 'KG3004', 'pending approval');
  const id = first.headers['x-kguard-approval-id'];
  t.match(id, /^[0-9a-f-]{36}$/, 'approval id header');
  t.notOk(
    w.h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'nothing forwarded',
  );

  const early = await w.h.call('kt10000', STEP_UP_BUY, { token, headers: { 'x-kguard-approval-id': String(id) } });
  t.equal(code(early), 'KG3004', 'retry before the decision: still pending');

  const ok = await w.h.admin('POST', `/admin/v1/approvals/${id}/approve`, w.approver, { code: w.code() });
  t.equal(ok.status, 200);

  const other = await w.h.call('kt10000', { ...STEP_UP_BUY, ord_qty: '500' }, { token, headers: { 'x-kguard-approval-id': String(id) } });
  t.equal(code(other), 'KG3009', 'the approval is bound to the exact call: another body is refused');
  t.notOk(
    w.h.sim.orders(CANARY.account).some((o) => o.qty === 500),
    'the other body never reached the broker',
  );

  // Each held call counts toward escalation (three within 72 h lock the bot down): the first, and the other body
  // just refused. The owner's approval takes its call's count off, though the approved call comes back as another
  // request. approvalWorld's clock stands at Wednesday 2026-01-07 11:00 Seoul.
  const hot = `risk:hot:${w.h.botId}:${Math.floor(seoulToEpoch('2026-01-07', 11, 0) / 86_400_000)}`;
  t.equal(await w.h.sidecar.parts.store.get(hot), '2', 'two held calls counted');
  const retry = await w.h.call('kt10000', STEP_UP_BUY, { token, headers: { 'x-kguard-approval-id': String(id) } });
  t.equal(retry.json.return_code, 0, 'retry with the approval id succeeds');
  t.equal(w.h.sim.orders(CANARY.account).filter((o) => o.stkCd === '035420').length, 1, 'exactly one order');
  await waitFor(async () => (await w.h.sidecar.parts.store.get(hot)) === '1', 10_000, "the approved call's count taken off");

  const replay = await w.h.call('kt10000', STEP_UP_BUY, { token, headers: { 'x-kguard-approval-id': String(id) } });
  t.equal(code(replay), 'KG3010', 'single use: a replay of the same call is refused');
  t.equal(w.h.sim.orders(CANARY.account).filter((o) => o.stkCd === '035420').length, 1, 'still exactly one order');
});

t.test('a held call is told to the approvers at once: an approval_requested webhook with its id, call and reasons, in Korean', async (t) => {
  const hooks = await startWebhookServer();
  t.teardown(() => hooks.close());
  const w = await world(t, 'pending', { webhooks: [{ url: `${hooks.url}/json`, kind: 'json' }], webhook: { backoffMs: 20, timeoutMs: 2000 } });
  const held = await w.h.call('kt10000', STEP_UP_BUY);
  t.equal(code(held), 'KG3004');
  const id = String(held.headers['x-kguard-approval-id']);
  const [hook] = await hooks.waitFor(1, 10_000, (x) => x.json.event === 'approval_requested');
  const alert = hook!.json as { title: string; lines: string[]; audience: string[]; details: Record<string, unknown> };
  t.match(alert, { severity: 'WARNING', audience: ['owner', 'admin'], botIds: [w.h.botId] });
  t.equal(alert.title, `승인 요청: ${w.h.botId} kt10000`);
  t.match(alert.details, { approvalId: id, apiId: 'kt10000', level: 'step_up', summary: { stk_cd: '035420', ord_qty: '1', ord_uv: '150000' } });
  const text = alert.lines.join('\n');
  t.match(text, /호출: .*stk_cd 035420/, 'the call as the approver reads it');
  t.match(text, /이 봇이 쓴 적 없는 api-id kt10000/, "the detectors' reasons");
  t.match(text, new RegExp(`kguard approvals approve ${id}`), 'how to approve it');
  t.notMatch(JSON.stringify(hook!.json), new RegExp(CANARY.account), 'no account number in the alert');
});

t.test(
  'a refused hold: the owner and admins are alerted, reads go on, but the next order of that bot locks it down, even its usual one (escalation.refusedOrdersHours)',
  async (t) => {
    const hooks = await startWebhookServer();
    t.teardown(() => hooks.close());
    const w = await world(t, 'pending', {
      webhooks: [
        { url: `${hooks.url}/json`, kind: 'json' },
        { url: `${hooks.url}/slack`, kind: 'slack' },
      ],
      webhook: { backoffMs: 20, timeoutMs: 2000 },
    });
    const token = await w.h.token();
    const first = await w.h.call('kt10000', STEP_UP_BUY, { token });
    t.equal(code(first), 'KG3004', 'held');
    const id = String(first.headers['x-kguard-approval-id']);
    const refused = await w.h.admin('POST', `/admin/v1/approvals/${id}/refuse`, w.approver, { reason: 'not my order <!here>' });
    t.equal(refused.status, 200, `refused: ${refused.json.status}`);
    // A sign of compromise: told at once, before the bot's next order, in Korean by default; Slack gets the reason as text.
    const [hook] = await hooks.waitFor(1, 10_000, (x) => x.path === '/json' && x.json.event === 'approval_refused');
    t.match(hook!.json, {
      severity: 'CRITICAL',
      audience: ['owner', 'admin'],
      botIds: [w.h.botId],
      title: `봇이 하지 않은 호출로 거절됨: ${w.h.botId} kt10000`,
    });
    t.match(hook!.json.details, { approvalId: id, approver: 'bob', summary: { stk_cd: '035420' } });
    t.match((hook!.json.lines as string[]).join('\n'), /거절: bob: not my order <!here>[\s\S]*kguard lockdown --bot/);
    t.notMatch(JSON.stringify(hook!.json), new RegExp(CANARY.account), 'no account number in the alert');
    const [slack] = await hooks.waitFor(1, 10_000, (x) => x.path === '/slack' && /거절됨/.test(String(x.json.text)));
    t.match(JSON.stringify(slack!.json.blocks), /not my order &lt;!here&gt;/, 'Slack reads the reason as text');
    const retry = await w.h.call('kt10000', STEP_UP_BUY, { token, headers: { 'x-kguard-approval-id': id } });
    t.equal(code(retry), 'KG3006', 'the refused call stays refused');

    t.equal((await w.h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0, 'a quote still goes out');
    // The bot's usual order (one share of 005930, as it sold every fifteen minutes for two days): after the refusal, a lockdown.
    const usual = await w.h.call('kt10001', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '90300', trde_tp: '0' }, { token });
    t.equal(code(usual), 'KG3008', `locked down: ${usual.text}`);
    t.notOk(
      w.h.sim.orders(CANARY.account).some((o) => o.apiId === 'kt10001' && o.price === 90_300),
      'it did not reach the broker',
    );
    t.notOk(
      w.h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
      'nor did the refused one',
    );
    const quote = await w.h.call('ka10001', { stk_cd: '005930' }, { token });
    t.not(quote.json.return_code, 0, `the locked bot's ordinary calls are refused too: ${quote.text}`);

    // After the recovery and the unlock the bot starts again: its first order is not locked down by the old refusal.
    const incidents = (await w.h.admin('GET', '/admin/v1/incidents', w.admin)).json.incidents as { id: string }[];
    t.equal(incidents.length, 1, 'one incident');
    const id2 = incidents[0]!.id;
    for (const step of DEFAULT_RECOVERY_STEPS.ko)
      t.equal((await w.h.admin('POST', `/admin/v1/incidents/${id2}/steps/${step.id}/confirm`, w.admin, {})).status, 200);
    t.equal((await w.h.admin('POST', `/admin/v1/incidents/${id2}/approve-unlock`, w.admin, {})).status, 200);
    t.equal((await w.h.admin('POST', `/admin/v1/incidents/${id2}/unlock`, w.admin, {})).status, 200, 'unlocked');
    const again = await w.h.call('kt10001', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '90400', trde_tp: '0' });
    t.equal(again.json.return_code, 0, `its usual order goes out after the unlock: ${again.text}`);
  },
);

t.test("a held call declined as the bot's own (ownCall): refused, audited as such, and the bot's next order goes out", async (t) => {
  const w = await world(t, 'pending');
  const token = await w.h.token();
  const first = await w.h.call('kt10000', STEP_UP_BUY, { token });
  t.equal(code(first), 'KG3004', 'held');
  const id = String(first.headers['x-kguard-approval-id']);
  const bad = await w.h.admin('POST', `/admin/v1/approvals/${id}/refuse`, w.approver, { reason: 'mine', ownCall: 'yes' });
  t.equal(bad.status, 400, 'ownCall must be a boolean');
  t.match(bad.json.return_msg, /ownCall must be true or false/);
  t.equal((await w.h.admin('GET', `/admin/v1/approvals/${id}`, w.admin)).json.status, 'pending', 'a bad request changes nothing');

  // Declined with the CLI, as the approval alert says.
  const tokenFile = path.join(w.h.dataDir, 'bob.token');
  await writeFile(tokenFile, w.approver, { mode: 0o600 });
  const cli = await kguardInProcess([
    'approvals',
    'refuse',
    id,
    '--own-call',
    '--reason',
    'too large today',
    '--admin-url',
    `${w.h.adminUrl}/admin/v1`,
    '--token-file',
    tokenFile,
  ]);
  t.equal(cli.code, 0, cli.stderr);
  t.equal(cli.stdout, `승인 요청 ${id}: refused (봇 자신의 호출로 보고 거절함)\n`, 'in Korean, the configured language');
  const admin = ['--admin-url', `${w.h.adminUrl}/admin/v1`, '--token-file', tokenFile];
  const listed = await kguardInProcess(['approvals', 'list', '--status', 'refused', ...admin]);
  t.match(listed.stdout, new RegExp(`^${id}  declined step_up 봇=`, 'm'), 'the list tells a decline from a refusal');
  const listedEn = await kguardInProcess(['approvals', 'list', '--status', 'refused', '--lang', 'en', ...admin]);
  t.match(listedEn.stdout, new RegExp(`^${id}  declined step_up bot=`, 'm'), 'in English with --lang en');
  const json = await Promise.all(['ko', 'en'].map(async (lang) => (await kguardInProcess(['approvals', 'list', '--json', '--lang', lang, ...admin])).stdout));
  t.equal(json[0], json[1], '--json is not translated');
  const declined = await w.h.admin('GET', `/admin/v1/approvals/${id}`, w.admin);
  t.match(declined.json, { status: 'refused', refusal: { approver: 'bob', reason: 'too large today', ownCall: true } });
  const retry = await w.h.call('kt10000', STEP_UP_BUY, { token, headers: { 'x-kguard-approval-id': id } });
  t.equal(code(retry), 'KG3006', 'the declined call stays refused');
  t.notOk(
    w.h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'and never reached the broker',
  );
  // The same usual sell that a refusal turns into a lockdown (the test above) goes out after a decline.
  const usual = await w.h.call('kt10001', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '90300', trde_tp: '0' }, { token });
  t.equal(usual.json.return_code, 0, `the bot's usual order goes out: ${usual.text}`);
  t.same((await w.h.admin('GET', '/admin/v1/incidents', w.admin)).json.incidents, [], 'no incident');
  const refusal = (await readAuditRecords(path.join(w.h.dataDir, 'audit'))).find(
    (r) => r.type === 'approval' && r.data.approvalId === id && r.data.action === 'refused',
  );
  t.match(refusal?.data, { approver: 'bob', reason: 'too large today', ownCall: true }, "the audit record says it was declined as the bot's own call");
});

t.test('warm-up bot at sustained load is never held (through the sidecar)', async (t) => {
  // A bot with no history at 03:00 Seoul (outside sessions: an absolute rule fires) sends
  // orders as fast as 10 connections allow, the foundation benchmark's shape.
  const base = seoulToEpoch('2026-01-08', 3, 0);
  const t0 = Date.now();
  // About the risk engine, not Kiwoom's limits: 600 orders at Kiwoom's 5/s would take two minutes,
  // so this runs against the idealised simulator with the governor off.
  const h = await startHarness({
    clock: () => base + (Date.now() - t0),
    sim: { ideal: true },
    config: { approval: { mode: 'hold', holdSeconds: 3 }, upstream: { limits: 'off' } },
  });
  t.teardown(() => h.close());
  const token = await h.token();
  const TOTAL = 600,
    CONNECTIONS = 10;
  const codes: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < TOTAL) {
        next++;
        const r = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '71000', trde_tp: '0' }, { token });
        const k = r.json.return_code === 0 ? 'ok' : (code(r) ?? `rc${String(r.json.return_code)}`);
        codes[k] = (codes[k] ?? 0) + 1;
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  t.comment(`${TOTAL} orders in ${secs.toFixed(2)} s (${(TOTAL / secs).toFixed(0)}/s) from a bot with no history: ${JSON.stringify(codes)}`);
  t.same(codes, { ok: TOTAL }, 'every order forwarded, none held');
  const all = await h.sidecar.parts.approvals.list({});
  t.equal(all.length, 0, 'no approval was ever requested');
  const metrics = await h.sidecar.parts.registry.metrics();
  t.match(metrics, /kguard_risk_detector_hits_total\{detector="burst"\} [1-9]/, 'the burst was seen (and explained), only not held');
});

t.test('pending approvals are exported as a gauge', async (t) => {
  const { request } = await import('undici');
  const { startHarness } = await import('../helpers/harness.js');
  const h = await startHarness();
  t.teardown(() => h.close());
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  t.match(text, /^kguard_approvals_pending 0$/m, 'zero while nothing waits');
});
