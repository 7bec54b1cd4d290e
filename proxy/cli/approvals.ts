// kguard approvals list|show|approve|refuse|enroll — against the running
// sidecar's admin API (approvals live in the shared Store). The TOTP code is
// read from stdin, never from argv.
import { readCodeFromStdin } from './admin-client.js';
import { adminClientFrom, printResult } from './admin-common.js';
import { configFromFlags } from './args.js';
import { APPROVALS_TEXT, type ApprovalView } from './approvals-text.js';
import { languageOrDefault } from './lang.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';
import { UsageError } from './usage.js';

/** The words for people (--lang, else the configured language), or undefined with --json (the answer as is). */
const words = async (ctx: Ctx) => (ctx.bool('json') ? undefined : APPROVALS_TEXT[await languageOrDefault(ctx)]);

const client = async (ctx: Ctx) => adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
const at = (ctx: Ctx, suffix = '') => `/approvals/${encodeURIComponent(ctx.positionals[0]!)}${suffix}`;
const statusLine = async (ctx: Ctx) => {
  const say = await words(ctx);
  return say && ((j: unknown) => say.status(ctx.positionals[0]!, j as ApprovalView));
};

export const list: Handler = async (ctx) => {
  const q = new URLSearchParams();
  const status = ctx.str('status');
  const bot = ctx.str('bot');
  if (status !== undefined) q.set('status', status);
  if (bot !== undefined) q.set('bot', bot);
  const r = await (await client(ctx)).call('GET', `/approvals${q.size ? `?${q}` : ''}`);
  const say = await words(ctx);
  return printResult(
    ctx.io,
    r,
    say &&
      ((j) => {
        const rows = (j as { approvals: ApprovalView[] }).approvals;
        return rows.length === 0 ? say.none : `${rows.map(say.row).join('\n')}\n`;
      }),
  );
};

/** One approval as JSON (with or without --json: there is no shorter form worth having). */
export const show: Handler = async (ctx) => printResult(ctx.io, await (await client(ctx)).call('GET', at(ctx)));

export const approve: Handler = async (ctx) => {
  if (ctx.io.stdin.isTTY) ctx.io.stderr.write(APPROVALS_TEXT[await languageOrDefault(ctx)].codePrompt);
  const code = await readCodeFromStdin(ctx.io.stdin);
  try {
    if (!/^\d{6,8}$/.test(code.toString('latin1'))) throw new UsageError('the code must be 6-8 digits on stdin');
    return printResult(ctx.io, await (await client(ctx)).call('POST', at(ctx, '/approve'), { code: code.toString('latin1') }), await statusLine(ctx));
  } finally {
    code.fill(0);
  }
};

export const refuse: Handler = async (ctx) =>
  printResult(
    ctx.io,
    await (await client(ctx)).call('POST', at(ctx, '/refuse'), { reason: ctx.str('reason'), ...(ctx.bool('own-call') ? { ownCall: true } : {}) }),
    await statusLine(ctx),
  );

export const enroll: Handler = async (ctx) => {
  const roles = ctx.strs('role').length ? ctx.strs('role') : ['approver'];
  const r = await (await client(ctx)).call('POST', '/approvers', { name: ctx.positionals[0], roles, replace: ctx.bool('replace') });
  const say = await words(ctx);
  return printResult(
    ctx.io,
    r,
    say &&
      ((j) => {
        const e = j as { name: string; secret: string; uri: string };
        return say.enrolled(e.name, roles.join(', '), e.secret, e.uri);
      }),
  );
};

const approvals: CliCommand = (args, io) => runCommand(['approvals'], args, io);
export default approvals;
