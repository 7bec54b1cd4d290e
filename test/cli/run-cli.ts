// Runs the built kguard binary (dist/proxy/cli/main.js, as operators run it)
// as a child process and resolves when it has exited and its output is read.
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import path from 'node:path';
import { ROOT } from '../helpers/harness.js';
import { ensureBuilt } from '../helpers/sidecar-process.js';

export const MAIN = path.join(ROOT, 'dist', 'proxy', 'cli', 'main.js');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let built = false;

export async function kguard(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<CliRun> {
  // Once per test file: dist/ is compiled when missing or older than proxy/.
  if (!built) ensureBuilt();
  built = true;
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(opts.stdin ?? '');
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  return { code, stdout, stderr };
}

/** Runs fn over items, at most `limit` at a time, in order of the results. */
export async function pooled<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** How many times `needle` occurs in `text`. */
export function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/**
 * Runs kguard in this process through the same entry (`main` with its own
 * streams): for commands that only print (help, usage, version), where a
 * child process per case costs most of the test's time.
 */
export async function kguardInProcess(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<CliRun> {
  const { main } = await import('../../proxy/cli/index.js');
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        append(chunk.toString());
        done();
      },
    });
  const code = await main([...args], {
    stdin: Readable.from([opts.stdin ?? '']),
    stdout: sink((s) => {
      stdout += s;
    }),
    stderr: sink((s) => {
      stderr += s;
    }),
    env: { PATH: process.env.PATH, ...opts.env },
  });
  return { code, stdout, stderr };
}
