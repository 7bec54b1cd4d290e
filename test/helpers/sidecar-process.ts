// Runs the real `kguard serve` binary (compiled JS, as operators run it) in a
// child process, and learns its URLs from the start-up banner. `npm test`
// builds dist/ first (pretest); a single test run builds it when stale.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from './harness.js';

const MAIN = path.join(ROOT, 'dist', 'proxy', 'cli', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return newest;
}

/** Compiles the project when dist/ is missing or older than proxy/ (tests run as operators would). */
export function ensureBuilt(): void {
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= newestSource(path.join(ROOT, 'proxy'))) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(ROOT, 'dist', 'proxy', 'cli', 'build-validators.js')], { stdio: 'inherit' });
}

export interface SidecarProcess {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly adminUrl?: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit (graceful drain). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

export async function spawnSidecar(opts: {
  configFile: string;
  args?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  nodeArgs?: string[];
  timeoutMs?: number;
}): Promise<SidecarProcess> {
  ensureBuilt();
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), MAIN, 'serve', '--config', opts.configFile, ...(opts.args ?? [])], {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const urls = await new Promise<{ url: string; adminUrl?: string }>((resolve, reject) => {
    // A bound for a start that hangs, not a speed check: on a machine loaded by the
    // suite's other files (load 20) a start took over 30 s; a failed start exits at once.
    const timer = setTimeout(() => reject(new Error(`sidecar did not start in time:\n${out}\n${err}`)), opts.timeoutMs ?? 90_000);
    const check = () => {
      const m = /bots connect to\s+(http:\/\/\S+)/.exec(out);
      // The banner may arrive in several chunks: wait for its last fixed line.
      if (!m || !/data directory\s+\S+\n/.test(out)) return;
      clearTimeout(timer);
      const a = /admin \(health\)\s+(http:\/\/[^/\s]+)/.exec(out);
      resolve({ url: m[1]!, adminUrl: a?.[1] });
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`sidecar exited (${code}) before starting:\n${out}\n${err}`));
    });
  });
  return {
    proc,
    ...urls,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Writes a sidecar config file for a spawned `kguard serve`: loopback listeners
 * on free ports, the admin API on, the demo off and the open test policy
 * unless `over` says otherwise (shallow: a key in `over` replaces the default).
 */
export async function writeSidecarConfig(file: string, over: Record<string, unknown>, mode = 0o600): Promise<string> {
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, enabled: true },
    demo: { enabled: false },
    policy: { file: path.join(ROOT, 'test/fixtures/policy-open.yaml') },
    ...over,
  };
  await writeFile(file, JSON.stringify(config), { mode });
  return file;
}
