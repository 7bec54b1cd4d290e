// kguard state status|confirm-flush — the shared state as the running
// sidecar sees it, and the operator's audited confirmation after Redis lost
// its data (flush, restart without persistence, failover to an empty replica).
import { adminClientFrom, printResult } from './admin-common.js';
import { renderState } from './admins-text.js';
import { configFromFlags } from './args.js';
import { languageOrDefault } from './lang.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';

/** The status for people (--lang, else the configured language), or undefined with --json (the answer as is). */
const render = async (ctx: Ctx) => {
  if (ctx.bool('json')) return undefined;
  const lang = await languageOrDefault(ctx);
  return (json: unknown) => renderState(json, lang);
};

const client = async (ctx: Ctx) => adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);

export const status: Handler = async (ctx) => printResult(ctx.io, await (await client(ctx)).call('GET', '/state'), await render(ctx));

export const confirmFlush: Handler = async (ctx) => {
  const reason = ctx.str('reason')!;
  if (reason.trim() === '') return ctx.usage('--reason must say why it is safe');
  return printResult(ctx.io, await (await client(ctx)).call('POST', '/state/confirm-flush', { reason }), await render(ctx));
};

const state: CliCommand = (args, io) => runCommand(['state'], args, io);
export default state;
