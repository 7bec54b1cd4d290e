// Runs the real `kguard serve` binary (compiled JS, as operators run it) in a
// child process, and learns its URLs from the start-up banner. `npm test`
// builds dist/ first (pretest); a single test run builds it when stale.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
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

/** Held (a directory: made atomically) while one test process rebuilds dist/. */
const BUILD_LOCK = path.join(ROOT, 'dist', '.build-lock');
/** A lock older than this was left by a killed run: no build takes that long. */
const STALE_LOCK_MS = 5 * 60_000;

const built = (): boolean => existsSync(MAIN) && statSync(MAIN).mtimeMs >= newestSource(path.join(ROOT, 'proxy'));

/**
 * Compiles the project when dist/ is missing or older than proxy/ (tests run as operators would). One test process
 * builds at a time, under BUILD_LOCK; the others wait for it and find dist/ built, rather than each run tsc at once
 * and start a sidecar from a dist/ another is halfway through writing (sources edited while the suite runs).
 */
export function ensureBuilt(): void {
  if (!existsSync(BUILD_LOCK) && built()) return;
  mkdirSync(path.dirname(BUILD_LOCK), { recursive: true });
  for (const until = Date.now() + 2 * STALE_LOCK_MS; ; ) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() - (statSync(BUILD_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > STALE_LOCK_MS)
        rmSync(BUILD_LOCK, { recursive: true, force: true });
      if (Date.now() > until) throw new Error(`${BUILD_LOCK} held for over ${(2 * STALE_LOCK_MS) / 60_000} minutes`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (built()) return;
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
    execFileSync(process.execPath, [path.join(ROOT, 'dist', 'proxy', 'cli', 'build-validators.js')], { stdio: 'inherit' });
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
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
