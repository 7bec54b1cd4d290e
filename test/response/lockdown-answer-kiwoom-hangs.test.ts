// The kill switch pressed while Kiwoom hangs: the lockdown's cancel-all waits
// on Kiwoom (each listing up to upstream.answerTimeoutMs, retried), so the
// admin call answered only once that was over, minutes later, and the CLI
// gave up after 30 s saying it could not reach the admin API, though the bot
// had been locked at once. The lock flags, credentials, sessions and the
// incident record come first; once they are recorded and
// response.answerWithinMs (default 10 s) has passed, the call answers 202
// with the incident so far while the rest goes on.
import t from 'tap';
import type { TrRequest, TrResponse } from '../../proxy/kiwoom/client.js';
import { latch } from '../helpers/gates.js';
import { stepsOf } from '../helpers/lockdown-steps.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import lockdownCli from '../../proxy/cli/lockdown.js';

let h: Harness;
t.before(async () => {
  // answerWithinMs 1 s rather than the default 10: the same path, answered sooner.
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 }, answerWithinMs: 1_000 } } });
});
t.teardown(() => h.close());

t.test('a lockdown whose cancel-all waits on a hung Kiwoom answers 202 with the incident once it is recorded', async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  const kiwoom = h.sidecar.parts.kiwoom;
  const call = kiwoom.call.bind(kiwoom);
  let hung = latch();
  kiwoom.call = async (req: TrRequest): Promise<TrResponse> => {
    if (req.apiId === 'ka10075') {
      const held = hung;
      held.reached();
      await held.passed;
    }
    return call(req);
  };
  t.teardown(() => {
    kiwoom.call = call;
    hung.release();
  });

  const post = h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'kiwoom hangs' });
  await hung.waiting;
  let deadline: NodeJS.Timeout | undefined;
  const answer = await Promise.race([post, new Promise<undefined>((r) => (deadline = setTimeout(() => r(undefined), 40_000)))]);
  clearTimeout(deadline);
  t.ok(answer, 'the admin call answered while Kiwoom still hangs');
  if (!answer) return;
  t.equal(answer.status, 202, `202: the lockdown goes on: ${answer.text.slice(0, 300)}`);
  const id = String(answer.json.id);
  t.match(id, /^[0-9a-f-]{36}$/, 'the incident is named');
  const steps = stepsOf(answer.json).map((s) => s.step);
  t.ok(steps.some((s) => s.startsWith('1 ')) && steps.some((s) => s.startsWith('2 ')), `steps 1 and 2 reported: ${JSON.stringify(steps)}`);
  const login = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.match(String(login.json.return_msg), /KG3008/, 'the bot is locked');

  hung.release();
  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json;
  await waitFor(async () => stepsOf(await report()).some((s) => s.step.startsWith('3 ') && s.ok), 20_000, 'step 3 done once Kiwoom answers');

  // kguard lockdown says so and exits 3 (not 0, not 'cannot reach the admin API').
  await h.addBot('bot-two', ['kind:query', 'kind:order']);
  hung = latch();
  const tokenFile = path.join(h.dataDir, 'sec-lead.token');
  await writeFile(tokenFile, admin, { mode: 0o600 });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (c) => {
    out += String(c);
  });
  stderr.on('data', (c) => {
    out += String(c);
  });
  const io = { stdin: new PassThrough(), stdout, stderr, env: {} };
  const code = await lockdownCli(['--bot', 'bot-two', '--reason', 'kiwoom hangs', '--admin-url', `${h.adminUrl}/admin/v1`, '--token-file', tokenFile], io);
  hung.release();
  t.equal(code, 3, `exit 3: ${out}`);
  t.match(out, /긴급 차단 진행 중: /, 'the operator is told the lockdown goes on, in the configured language (Korean unless set)');
});
