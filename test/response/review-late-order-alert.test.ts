// An order already written to Kiwoom when a lockdown is pressed may be placed
// after the lockdown's cancel-all listed the account: money moved after the
// kill switch. The sidecar cancels the account again and the incident's
// timeline names the order, but nobody was told: the owner and the admins had
// the lockdown and damage alerts (the damage alert's figures without this
// order) and only the log said more. Such an order now sends its own
// CRITICAL alert, in the sidecar's language, recorded on the incident. Here
// the order is held in the sidecar's Kiwoom client (written, not yet at the
// simulator) until the lockdown has returned; webhooks to a loopback server.
import t from 'tap';
import { orderPlacedDuringLockdown, RESTING_ORDER } from '../helpers/lockdown-steps.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startWebhookServer, type WebhookServer } from '../helpers/webhook-server.js';

let h: Harness;
let hooks: WebhookServer;
t.before(async () => {
  hooks = await startWebhookServer();
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 }, webhooks: [{ url: hooks.url, kind: 'json' }] } } });
});
t.teardown(async () => {
  await h.close();
  await hooks.close();
});

t.test('an order Kiwoom accepted after the lockdown is alerted at once', async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  const { incidentId: id, ordNo } = await orderPlacedDuringLockdown(t, h, { admin, bot: h.botId, order: RESTING_ORDER });

  const [late] = await hooks.waitFor(1, 20_000, (x) => x.json.event === 'late_order');
  t.ok(late, 'a late_order alert was sent');
  t.match(
    late?.json,
    { event: 'late_order', severity: 'CRITICAL', incidentId: id, botIds: [h.botId], details: { ordNo, apiId: 'kt10000' } },
    'naming the order',
  );
  t.match(String(late?.json.title), `차단 후 접수된 주문: ${h.botId} kt10000 ${ordNo}`, 'in the sidecar language (Korean by default)');
  t.match(((late?.json.lines ?? []) as string[]).join('\n'), /다시 취소했고 확인했습니다/, 'saying the account was cancelled again and confirmed');
  const notified = (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json.notifications as { event: string }[];
  t.ok(
    notified.some((n) => n.event === 'late_order'),
    'the delivery is recorded on the incident',
  );
});
