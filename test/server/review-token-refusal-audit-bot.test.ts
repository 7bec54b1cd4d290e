// Review regression: a compliance officer reconstructing an incident found the
// token exchanges refused during a lockdown (KG3008) or while the bot was
// disabled (KG2006) in the audit trail with a source address but no bot: the
// bot's secret had been checked and was good (whoever held it was trying to
// trade as that bot), yet the record did not say which bot. Now a refusal
// after the secret is checked names the bot; a wrong secret still names none.
import t from 'tap';
import path from 'node:path';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 } } } });
});
t.teardown(() => h.close());

const exchange = (secret: string) => h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: secret }));

async function outcomeOf(requestId: string): Promise<Record<string, unknown>> {
  let data: Record<string, unknown> | undefined;
  await waitFor(
    async () => {
      data = (await readAuditRecords(path.join(h.dataDir, 'audit'))).find((r) => r.type === 'call.outcome' && r.data.requestId === requestId)?.data;
      return data !== undefined;
    },
    10_000,
    `the outcome record of ${requestId}`,
  );
  return data!;
}

t.test('a token exchange refused after its secret was checked names the bot in its audit record', async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  const disabled = await h.admin('POST', `/admin/v1/bots/${h.botId}/disable`, admin, {});
  t.equal(disabled.status, 200, disabled.text.slice(0, 200));
  const whileDisabled = await exchange(h.botSecret);
  t.match(String(whileDisabled.json.return_msg), /KG2006/);
  t.match(await outcomeOf(String(whileDisabled.headers['x-kguard-request-id'])), { code: 'KG2006', botId: h.botId, sourceIp: '127.0.0.1' });
  t.equal((await h.admin('POST', `/admin/v1/bots/${h.botId}/enable`, admin, {})).status, 200);

  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'stolen secret' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  const locked = await exchange(h.botSecret);
  t.match(String(locked.json.return_msg), /KG3008/);
  t.match(await outcomeOf(String(locked.headers['x-kguard-request-id'])), { code: 'KG3008', botId: h.botId, sourceIp: '127.0.0.1' });

  const wrong = await exchange('not-the-secret');
  const w = await outcomeOf(String(wrong.headers['x-kguard-request-id']));
  t.match(w, { code: 'KG2005' });
  t.notOk('botId' in w, 'a wrong secret names no bot (the caller is not known to be it)');
});
