// kguard state status|confirm-flush — the shared state as the running
// sidecar sees it, and the operator's audited confirmation after Redis lost
// its data (flush, restart without persistence, failover to an empty replica).
import { adminClientFrom, printResult } from './admin-common.js';
import { configFromFlags } from './args.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';

interface Status {
  backend: string;
  up: boolean;
  reason?: string;
  generation: string | null;
  flushDetected: boolean;
  confirmed?: boolean;
}

function render(json: unknown): string {
  const s = json as Status;
  const lines = [
    `backend:        ${s.backend}`,
    `up:             ${s.up ? 'yes' : `NO${s.reason ? ` (${s.reason})` : ''}`}`,
    `generation:     ${s.generation ?? '-'}`,
    `flush detected: ${s.flushDetected ? 'YES: calls are refused (KG7003) until confirmed with `kguard state confirm-flush --reason TEXT`' : 'no'}`,
  ];
  if (s.confirmed) lines.unshift('flush confirmed: every replica lets calls through again');
  return `${lines.join('\n')}\n`;
}

const client = async (ctx: Ctx) => adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);

export const status: Handler = async (ctx) => printResult(ctx.io, await (await client(ctx)).call('GET', '/state'), ctx.bool('json') ? undefined : render);

export const confirmFlush: Handler = async (ctx) => {
  const reason = ctx.str('reason')!;
  if (reason.trim() === '') return ctx.usage('--reason must say why it is safe');
  return printResult(ctx.io, await (await client(ctx)).call('POST', '/state/confirm-flush', { reason }), ctx.bool('json') ? undefined : render);
};

const state: CliCommand = (args, io) => runCommand(['state'], args, io);
export default state;
