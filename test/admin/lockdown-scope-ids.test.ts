// Review (red team): POST /admin/v1/lockdown names its scope with a bot id or
// an account number. One that no bot or account could have (a trailing space,
// a bidi override, a path, `__proto__`) is a mistake: it must be refused with
// a clear error and open no incident, not answered 201 "locked" while the bot
// the operator meant keeps trading.
import t from 'tap';
import { CANARY, startHarness } from '../helpers/harness.js';
import { stepsOf } from '../helpers/lockdown-steps.js';

t.test('a lockdown naming an impossible bot id or account is refused and opens nothing', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const admin = await h.adminToken('sec-lead', 'admin');
  const incidents = async () => (await h.admin('GET', '/admin/v1/incidents', admin)).json.incidents as unknown[];

  const bad: Record<string, unknown>[] = [
    { bot: `${h.botId} ` },
    { bot: ` ${h.botId}` },
    { bot: 'bot-e2e\u202e' },
    { bot: 'bót' },
    { bot: '__proto__' },
    { bot: '../bot-e2e' },
    { account: ` ${CANARY.account}` },
    { account: '../../etc' },
    { account: '8888000011\n' },
  ];
  for (const scope of bad) {
    const r = await h.admin('POST', '/admin/v1/lockdown', admin, { reason: 'drill', ...scope });
    t.equal(r.status, 400, `${JSON.stringify(scope)} refused: ${r.text.slice(0, 160)}`);
    t.equal(r.json.code, 'KG3016', `${JSON.stringify(scope)} names the bad request`);
  }
  t.same(await incidents(), [], 'no incident was opened');
  const call = await h.call('ka10001', { stk_cd: '005930' });
  t.equal(call.json.return_code, 0, 'the bot was never locked');

  const ok = await h.admin('POST', '/admin/v1/lockdown', admin, { reason: 'drill', bot: h.botId });
  t.equal(ok.status, 201, `a well-formed id still locks down: ${ok.text.slice(0, 160)}`);
});

t.test("a lockdown whose 'all' is not true or false is refused, not read as absent", async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const admin = await h.adminToken('sec-lead', 'admin');
  for (const scope of [{ all: 1, bot: h.botId }, { all: 'true', account: CANARY.account }, { all: 'yes' }, { all: null, bot: h.botId }]) {
    const r = await h.admin('POST', '/admin/v1/lockdown', admin, { reason: 'drill', ...scope });
    t.equal(r.status, 400, `${JSON.stringify(scope)} refused: ${r.text.slice(0, 160)}`);
    t.match(r.json.return_msg, /all must be true or false/, 'says what is wrong');
  }
  t.same((await h.admin('GET', '/admin/v1/incidents', admin)).json.incidents, [], 'no incident was opened');
  const off = await h.admin('POST', '/admin/v1/lockdown', admin, { reason: 'drill', all: false, bot: h.botId });
  t.equal(off.status, 201, `all: false with a bot locks the bot: ${off.text.slice(0, 120)}`);
});

t.test('a lockdown of an account no bot trades on (written another way: 8888-0000-11) says it disabled and cancelled nothing', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const admin = await h.adminToken('sec-lead', 'admin');
  const dashed = `${CANARY.account.slice(0, 4)}-${CANARY.account.slice(4, 8)}-${CANARY.account.slice(8)}`;
  const r = await h.admin('POST', '/admin/v1/lockdown', admin, { reason: 'drill', account: dashed });
  t.equal(r.status, 201, `the flag is set all the same (fail closed): ${r.text.slice(0, 120)}`);
  const steps = stepsOf(r.json);
  for (const n of ['1 ', '3 ']) {
    const s = steps.find((x) => x.step.startsWith(n))!;
    t.equal(s.status, 'failed', `step ${n}failed: ${JSON.stringify(s)}`);
    t.match(s.errors.join(' '), /no bot's record holds account \*+0-11/, 'naming the account, masked');
  }
  t.notMatch(r.text.replace(`"account":"${dashed}"`, ''), dashed, 'the account is masked in what the steps say');
  const ok = await h.admin('POST', '/admin/v1/lockdown', admin, { reason: 'drill', account: CANARY.account });
  t.equal(ok.status, 201, `the account as the records hold it locks down: ${ok.text.slice(0, 120)}`);
  t.ok(
    stepsOf(ok.json).every((s) => s.status !== 'failed'),
    'with nothing failed',
  );
});
