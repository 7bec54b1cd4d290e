// "Disable a bot" means one thing wherever it is pressed (admin API, CLI,
// lockdown): the flag off everywhere, every session ended, queued calls
// refused, and the key's broker token revoked once no call holds it.
import t from 'tap';
import { Writable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { main } from '../../proxy/cli/index.js';
import { startHarness, waitFor } from '../helpers/harness.js';

const QUOTE = { stk_cd: '005930' };

const h = await startHarness({ config: { brokerTokens: { idleRevokeMs: 60_000 } } });
t.teardown(() => h.close());
const tokenFile = path.join(h.dataDir, 'admin.token');
await writeFile(tokenFile, await h.adminToken('sec', 'admin'), { mode: 0o600 });

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({
    write(c, _e, cb) {
      out += c.toString();
      cb();
    },
  });
  const code = await main([...args, '--data-dir', h.dataDir], { stdin: process.stdin, stdout: sink, stderr: sink, env });
  return { code, out };
}

const code = (text: string) => /\[(KG\d{4})/.exec(text)?.[1];

t.test('kguard bots disable through the running sidecar: refused at once, sessions ended, broker token revoked', async (t) => {
  const token = await h.token();
  t.equal((await h.call('ka10001', QUOTE, { token })).json.return_code, 0);
  t.equal(h.sim.liveTokens(), 1, "the key's token lingers (idleRevokeMs)");
  const r = await cli(['bots', 'disable', h.botId, '--admin-url', `${h.adminUrl}/admin/v1`, '--token-file', tokenFile, '--json']);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /"enabled": false/);
  t.equal(code((await h.call('ka10001', QUOTE, { token })).text), 'KG2006', 'the bot is refused');
  await waitFor(() => h.sim.liveTokens() === 0, 10_000, 'broker token revoked');
  const e = await cli(['bots', 'enable', h.botId, '--admin-url', `${h.adminUrl}/admin/v1`, '--token-file', tokenFile]);
  t.equal(e.code, 0, e.out);
  t.equal(code((await h.call('ka10001', QUOTE, { token })).text), 'KG2007', 'sessions from before the disable stay ended');
  t.equal((await h.call('ka10001', QUOTE)).json.return_code, 0, 'a new session works after enable');
});

t.test('kguard bots kill-sessions ends every session and the broker access; it needs the running sidecar', async (t) => {
  const token = await h.token();
  t.equal((await h.call('ka10001', QUOTE, { token })).json.return_code, 0);
  const r = await cli(['bots', 'kill-sessions', h.botId], { KGUARD_ADMIN_URL: `${h.adminUrl}/admin/v1`, KGUARD_ADMIN_TOKEN_FILE: tokenFile });
  t.equal(r.code, 0, r.out);
  t.equal(code((await h.call('ka10001', QUOTE, { token })).text), 'KG2007');
  await waitFor(() => h.sim.liveTokens() === 0, 10_000, 'broker token revoked');
  const offline = await cli(['bots', 'kill-sessions', h.botId]);
  t.not(offline.code, 0);
  t.match(offline.out, /needs the running sidecar/);
});

t.test('offline disable sets the registry flag and says what it cannot do', async (t) => {
  const token = await h.token();
  const r = await cli(['bots', 'disable', h.botId]);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /레지스트리 플래그만 바꿨습니다: .*--admin-url을 함께 주십시오/, 'in Korean, the configured language');
  t.match((await cli(['bots', 'disable', h.botId, '--lang', 'en'])).out, /pass --admin-url to also end its sessions/, 'in English with --lang en');
  await waitFor(async () => code((await h.call('ka10001', QUOTE, { token })).text) === 'KG2006', 10_000, 'the running sidecar saw the flag');
  t.pass('refused once the watched registry changed');
  await cli(['bots', 'enable', h.botId]);
});
