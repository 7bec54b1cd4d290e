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

function reply(proc: ChildProcess, role: ChildRole, expect: ChildMessage['type']): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${role}: no '${expect}' reply within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
    const onMessage = (m: ChildMessage) => {
      if (m.type === 'error') done(new Error(`${role}: ${m.message}`));
      else if (m.type === expect) done(undefined, m);
    };
    const onExit = (code: number | null) => done(new Error(`${role} exited (code ${code}) before '${expect}'`));
    function done(err?: Error, m?: ChildMessage): void {
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
    const p = reply(proc, role, expect);
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
