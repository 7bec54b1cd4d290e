// The many-tenant benches' child protocol and fixtures: bench-only app keys
// derived from an index (random-looking text, never real keys), and a fork
// helper for bench/lib/tenant-worker.ts.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { replyFrom } from './children.js';

export const BENCH_STOCK = '005930';
export const BENCH_QUOTE = 70_000;

export type TenantParentMessage =
  | {
      readonly type: 'start';
      /** sim: how many tenant apps to register; ideal (default true) drops Kiwoom's limits. */
      readonly apps?: number;
      readonly ideal?: boolean;
      /** guard: */
      readonly dataDir?: string;
      readonly simUrl?: string;
      readonly limitsOff?: boolean;
      readonly logLevel?: string;
      readonly guardConfig?: Record<string, unknown>;
    }
  | { readonly type: 'mem' }
  | { readonly type: 'stats' }
  | { readonly type: 'close' };

export type TenantChildMessage =
  | {
      readonly type: 'ready';
      readonly url: string;
      readonly adminUrl?: string;
      readonly adminToken?: string;
      readonly startMs: number;
      readonly bots?: number;
      readonly rssMB: number;
      readonly heapUsedMB: number;
    }
  | { readonly type: 'mem'; readonly rssMB: number; readonly heapUsedMB: number }
  | { readonly type: 'stats'; readonly stats: Record<string, unknown> }
  | { readonly type: 'error'; readonly message: string };

/** Tenant i's bot id, account and (bench-only) Kiwoom keys. */
export function tenantKeys(i: number): { botId: string; account: string; appKey: string; secretKey: string } {
  const n = String(i).padStart(5, '0');
  return { botId: `tenant-${n}`, account: `71${n}001`, appKey: `TNTapp${n}k9f3e7d1c5b`, secretKey: `TNTsecret${n}s2a8c4e6f0b1d3` };
}

export interface TenantChild {
  readonly pid: number;
  readonly ready: Extract<TenantChildMessage, { type: 'ready' }>;
  /** Milliseconds from fork to ready (process start, module load, start-up). */
  readonly forkToReadyMs: number;
  ask<T extends TenantChildMessage['type']>(msg: TenantParentMessage, expect: T): Promise<Extract<TenantChildMessage, { type: T }>>;
  close(): Promise<void>;
}

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tenant-worker.js');

export async function startTenantChild(role: 'sim' | 'guard', start: Extract<TenantParentMessage, { type: 'start' }>): Promise<TenantChild> {
  const t0 = performance.now();
  // BENCH_CPU_PROF=DIR: the sidecar writes a V8 CPU profile there when it exits (to find where a call's time goes).
  const prof = role === 'guard' && process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const proc = fork(WORKER, [role], { execArgv: ['--expose-gc', ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T extends TenantChildMessage['type']>(msg: TenantParentMessage, expect: T) => {
    const p = replyFrom<TenantChildMessage, typeof expect>(proc, 'tenant child', expect, 120_000);
    proc.send(msg);
    return p;
  };
  let ready: Extract<TenantChildMessage, { type: 'ready' }>;
  try {
    ready = await ask(start, 'ready');
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    pid: proc.pid!,
    ready,
    forkToReadyMs: +(performance.now() - t0).toFixed(1),
    ask,
    async close() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.send({ type: 'close' });
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
