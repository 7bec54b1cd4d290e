// Review (red team): the admin token file every admin-API command reads
// (--token-file, KGUARD_ADMIN_TOKEN_FILE) is a bearer credential, held to the
// rule of every other secret file the CLI reads: a regular file group or
// others can read is refused (KG4007) before anything is sent, and the token
// is never echoed. A pipe (`--token-file <(pass show kguard)`) is taken as
// before, and what is read is bounded.
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startHarness } from '../helpers/harness.js';
import { kguardInProcess, occurrences } from './run-cli.js';

const h = await startHarness();
t.teardown(() => h.close());
const dir = await mkdtemp(path.join(tmpdir(), 'kguard-token-file-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const token = await h.adminToken('sec-lead', 'admin');
const adminCalls = () => occurrences(h.logs(), '"msg":"admin call"');
const status = (file: string) => kguardInProcess(['state', 'status', '--admin-url', `${h.adminUrl}/admin/v1`, '--token-file', file]);

t.test('a 0600 token file (or a symlink to one) works', async (t) => {
  const file = path.join(dir, 'ok.token');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  const r = await status(file);
  t.equal(r.code, 0, r.stderr);
  const link = path.join(dir, 'link.token');
  await symlink(file, link);
  t.equal((await status(link)).code, 0, 'through a symlink: the file it names is what is checked');
});

t.test('a token file group or others can read is refused before anything is sent', async (t) => {
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    const file = path.join(dir, `loose-${mode.toString(8)}.token`);
    await writeFile(file, token, { mode });
    await chmod(file, mode);
    const before = adminCalls();
    const r = await status(file);
    t.equal(r.code, 1, `mode ${mode.toString(8)}: exit 1`);
    t.match(r.stderr, /^kguard state: KG4007: /, `mode ${mode.toString(8)}: KG4007`);
    t.match(r.stderr, `${file} has mode ${mode.toString(8)}`, 'names the file and its mode');
    t.match(r.stderr, 'chmod 600', 'says how to fix it');
    t.notMatch(r.stderr, token, 'the token is not echoed');
    t.equal(adminCalls(), before, 'the admin API was not called');
  }
});

t.test('what is read is bounded', async (t) => {
  const file = path.join(dir, 'huge.token');
  await writeFile(file, Buffer.alloc(1024 * 1024, 0x61), { mode: 0o600 });
  const r = await status(file);
  t.equal(r.code, 1);
  t.match(r.stderr, /^kguard state: KG2001: .*admin token file .* is larger than 4096 bytes/);
});

t.test('a pipe is taken whatever its mode', async (t) => {
  const { execFileSync, spawn } = await import('node:child_process');
  const fifo = path.join(dir, 'token.fifo');
  execFileSync('mkfifo', ['-m', '0644', fifo]);
  const writer = spawn('sh', ['-c', 'cat > "$1"', 'sh', fifo], { stdio: ['pipe', 'ignore', 'ignore'] });
  writer.stdin.end(`${token}\n`);
  const r = await status(fifo);
  t.equal(r.code, 0, r.stderr);
});

t.test('a file that holds no admin token is never sent', async (t) => {
  // e.g. --token-file pointed at a bot secret or a Kiwoom key file by mistake: those bytes must not leave as a Bearer.
  for (const [what, text] of [
    ['a bot secret', 'bs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG\n'],
    ['a key file', 'APPKEYcanary0123456789\nSECRETcanary0123456789\n'],
    ['an empty file', ''],
    ['a token with a second line', `${token}\nmore\n`],
  ] as const) {
    const file = path.join(dir, `not-a-token-${what.replace(/\W+/g, '-')}`);
    await writeFile(file, text, { mode: 0o600 });
    const refusedBefore = occurrences(h.logs(), 'admin auth refused');
    const r = await status(file);
    t.equal(r.code, 1, `${what}: exit 1`);
    t.match(r.stderr, /^kguard state: KG2001: .*admin token file .* does not hold an admin token \(kga_/, `${what}: says so`);
    t.notMatch(r.stderr, /canary|bs_0123/, `${what}: nothing of it echoed`);
    t.equal(occurrences(h.logs(), 'admin auth refused'), refusedBefore, `${what}: nothing was sent`);
  }
});
