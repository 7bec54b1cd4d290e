// Review regression (an operator's): a lockdown issued while Redis stalled answered 503 KG7001, so the operator was
// told it was refused; yet the lock flags and the incident record landed once Redis went on (a write that timed out
// may still land), and the index `kguard incidents list` reads did not (it was written last, after the failure).
// The bot stayed locked under an incident no list, gauge or alert showed; its id was only in the log. Now the
// incident is recorded and listed before any lock flag, a record write that fails is a failed step of the answer
// (which names the incident), and the record is written again in the background until it lands. A real
// redis-server, paused (SIGSTOP) and resumed.
import t from 'tap';
import { startHarness, waitFor } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

t.test('a lockdown during a Redis stall: answered with its id and the failed step, listed once Redis is back, the bot locked', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const h = await startHarness({
    config: {
      state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 300 } },
      response: { answerWithinMs: 5_000, damage: { deadlineMs: 500 } },
      risk: { enabled: false },
    },
  });
  t.teardown(async () => {
    redis.resume();
    await h.close();
  });
  const lead = await h.adminToken('sec-lead', 'admin');
  const token = await h.token();

  redis.pause();
  const r = await h.admin('POST', '/admin/v1/lockdown', lead, { bot: h.botId, reason: 'stolen secret, redis stalled' });
  redis.resume();
  t.ok(r.status === 201 || r.status === 202, `answered with the incident, not refused (HTTP ${r.status}: ${r.text.slice(0, 160)})`);
  const id = String(r.json.id ?? '');
  t.match(id, /^[0-9a-f-]{36}$/, 'the answer names the incident');
  const steps = (r.json.steps ?? []) as { step: string; status?: string; errors: string[] }[];
  t.ok(
    steps.some((s) => s.step === 'record in the shared store' && s.status === 'failed' && s.errors.some((e) => /KG7001/.test(e))),
    'the record write that failed is a failed step, saying why',
  );

  // Redis answers again: the record lands and the incident is listed, counted open, and holds the bot.
  await waitFor(
    async () => {
      const list = await h.admin('GET', '/admin/v1/incidents', lead);
      return ((list.json.incidents ?? []) as { id: string; status: string }[]).some((i) => i.id === id && i.status === 'locked');
    },
    30_000,
    'the incident listed',
  ).catch(() => undefined);
  const list = await h.admin('GET', '/admin/v1/incidents', lead);
  t.match(list.json.incidents, [{ id, status: 'locked' }], 'kguard incidents list shows it, locked');
  // Counted once the open-lockdowns entry lands too, a write of its own after the record's.
  const counted = async () => /kguard_lockdowns_open\{scope="bot"\} 1/.test(await (await fetch(`${h.adminUrl}/metrics`)).text());
  await waitFor(counted, 30_000, 'kguard_lockdowns_open counting it').catch(() => undefined);
  t.ok(await counted(), 'kguard_lockdowns_open counts it');
  const quote = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.not(quote.json.return_code, 0, "the bot's session was ended");
  const login = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.match(String(login.json.return_msg), new RegExp(`KG3008.*${id}`), 'and it cannot log in again: locked by this incident');
});
