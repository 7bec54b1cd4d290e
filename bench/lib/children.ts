// Forks a bench child (simulator, bare proxy or kiwoom-guard) and talks to it over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ChildRole, ParentMessage, StartMessage } from './protocol.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js');
const REPLY_TIMEOUT_MS = 60_000;

export interface BenchChild {
  readonly role: ChildRole;
  readonly pid: number;
  readonly url: string;
  readonly adminUrl?: string;
  ask(msg: ParentMessage, expect: ChildMessage['type']): Promise<ChildMessage>;
  close(): Promise<void>;
}

/** The child's next message of type `expect`; rejects on its 'error' message, its exit, or the time-out. */
export function replyFrom<M extends { readonly type: string; readonly message?: string }, T extends M['type']>(
  proc: ChildProcess,
  label: string,
  expect: T,
  timeoutMs: number,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${label}: no '${expect}' reply within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: M) => {
      if (m.type === 'error') done(new Error(`${label}: ${m.message}`));
      else if (m.type === expect) done(undefined, m as Extract<M, { type: T }>);
    };
    const onExit = (code: number | null) => done(new Error(`${label} exited (code ${code}) before '${expect}'`));
    function done(err?: Error, m?: Extract<M, { type: T }>): void {
      clearTimeout(timer);
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
}

/** `execArgv`: extra Node flags for this child only (e.g. `--cpu-prof` for bench/profile.ts). */
export async function startChild(role: ChildRole, start: StartMessage, execArgv: readonly string[] = []): Promise<BenchChild> {
  const proc = fork(WORKER, [role], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...execArgv] });
  const ask = (msg: ParentMessage, expect: ChildMessage['type']) => {
    const p: Promise<ChildMessage> = replyFrom<ChildMessage, ChildMessage['type']>(proc, role, expect, REPLY_TIMEOUT_MS);
    proc.send(msg);
    return p;
  };
  let ready: ChildMessage;
  try {
    ready = await ask(start, 'ready');
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  if (ready.type !== 'ready') throw new Error('unexpected reply');
  return {
    role,
    pid: proc.pid!,
    url: ready.url,
    adminUrl: ready.adminUrl,
    ask,
    async close() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.send({ type: 'close' });
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
