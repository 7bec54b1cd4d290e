// The image starts kguard (the entrypoint, and `kguard` on the PATH for `kubectl exec`) with core dumps off: a core
// file of the sidecar or of `kguard keys rewrap` holds the keyring, the audit keys, Kiwoom keys being decrypted and
// live broker tokens, and goes wherever the host's core_pattern sends it (systemd-coredump, apport); a pod spec has
// no RLIMIT_CORE knob, so the image must set it. The wrapper is run for real, laid out as in the image, under an
// unlimited core limit, in front of a stand-in for the compiled CLI that reports its own limits.
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/harness.js';

const WRAPPER = path.join(ROOT, 'deploy', 'docker', 'kguard');
const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');

t.test('the image enters through the wrapper, and kguard on the PATH is the same wrapper', async (t) => {
  t.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "\/app\/bin\/kguard"\]$/m, 'tini, then the wrapper');
  t.match(dockerfile, /^COPY deploy\/docker\/kguard \.\/bin\/kguard$/m, 'copied to /app/bin/kguard (WORKDIR /app)');
  t.match(dockerfile, /ln -s \/app\/bin\/kguard \/usr\/local\/bin\/kguard/, 'kubectl exec ... kguard keys ... runs it too');
  t.notMatch(dockerfile, /ln -s \/app\/dist\/proxy\/cli\/main\.js/, 'not node directly');
  t.match(await readFile(path.join(ROOT, '.dockerignore'), 'utf8'), /^!deploy\/docker\/kguard$/m, 'in the build context');
  await access(WRAPPER, fsConstants.X_OK);
});

/** Runs `kguard <args>` through the wrapper laid out as in the image, from a shell whose core limit is unlimited. */
async function runWrapped(args: string[]): Promise<{ pid: number; out: Record<string, unknown> }> {
  const app = await mkdtemp(path.join(tmpdir(), 'kguard-image-'));
  t.teardown(() => rm(app, { recursive: true, force: true }));
  await mkdir(path.join(app, 'bin'));
  await mkdir(path.join(app, 'dist', 'proxy', 'cli'), { recursive: true });
  await copyFile(WRAPPER, path.join(app, 'bin', 'kguard'));
  await symlink(path.join(app, 'bin', 'kguard'), path.join(app, 'kguard-on-path'));
  // The compiled CLI's stand-in: what the process node became is allowed to dump, and what it was given.
  await writeFile(
    path.join(app, 'dist', 'proxy', 'cli', 'main.js'),
    `const limits = require('node:fs').readFileSync('/proc/self/limits', 'utf8');
     const core = /^Max core file size\\s+(\\S+)\\s+(\\S+)/m.exec(limits);
     console.log(JSON.stringify({ pid: process.pid, soft: core[1], hard: core[2], args: process.argv.slice(2) }));`,
  );
  const child = spawn('/bin/sh', ['-c', 'ulimit -c unlimited && exec /bin/sh "$0" "$@"', path.join(app, 'kguard-on-path'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`wrapper exited ${code}: ${stderr}`);
  return { pid: child.pid!, out: JSON.parse(stdout) as Record<string, unknown> };
}

t.test('node runs with no core dumps, soft and hard, with the arguments as given, as the process tini started', async (t) => {
  const { pid, out } = await runWrapped(['keys', 'rewrap', '--to', 'aws-kms', 'a b']);
  t.same({ soft: out.soft, hard: out.hard }, { soft: '0', hard: '0' }, 'RLIMIT_CORE 0 (node cannot raise it back)');
  t.same(out.args, ['keys', 'rewrap', '--to', 'aws-kms', 'a b'], 'arguments passed through unchanged');
  t.equal(out.pid, pid, "exec'd: the same process, so tini's SIGTERM reaches node and the drain runs");
});
