// kguard approvals list|show|approve|refuse|enroll — against the running
// sidecar's admin API (approvals live in the shared Store). The TOTP code is
// read from stdin, never from argv.
import { readCodeFromStdin } from './admin-client.js';
import { adminClientFrom, printResult } from './admin-common.js';
import { configFromFlags } from './args.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';
import { UsageError } from './usage.js';

interface View {
  id: string;
  status: string;
  level: string;
  botId: string;
  apiId: string;
  score: number;
  createdAt: string;
  expiresAt: string;
  summary: Record<string, string>;
  approvals: { approver: string }[];
  requiredApprovals: number;
  refusal?: { ownCall?: boolean };
}

/** One approval per line; a call declined as the bot's own shows as `declined`, not `refused` (a sign of compromise). */
function table(json: unknown): string {
  const rows = (json as { approvals: View[] }).approvals;
  if (rows.length === 0) return 'no approvals\n';
  return `${rows
    .map(
      (v) =>
        `${v.id}  ${(v.refusal?.ownCall ? 'declined' : v.status).padEnd(8)} ${v.level.padEnd(7)} bot=${v.botId} ${v.apiId} score=${v.score} ${Object.entries(
          v.summary,
        )
          .map(([k, x]) => `${k}=${x}`)
          .join(' ')} approvals=${v.approvals.length}/${v.requiredApprovals} expires=${v.expiresAt}`,
    )
    .join('\n')}\n`;
}

const client = async (ctx: Ctx) => adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
const at = (ctx: Ctx, suffix = '') => `/approvals/${encodeURIComponent(ctx.positionals[0]!)}${suffix}`;
const statusLine = (ctx: Ctx) =>
  ctx.bool('json')
    ? undefined
    : (j: unknown) => `approval ${ctx.positionals[0]}: ${(j as View).status}${(j as View).refusal?.ownCall ? " (declined as the bot's own call)" : ''}\n`;

export const list: Handler = async (ctx) => {
  const q = new URLSearchParams();
  const status = ctx.str('status');
  const bot = ctx.str('bot');
  if (status !== undefined) q.set('status', status);
  if (bot !== undefined) q.set('bot', bot);
  const r = await (await client(ctx)).call('GET', `/approvals${q.size ? `?${q}` : ''}`);
  return printResult(ctx.io, r, ctx.bool('json') ? undefined : table);
};

/** One approval as JSON (with or without --json: there is no shorter form worth having). */
export const show: Handler = async (ctx) => printResult(ctx.io, await (await client(ctx)).call('GET', at(ctx)));

export const approve: Handler = async (ctx) => {
  if (ctx.io.stdin.isTTY) ctx.io.stderr.write('TOTP code: ');
  const code = await readCodeFromStdin(ctx.io.stdin);
  try {
    if (!/^\d{6,8}$/.test(code.toString('latin1'))) throw new UsageError('the code must be 6-8 digits on stdin');
    return printResult(ctx.io, await (await client(ctx)).call('POST', at(ctx, '/approve'), { code: code.toString('latin1') }), statusLine(ctx));
  } finally {
    code.fill(0);
  }
};

export const refuse: Handler = async (ctx) =>
  printResult(
    ctx.io,
    await (await client(ctx)).call('POST', at(ctx, '/refuse'), { reason: ctx.str('reason'), ...(ctx.bool('own-call') ? { ownCall: true } : {}) }),
    statusLine(ctx),
  );

export const enroll: Handler = async (ctx) => {
  const roles = ctx.strs('role').length ? ctx.strs('role') : ['approver'];
  const r = await (await client(ctx)).call('POST', '/approvers', { name: ctx.positionals[0], roles, replace: ctx.bool('replace') });
  return printResult(
    ctx.io,
    r,
    ctx.bool('json')
      ? undefined
      : (j) => {
          const e = j as { name: string; secret: string; uri: string };
          return `approver ${e.name} enrolled (${roles.join(', ')})\nTOTP secret (shown once): ${e.secret}\notpauth URI (shown once): ${e.uri}\n`;
        },
  );
};

const approvals: CliCommand = (args, io) => runCommand(['approvals'], args, io);
export default approvals;
