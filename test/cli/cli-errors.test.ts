// Usage errors (kguard's main(), and the real binary once): a mistyped flag or command gets "did you
// mean", KG9004 once and exit 2; values that may be secrets are not echoed;
// a file named by a flag is named in the error, with its code once.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { kguard, kguardInProcess, occurrences } from './run-cli.js';

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kguard-cli-errors-'));
  await chmod(dir, 0o700);
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

function usageError(t: Test, r: { code: number | null; stdout: string; stderr: string }, first: string | RegExp, what: string): void {
  t.equal(r.code, 2, `${what}: exit 2`);
  t.equal(r.stdout, '', `${what}: nothing on stdout`);
  t.match(r.stderr.split('\n')[0], first, `${what}: says what is wrong`);
  t.match(r.stderr, /^usage: kguard /m, `${what}: a usage line`);
  t.equal(occurrences(r.stderr, 'KG9004'), 1, `${what}: the usage code once`);
}

t.test('a mistyped flag: did you mean the closest one', async (t) => {
  usageError(t, await kguardInProcess(['serve', '--prot', '8081']), 'kguard serve: unknown option --prot; did you mean --port?', 'serve --prot');
  // The binary itself answers the same (the rest run main() in this process: same entry, no process per case).
  usageError(t, await kguard(['serve', '--prot', '8081']), 'kguard serve: unknown option --prot; did you mean --port?', 'the binary: serve --prot');
  usageError(t, await kguardInProcess(['serve', '--prot=8081']), 'unknown option --prot; did you mean --port?', 'serve --prot=8081');
  usageError(t, await kguardInProcess(['lockdown', '--resaon', 'x', '--all']), 'did you mean --reason?', 'lockdown --resaon');
  usageError(t, await kguardInProcess(['bots', 'list', '--jsno']), 'kguard bots: unknown option --jsno; did you mean --json?', 'bots list --jsno');
  usageError(t, await kguardInProcess(['audit', 'verify', '--public']), 'did you mean --public-key?', 'a unique prefix');
  const far = await kguardInProcess(['bots', 'list', '--wat']);
  usageError(t, far, 'kguard bots: unknown option --wat', 'bots list --wat');
  t.notMatch(far.stderr, /did you mean/, 'no guess when nothing is close');
  usageError(t, await kguardInProcess(['--verison']), 'kguard: unknown option --verison; did you mean --version?', 'kguard --verison');
});

t.test('a mistyped command: did you mean the closest one', async (t) => {
  usageError(t, await kguardInProcess(['srve']), "kguard: unknown command 'srve'; did you mean 'serve'?", 'srve');
  usageError(t, await kguardInProcess(['bots', 'lst']), "kguard bots: unknown command 'lst'; did you mean 'list'?", 'bots lst');
  usageError(t, await kguardInProcess(['bots', 'kill-session', 'x']), "did you mean 'kill-sessions'?", 'bots kill-session');
  usageError(t, await kguardInProcess(['incidents', 'unlok', 'x']), "did you mean 'unlock'?", 'incidents unlok');
  const far = await kguardInProcess(['policy', 'frobnicate']);
  usageError(t, far, "kguard policy: unknown command 'frobnicate'", 'policy frobnicate');
  t.notMatch(far.stderr, /did you mean/, 'no guess when nothing is close');
  usageError(t, await kguardInProcess(['bots', '--json']), 'missing command before --json', 'an option before the command');
});

t.test('missing arguments, flags and values; bad choices', async (t) => {
  usageError(t, await kguardInProcess(['bots', 'add', 'x', '--data-dir', dir]), 'kguard bots: --account is required', 'a required flag');
  usageError(t, await kguardInProcess(['incidents', 'confirm', 'id-only']), 'kguard incidents: missing <step>', 'a missing argument');
  usageError(t, await kguardInProcess(['policy', 'check', 'a.yaml', '--lang', 'fr']), 'kguard policy: --lang must be ko or en', 'a bad choice');
  usageError(t, await kguardInProcess(['keys', 'rewrap', '--to', 'hsm', '--data-dir', dir]), '--to must be one of local, aws-kms, pkcs11', 'three choices');
  usageError(t, await kguardInProcess(['serve', '--port']), 'kguard serve: --port needs a value', 'a flag without its value');
  usageError(t, await kguardInProcess(['serve', '--port', 'eighty']), 'kguard serve: --port needs an integer in 0..65535', 'a value that is not a port');
  usageError(t, await kguardInProcess(['bots', 'list', '--json=yes']), '--json takes no value', 'a value on a switch');
  usageError(
    t,
    await kguardInProcess(['lockdown', '--all', '--bot', 'b', '--reason', 'r']),
    'name exactly one of --bot, --account, --all',
    'a handler usage error',
  );
});

t.test('what may be a secret is never echoed', async (t) => {
  const pasted = 'Pasted4ppKeyValue0123456789abcdef';
  const keysArg = await kguardInProcess(['keys', 'import', '--bot', 'abc', '--account', '1', pasted, '--data-dir', dir]);
  t.equal(keysArg.code, 1);
  t.match(keysArg.stderr, /^kguard keys: KG4006: .*keys are never taken from arguments/);
  t.equal(occurrences(keysArg.stderr, 'KG4006'), 1, 'the code once');
  const stray = await kguardInProcess(['bots', 'list', pasted, '--data-dir', dir]);
  t.equal(stray.code, 2);
  t.match(stray.stderr, /1 unexpected argument\(s\), not echoed/);
  const asCommand = await kguardInProcess(['keys', pasted]);
  t.equal(asCommand.code, 2);
  t.match(asCommand.stderr, /unknown command \(not echoed\)/);
  const hashArg = await kguardInProcess(['audit', 'hash', pasted]);
  t.equal(hashArg.code, 2);
  t.match(hashArg.stderr, /reads the value from stdin/);
  for (const r of [keysArg, stray, asCommand, hashArg]) t.notMatch(r.stdout + r.stderr, pasted, 'not echoed');
});

t.test('a file named by a flag is named in the error, with the code once', async (t) => {
  const missing = path.join(dir, 'no-such-dir', 'kiwoom-keys.txt');
  const r = await kguardInProcess(['keys', 'import', '--bot', 'abc', '--account', '5012345678', '--from-file', missing, '--data-dir', dir]);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^kguard keys: KG4006: /);
  t.match(r.stderr, `--from-file ${missing}`, 'names the flag and the path');
  t.match(r.stderr, /ENOENT/);
  t.equal(occurrences(r.stderr, 'KG4006'), 1, 'the code once');
  t.equal(r.stderr.split('\n').length, 2, 'one line');

  const open = path.join(dir, 'keys-0644.txt');
  await writeFile(open, 'appkeyappkey\nsecretsecret\n', { mode: 0o644 });
  await chmod(open, 0o644);
  const loose = await kguardInProcess(['keys', 'import', '--bot', 'abc', '--account', '5012345678', '--from-file', open, '--data-dir', dir]);
  t.equal(loose.code, 1);
  t.match(loose.stderr, /^kguard keys: KG4007: /);
  t.match(loose.stderr, `(--from-file ${open}: secret input file has mode 644`, 'names the flag and the path');
  t.equal(occurrences(loose.stderr, 'KG4007'), 1, 'the code once');

  const tokenFile = path.join(dir, 'no-token');
  const noToken = await kguardInProcess(['state', 'status', '--admin-url', 'http://127.0.0.1:9/admin/v1', '--token-file', tokenFile]);
  t.equal(noToken.code, 1);
  t.match(noToken.stderr, /^kguard state: KG2001: /);
  t.match(noToken.stderr, `(cannot read admin token file ${tokenFile} (ENOENT))`, 'names the path');
  t.equal(occurrences(noToken.stderr, 'KG2001'), 1, 'the code once');

  const receipt = path.join(dir, 'no-receipt.json');
  const noReceipt = await kguardInProcess(['audit', 'receipt', '--verify', receipt, '--data-dir', dir]);
  t.equal(noReceipt.code, 1);
  t.equal(noReceipt.stderr, `kguard audit: --verify ${receipt}: cannot read (ENOENT)\n`);
});

t.test('an admin API that does not answer is named', async (t) => {
  const tokenFile = path.join(dir, 'token');
  // Well-formed but unknown: the CLI sends nothing that does not look like an admin token.
  await writeFile(tokenFile, `kga_${'0'.repeat(43)}`, { mode: 0o600 });
  // Port 9 (discard) on loopback: nothing listens there in a test sandbox.
  const r = await kguardInProcess(['approvals', 'list', '--admin-url', 'http://127.0.0.1:9/admin/v1', '--token-file', tokenFile]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^kguard approvals: cannot reach the admin API at http:\/\/127\.0\.0\.1:9\/admin\/v1 \(ECONNREFUSED\)\n$/);
});
