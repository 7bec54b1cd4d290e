// admins.json was read synchronously on every admin request (each dashboard
// refresh, each `kguard` admin command). With the data directory on a network
// volume (EFS in the pool overlay), a read that stalls froze the whole
// process: every bot's call on that replica waited with it. The file is now
// read asynchronously and only when it changed: a stalled read holds the admin
// request that needs it, and bots go on trading. The stall is a FIFO in place
// of admins.json, whose writer (a child process) answers only when told to.
import { spawn } from 'node:child_process';
import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { startHarness } from '../helpers/harness.js';

const h = await startHarness();
t.teardown(() => h.close());
const token = await h.adminToken('sec-lead', 'admin');
const file = path.join(h.dataDir, 'admins.json');

t.test('a stalled admins.json read holds the admin request, not the bots', async (t) => {
  t.equal((await h.admin('GET', '/admin/v1/bots', token)).status, 200, 'the admin API answers');
  const content = await readFile(file, 'utf8');
  await rename(file, `${file}.real`);
  // The FIFO's writer: it answers the read with the real content when the test writes a line to it, or on its own
  // after 20 s, saying which (so the code before the fix, which blocks this very process, ends instead of hanging).
  const writer = spawn(
    'bash',
    ['-c', `mkfifo "$0" && echo made && (read -t 20 line && echo told || echo self) && cat "$0.real" > "$0" && rm -f "$0" && mv "$0.real" "$0"`, file],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const said: string[] = [];
  const saying = new Promise<void>((resolve) => {
    writer.stdout.on('data', (d: Buffer) => {
      said.push(...d.toString().trim().split('\n'));
      if (said.includes('made')) resolve();
    });
  });
  const ended = new Promise<number | null>((resolve) => writer.on('exit', resolve));
  await saying;

  const adminAnswer = h.admin('GET', '/admin/v1/bots', token);
  const quote = await h.call('ka10001', { stk_cd: '005930' });
  t.equal(quote.json.return_code, 0, 'the bot’s quote is answered while the admin read is stalled');
  t.notOk(said.includes('self'), 'before the stalled read gave way on its own');
  writer.stdin.write('go\n');
  t.equal(await ended, 0, 'the writer answered the read');
  t.same(said, ['made', 'told']);
  const answered = await adminAnswer;
  t.equal(answered.status, 200, `the admin request is answered once the read completes: ${answered.text.slice(0, 120)}`);
  t.equal(await readFile(file, 'utf8'), content, 'admins.json is back as it was');
  t.equal((await h.admin('GET', '/admin/v1/bots', token)).status, 200, 'and the admin API answers as before');
});
