// Account numbers are customer data: the audit trail keys them (hmac:), the incident report masks them
// (******0011), and so must every log line. A lockdown by account logged the number whole three times
// (LOCKDOWN issued, trading state changed, the calls it ended).
import t from 'tap';
import { CANARY, startHarness } from '../helpers/harness.js';

const h = await startHarness();
t.teardown(() => h.close());

t.test('a session and a lockdown by account leave no whole account number in the log', async (t) => {
  const token = await h.token();
  t.equal((await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token })).json.return_code, 0);
  t.equal((await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' }, { token })).json.return_code, 0);
  const admin = await h.adminToken('alice', 'admin');
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { account: CANARY.account, reason: 'drill' });
  t.equal(lock.status, 201, 'the lockdown was issued');
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).status >= 400, true, 'the bot is locked');
  await h.waitNoLiveTokens(10_000);
  const logs = h.logs();
  t.match(logs, /LOCKDOWN issued/, 'the lockdown was logged');
  t.match(logs, /\*{6}0011/, 'with the account masked');
  const whole = logs.split('\n').filter((l) => l.includes(CANARY.account));
  t.same(whole, [], 'no line holds the whole account number');
});
