// An operator who turned a bot's credentials off during an incident (kguard
// keys disable: the bot's host is still being scanned, its owner unreachable)
// had them turned back on by the unlock: the lockdown had already disabled
// them, so the operator's disable changed nothing in the record, and the
// unlock re-enabled everything the lockdown covered. The bot could trade again
// though an operator had said no. The credential record now says who disabled
// it; an unlock turns on only what the lockdown turned off and says in the
// incident what it left disabled and why. Through the real sidecar over HTTP
// against the simulator, the operator's disable through the CLI.
import t, { type Test } from 'tap';
import { confirmRecoverySteps } from '../helpers/lockdown-steps.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { kguardInProcess } from '../cli/run-cli.js';

let h: Harness;
let lead: string;
let second: string;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 } } } });
  lead = await h.adminToken('sec-lead', 'admin');
  second = await h.adminToken('sec-second', 'admin');
});
t.teardown(() => h.close());

async function lockAndUnlock(t: Test, duringIncident: () => Promise<void>): Promise<Record<string, unknown>> {
  const lock = await h.admin('POST', '/admin/v1/lockdown', lead, { bot: h.botId, reason: 'suspicious orders' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  const id = String(lock.json.id);
  await duringIncident();
  await confirmRecoverySteps(t, h, id, lead);
  for (const who of [lead, second]) t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, who)).status, 200, 'unlock approved');
  const unlocked = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, lead);
  t.equal(unlocked.status, 200, unlocked.text.slice(0, 300));
  return unlocked.json;
}

const credentialsOn = async () => (await h.sidecar.parts.vault.describe(h.botId))?.enabled;

t.test('credentials an operator disabled during the incident stay disabled after the unlock', async (t) => {
  const r = await lockAndUnlock(t, async () => {
    const off = await kguardInProcess(['keys', 'disable', '--bot', h.botId, '--data-dir', h.dataDir]);
    t.equal(off.code, 0, `the operator disables the credentials: ${off.stderr}`);
  });
  t.equal(await credentialsOn(), false, 'the credentials are still disabled');
  const left = (r.timeline as { event: string; detail?: string }[]).find((e) => e.event === 'credentials left disabled');
  t.match(left?.detail, new RegExp(`^${h.botId}: disabled by an operator during the incident`), `the incident says which and why: ${left?.detail}`);
  const login = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  const order =
    login.json.return_code === 0 ? await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '60000', trde_tp: '0' }) : login;
  t.not(order.json.return_code, 0, `the bot cannot trade: ${order.text.slice(0, 200)}`);

  const on = await kguardInProcess(['keys', 'enable', '--bot', h.botId, '--data-dir', h.dataDir]);
  t.equal(on.code, 0, `the operator turns them on when ready: ${on.stderr}`);
  t.equal(await credentialsOn(), true, 'and they are on');
});

t.test('credentials only the lockdown disabled are turned on again by the unlock', async (t) => {
  const r = await lockAndUnlock(t, async () => undefined);
  t.equal(await credentialsOn(), true, 'the credentials are enabled');
  t.notOk(
    (r.timeline as { event: string }[]).some((e) => e.event === 'credentials left disabled'),
    'nothing is said to be left disabled',
  );
});

t.test('credentials an operator turned on again during the incident and the lockdown disabled are the unlock’s to enable', async (t) => {
  const r = await lockAndUnlock(t, async () => {
    t.equal((await kguardInProcess(['keys', 'disable', '--bot', h.botId, '--data-dir', h.dataDir])).code, 0, 'disabled');
    t.equal((await kguardInProcess(['keys', 'enable', '--bot', h.botId, '--data-dir', h.dataDir])).code, 0, 'and enabled again');
  });
  t.equal(await credentialsOn(), true, 'the credentials are enabled after the unlock');
  t.notOk(
    (r.timeline as { event: string }[]).some((e) => e.event === 'credentials left disabled'),
    'nothing left disabled',
  );
});
