// The compromise drill (issue 8), end to end through the real sidecar over HTTP
// against the simulator: a bot with a learned daytime baseline and ~50 resting
// orders suddenly tries to sell everything at 03:00 Seoul from a new address.
// Expected: the call is refused, the bot is locked automatically, every open
// order is cancelled, both webhooks arrive, later calls get KG3008, the
// incident report is complete, and unlock waits for the checklist and approvals.
import t from 'tap';
import { Agent } from 'undici';
import { startHarness, CANARY, type Harness, type CallResult } from '../helpers/harness.js';
import { startWebhookServer, type WebhookServer } from '../helpers/webhook-server.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { DEFAULT_RECOVERY_STEPS as STEPS } from '../../proxy/response/config.js';

// The sidecar's default language.
const DEFAULT_RECOVERY_STEPS = STEPS.ko;

const code = (r: CallResult): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];

let fakeNow = seoulToEpoch('2026-01-05', 10, 0); // Monday 10:00 Seoul
let hooks: WebhookServer;
let h: Harness;

t.before(async () => {
  hooks = await startWebhookServer();
  h = await startHarness({
    clock: () => fakeNow,
    config: {
      approval: { mode: 'pending' },
      response: {
        webhooks: [
          { url: `${hooks.url}/json`, kind: 'json' },
          { url: `${hooks.url}/slack`, kind: 'slack' },
        ],
        webhook: { backoffMs: 20, timeoutMs: 2000 },
      },
    },
  });
});
t.teardown(async () => {
  await h?.close();
  await hooks?.close();
});

t.test('compromise drill: 03:00 sell-everything from a new address', async (t) => {
  // --- 1. Normal daytime trading from 127.0.0.1 on three weekdays (the clock replays the hours, quickly).
  const token = await h.token();
  let orders = 0,
    queries = 0;
  for (const day of ['2026-01-05', '2026-01-06', '2026-01-07']) {
    for (let i = 0; i < 42; i++) {
      fakeNow = seoulToEpoch(day, 10, 0) + i * 4 * 60_000; // 10:00-12:44, one call every 4 minutes
      let r: CallResult;
      if (i % 5 < 2 && orders < 50) {
        // Resting limit orders away from the market (74,100): they stay open.
        const buy = orders % 4 !== 3;
        r = await h.call(
          buy ? 'kt10000' : 'kt10001',
          {
            dmst_stex_tp: 'KRX',
            stk_cd: '005930',
            ord_qty: String(1 + (orders % 7)),
            ord_uv: buy ? String(60_000 + orders * 10) : String(90_000 + orders * 10),
            trde_tp: '0',
          },
          { token },
        );
        orders++;
      } else {
        r =
          i % 2
            ? await h.call('ka10001', { stk_cd: i % 4 === 1 ? '005930' : '000660' }, { token })
            : await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token });
        queries++;
      }
      if (r.json.return_code !== 0) t.fail(`warm-up call ${day} #${i} refused: ${r.text}`);
    }
  }
  const open = () => h.sim.orders(CANARY.account).filter((o) => o.status === 'open').length;
  t.equal(orders, 50);
  t.equal(open(), 50, '50 open orders at the simulator');
  await h.sidecar.parts.responder.snapshotHoldings(h.botId); // holdings baseline for the damage assessment
  t.comment(`baseline: ${orders} orders + ${queries} queries over 3 days, 10:00-12:44 Seoul, from 127.0.0.1`);

  // --- 2. Thursday 03:00 Seoul, from 127.0.0.2: sell the whole position at market.
  fakeNow = seoulToEpoch('2026-01-08', 3, 0);
  const attacker = new Agent({ localAddress: '127.0.0.2' }); // undici 7: a Client/Agent option; under `connect` it is ignored;
  t.teardown(() => attacker.close());
  const stolen = await h.token(attacker);
  const fillsBefore = h.sim.orders(CANARY.account).filter((o) => o.filledQty > 0).length;
  const sent = performance.now();
  const attack = await h.call(
    'kt10001',
    { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1000', ord_uv: '', trde_tp: '3' },
    { token: stolen, dispatcher: attacker },
  );
  const attackMs = performance.now() - sent;
  t.equal(attack.status, 423, `refused: ${attack.text}`);
  t.equal(code(attack), 'KG3008', 'automatic lockdown refuses the call');
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.qty === 1000),
    'the sell never reached the broker',
  );
  t.equal(h.sim.orders(CANARY.account).filter((o) => o.filledQty > 0).length, fillsBefore, 'no new fills');
  t.equal(open(), 0, 'every open order is cancelled at the simulator');

  // --- 3. The incident.
  const admin = await h.adminToken('sec-lead', 'admin');
  const list = await h.admin('GET', '/admin/v1/incidents', admin);
  const incidents = list.json.incidents as { id: string; automatic: boolean; bots: string[]; status: string }[];
  t.equal(incidents.length, 1, 'one incident');
  const id = incidents[0]!.id;
  t.same(
    { automatic: incidents[0]!.automatic, bots: incidents[0]!.bots, status: incidents[0]!.status },
    { automatic: true, bots: [h.botId], status: 'locked' },
  );
  const rep = (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json as Record<string, any>;

  // Detectors and decision: why the call scored what it did.
  const detectors = (rep.trigger.contributions as { detector: string; reason: string }[]).map((c) => c.detector);
  t.ok(rep.trigger.score >= 0.95, `risk score ${rep.trigger.score}`);
  for (const d of ['session', 'time', 'location', 'volume']) t.ok(detectors.includes(d), `detector ${d} fired`);
  t.equal(rep.trigger.apiId, 'kt10001');
  t.equal(rep.actor, 'risk-engine');
  t.match(rep.reason, /automatic: risk score/);
  // Actions and their results.
  t.same(
    rep.steps.map((s: { step: string }) => s.step),
    ['1 disable credentials + HALTED', '2 kill sessions + revoke broker tokens', '3 cancel all open orders', '4 suspend conditional activity'],
  );
  t.ok(
    rep.steps.every((s: { ok: boolean }) => s.ok),
    JSON.stringify(rep.steps),
  );
  t.equal(rep.cancels[0].listed, 50);
  t.equal(rep.cancels[0].cancelled, 50);
  t.equal(rep.cancels[0].notCancelled.length, 0);
  t.ok(rep.cancels[0].confirmed, 'confirmed by listing again');
  // Damage assessment.
  t.ok(rep.damage, 'damage assessment present');
  t.equal(rep.damage.complete, true);
  t.equal(rep.damage.totals.ordersCancelled, 50);
  t.equal(rep.damage.totals.ordersNotCancelled, 0);
  t.ok(rep.damage.accounts[0].baselineAt, 'holdings compared with the baseline snapshot');
  // Timeline and recovery plan.
  const events = (rep.timeline as { event: string }[]).map((e) => e.event);
  for (const e of ['lockdown issued', '3 cancel all open orders done', 'damage assessment', 'recovery plan']) t.ok(events.includes(e), `timeline: ${e}`);
  t.same(
    rep.checklist.map((c: { id: string }) => c.id),
    DEFAULT_RECOVERY_STEPS.map((s) => s.id),
  );
  const lockMs = rep.timings.cancelConfirmedMs as number;
  const damageMs = rep.timings.damageMs as number;
  // Times are measured, not asserted (a busy machine is slower): 50 cancels at Kiwoom's 5 orders/s need about 10 s.
  t.same(h.sim.stats().refusals, { 1634: 0, 1700: 0, 1701: 0, 1702: 0, 8005: 0, 8010: 0 }, "every cancel went out inside Kiwoom's limits: none refused");
  t.comment(
    `MEASURED through the sidecar: issue -> all 50 cancelled and confirmed ${lockMs} ms; damage assessment ${damageMs} ms; steps 1-4 ${rep.timings.stepsMs} ms; bot's refused call answered in ${attackMs.toFixed(1)} ms`,
  );

  const md = await h.admin('GET', `/admin/v1/incidents/${id}?format=md`, admin);
  t.equal(md.status, 200);
  t.match(String(md.headers['content-type']), /text\/markdown/);
  for (const s of ['경과', '피해 평가', 'kt10001', 'session', 'change-account-password']) t.match(md.text, s, `markdown mentions ${s}`);

  // --- 4. Webhooks: the generic JSON one and the Slack one, lockdown and damage assessment, no secrets.
  const json = await hooks.waitFor(2, 20_000, (x) => x.path === '/json');
  const slack = await hooks.waitFor(2, 20_000, (x) => x.path === '/slack');
  t.same(json.map((x) => x.json.event).sort(), ['damage_assessment', 'lockdown']);
  t.ok(
    json.every((x) => x.json.incidentId === id && x.json.severity === 'CRITICAL'),
    'JSON alerts name the incident, CRITICAL',
  );
  t.ok(
    slack.every((x) => typeof x.json.text === 'string' || Array.isArray(x.json.blocks)),
    'Slack-compatible payloads',
  );
  for (const x of [...json, ...slack]) {
    for (const secret of [CANARY.appKey, CANARY.secretKey, h.botSecret, stolen, token]) t.notOk(x.raw.includes(secret), 'no secret in a webhook');
  }

  const delivered = (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json.notifications as {
    event: string;
    results: { kind: string; ok: boolean }[];
  }[];
  t.same(delivered.map((n) => n.event).sort(), ['damage_assessment', 'lockdown'], 'the report records both deliveries');
  t.ok(
    delivered.every((n) => n.results.length === 2 && n.results.every((r) => r.ok)),
    'each to both webhooks, delivered',
  );

  // --- 5. Locked: no fresh sidecar token from any address, and the session from before is ended.
  const login = JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret });
  const again = await h.post('/oauth2/token', login, {}, attacker);
  t.equal(code(again), 'KG3008', 'new session from the attacker address: KG3008');
  fakeNow = seoulToEpoch('2026-01-08', 10, 0);
  t.equal(code(await h.post('/oauth2/token', login)), 'KG3008', 'nor from the usual address in the daytime: KG3008');
  const oldSession = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.not(oldSession.json.return_code, 0, `the pre-incident session was ended: ${oldSession.text}`);

  // --- 6. Unlock is refused until every recovery step is confirmed and an approver signs off.
  const refused1 = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, admin, {});
  t.equal(refused1.status, 409);
  t.match(refused1.text, /unconfirmed recovery steps/);
  for (const [i, step] of DEFAULT_RECOVERY_STEPS.entries()) {
    if (i === DEFAULT_RECOVERY_STEPS.length - 1) {
      const early = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, admin, {});
      t.equal(early.status, 409, 'one step left: still refused');
      t.match(early.text, new RegExp(step.id));
    }
    const r = await h.admin('POST', `/admin/v1/incidents/${id}/steps/${step.id}/confirm`, admin, { note: `done (${i + 1})` });
    t.equal(r.status, 200, `step ${step.id} confirmed`);
  }
  const refused2 = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, admin, {});
  t.equal(refused2.status, 409);
  t.match(refused2.text, /0 of 1 distinct unlock approvals/);
  t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, admin, {})).status, 200);
  const unlocked = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, admin, {});
  t.equal(unlocked.status, 200, 'unlocked');
  t.equal(unlocked.json.status, 'unlocked');
  const after = await h.call('ka10001', { stk_cd: '005930' });
  t.equal(after.json.return_code, 0, `after recovery the bot trades again (daytime, usual address): ${after.text}`);
});
