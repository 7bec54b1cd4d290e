// An account-scope lockdown goes through one bot of the account for its
// cancel-all, and so did every retry of it: when that bot's app key was
// reissued at Kiwoom during the recovery (the checklist's reissue-api-key,
// before its new key is registered), every retry failed on it (Kiwoom refuses
// its token), until the retries gave up, though another bot of the same
// account, with its own app key, could have cancelled the orders still live at
// Kiwoom. A retry whose bot cannot get through now goes through the account's
// next bot in the incident, and the account's record says which. Through the
// real sidecar over HTTP against the simulator.
import t from 'tap';
import { RESTING_ORDER, stepsOf } from '../helpers/lockdown-steps.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 }, cancel: { retryIntervalMs: 200 } } } });
});
t.teardown(() => h.close());

interface CancelRecord {
  viaBot: string;
  sentVia?: string;
  confirmed?: boolean;
  cancelled?: number;
  retries?: number;
  error?: string;
}

t.test("a retry goes through another bot of the account when the lockdown's bot can no longer get a token", async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  // A second bot of the account, with an app key of its own.
  const other = { appKey: 'ZETAappKEY5c1d8e3f7a2b', secretKey: 'ZETAsecretKEY9e8d7c6b5a4f3e2d1c0b' };
  h.sim.registerApp({ ...other, accountNo: CANARY.account });
  const { secret } = await h.sidecar.parts.bots.add({ id: 'bot-z', owner: 'alice', account: CANARY.account, allowed: ['kind:query'] });
  secret.fill(0);
  await h.sidecar.parts.vault.importCredentials({
    botId: 'bot-z',
    account: CANARY.account,
    appKey: Buffer.from(other.appKey),
    secretKey: Buffer.from(other.secretKey),
  });
  const placed = await h.call('kt10000', RESTING_ORDER);
  t.equal(placed.json.return_code, 0, `a resting order: ${placed.text}`);
  const ordNo = String(placed.json.ord_no);
  const orderNow = () => h.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo);

  // Kiwoom's open-order inquiry fails for the whole lockdown: step 3 is not confirmed and is retried.
  h.sim.faults.set({ fail5xxApiIds: ['ka10075'] });
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { account: CANARY.account, reason: 'account compromised' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  const id = String(lock.json.id);
  const first = (lock.json.cancels as CancelRecord[])[0];
  t.equal(first?.viaBot, h.botId, 'the cancel-all went through the first bot of the account');
  t.equal(orderNow()?.status, 'open', 'the order is still live at Kiwoom');

  // Recovery: the first bot's app key is reissued at Kiwoom (its old secret key no longer gets a token); Kiwoom answers again.
  h.sim.registerApp({ appKey: CANARY.appKey, secretKey: 'REISSUEDsecretKEY0a1b2c3d4e5f6a7b8c', accountNo: CANARY.account });
  h.sim.faults.clear();

  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json;
  const cancelOf = async () => (((await report()).cancels as CancelRecord[]) ?? []).find((c) => c.viaBot === h.botId);
  // Either the retries get through, or they have kept failing for several tries since the key was reissued.
  await waitFor(async () => orderNow()?.status === 'cancelled' || ((await cancelOf())?.retries ?? 0) >= 4, 60_000, 'retries');
  t.equal(orderNow()?.status, 'cancelled', "the order still live at Kiwoom is cancelled by a retry through the account's other bot");
  await waitFor(async () => (await cancelOf())?.confirmed === true || ((await cancelOf())?.retries ?? 0) >= 4, 60_000, 'retry recorded');
  const c = await cancelOf();
  t.match(c, { confirmed: true, sentVia: 'bot-z' }, `the account's record says which bot the retry went through: ${JSON.stringify(c)}`);
  t.equal(stepsOf(await report()).find((s) => s.step.startsWith('3 '))?.status, 'done', 'step 3 is done');
});
