// One sidecar replica in its own process (test/helpers/replica-child.mjs, on the compiled sidecar) for the
// multi-replica tests: started with config overrides and optionally the bots
// to provision in the shared data dir; answers one JSON line per command.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { ensureBuilt } from './sidecar-process.js';

export interface ReplicaBot {
  botId: string;
  account: string;
  appKey: string;
  secretKey: string;
  /** Default: query, account, order, cancel. */
  allowed?: string[];
}

export interface Replica {
  url: string;
  adminUrl: string;
  botSecrets?: Record<string, string>;
  child: ChildProcess;
  /** Resolves when the process has exited (stopped or killed). */
  exited: Promise<void>;
  /** Sends one command line and resolves with the child's JSON answer. */
  command(line: string): Promise<Record<string, unknown>>;
  /** Graceful: stdin ends, the replica drains; SIGKILL after 8 s. */
  stop(): Promise<void>;
}

const CHILD = new URL('./replica-child.mjs', import.meta.url).pathname;

export async function startReplica(name: string, overrides: Record<string, unknown>, setup?: readonly ReplicaBot[]): Promise<Replica> {
  ensureBuilt();
  const child = spawn(process.execPath, [CHILD], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, REPLICA_OVERRIDES: JSON.stringify(overrides), ...(setup ? { REPLICA_SETUP: JSON.stringify(setup) } : {}) },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The child answers with one JSON line per event: first "ready", then one per command.
  const waiters: ((v: Record<string, unknown>) => void)[] = [];
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      waiters.shift()?.(JSON.parse(line) as Record<string, unknown>);
    }
  });
  const next = () => new Promise<Record<string, unknown>>((resolve) => waiters.push(resolve));
  const info = await Promise.race([
    next() as Promise<{ url: string; adminUrl: string; botSecrets?: Record<string, string> }>,
    exited.then(() => {
      throw new Error(`replica ${name} exited before it was ready`);
    }),
  ]);
  return {
    url: info.url,
    adminUrl: info.adminUrl,
    ...(info.botSecrets ? { botSecrets: info.botSecrets } : {}),
    child,
    exited,
    command(line) {
      const answer = next();
      child.stdin!.write(`${line}\n`);
      return answer;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json;charset=UTF-8', ...headers } });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, json, text };
}
