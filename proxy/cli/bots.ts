// kguard bots add|list|disable|enable|kill-sessions|remove. The bot secret is
// printed once on `add` (or written to a 0600 file with --secret-out).
// disable, enable and kill-sessions go through the running sidecar's admin
// API (server/bot-control.ts: one meaning of disable and of ending sessions);
// remove always does (server/bot-remove.ts: offboarding needs the live sidecar).
import { BotRegistry, type PublicBot } from '../auth/index.js';
import { ensurePrivateDir, writeFileAtomic } from '../common/fsutil.js';
import { configFromFlags, printJson, unwritten } from './args.js';
import { adminClientFrom, printResult } from './admin-common.js';
import type { RemoveReport } from '../server/bot-remove.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';
import { UsageError } from './usage.js';

async function withRegistry<T>(ctx: Ctx, fn: (registry: BotRegistry) => Promise<T>): Promise<T> {
  const config = await configFromFlags(ctx.values, ctx.io);
  await ensurePrivateDir(config.dataDir);
  const registry = await BotRegistry.open(config.dataDir);
  try {
    return await fn(registry);
  } finally {
    registry.close();
  }
}

export const add: Handler = (ctx) =>
  withRegistry(ctx, async (registry) => {
    const allowed = ctx
      .strs('allow')
      .flatMap((a) => a.split(','))
      .map((a) => a.trim())
      .filter(Boolean);
    const { bot, secret } = await registry.add({ id: ctx.positionals[0]!, owner: ctx.str('owner') ?? 'unknown', account: ctx.str('account')!, allowed });
    try {
      const out = ctx.str('secret-out');
      if (out !== undefined) {
        // A bot whose secret nobody received must not stay registered (nor hold the id against the retry).
        await writeFileAtomic(out, secret, 0o600).catch(async (err: unknown) => {
          await registry.removeAdded([bot.id]);
          throw unwritten('--secret-out', out, `bot ${bot.id} not created`, err);
        });
        ctx.io.stdout.write(`bot ${bot.id} created; secret written to ${out} (mode 0600)\n`);
      } else {
        ctx.io.stdout.write(`bot ${bot.id} created\nbot secret (shown once): ${secret.toString('latin1')}\n`);
      }
    } finally {
      secret.fill(0);
    }
    printJson(ctx.io, bot);
    return 0;
  });

function botLine(b: PublicBot): string {
  return `${b.id}\t${b.enabled ? 'enabled' : 'DISABLED'}\towner=${b.owner}\taccount=${b.account}\tallowed=${b.allowed.join(',') || '-'}\tcreated=${b.createdAt}`;
}

export const list: Handler = (ctx) =>
  withRegistry(ctx, async (registry) => {
    const all = registry.list();
    if (ctx.bool('json')) printJson(ctx.io, all);
    else if (all.length === 0) ctx.io.stdout.write('no bots registered\n');
    else ctx.io.stdout.write(`${all.map(botLine).join('\n')}\n`);
    return 0;
  });

/** Through the admin API when one is named (flag or environment), or a token file is given. */
function online(ctx: Ctx): boolean {
  return [ctx.str('admin-url'), ctx.str('token-file'), ctx.io.env.KGUARD_ADMIN_URL, ctx.io.env.KGUARD_ADMIN_TOKEN_FILE].some(
    (v) => v !== undefined && v !== '',
  );
}

const DONE: Record<string, (id: string) => string> = {
  disable: (id) => `bot ${id} disabled on every replica; its sessions ended and its broker access revoked\n`,
  enable: (id) => `bot ${id} enabled; sessions ended before stay ended\n`,
  'kill-sessions': (id) => `every session of bot ${id} ended; its broker access revoked\n`,
};

async function viaAdmin(ctx: Ctx, action: 'disable' | 'enable' | 'kill-sessions'): Promise<number> {
  const id = ctx.positionals[0]!;
  const admin = await adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
  const r = await admin.call('POST', `/bots/${encodeURIComponent(id)}/${action}`);
  return printResult(ctx.io, r, ctx.bool('json') ? undefined : () => DONE[action]!(id));
}

async function setFlag(ctx: Ctx, enabled: boolean): Promise<number> {
  if (online(ctx)) return viaAdmin(ctx, enabled ? 'enable' : 'disable');
  return withRegistry(ctx, async (registry) => {
    const bot = await registry.setEnabled(ctx.positionals[0]!, enabled);
    if (ctx.bool('json')) printJson(ctx.io, { bot });
    else ctx.io.stdout.write(`bot ${bot.id} ${enabled ? 'enabled' : 'disabled'} in the registry\n`);
    if (!enabled)
      ctx.io.stderr.write(
        'registry flag set: a running sidecar refuses the bot from its next call (it watches the registry); pass --admin-url to also end its sessions on every replica and revoke its broker token now\n',
      );
    return 0;
  });
}

export const disable: Handler = (ctx) => setFlag(ctx, false);
export const enable: Handler = (ctx) => setFlag(ctx, true);

export const killSessions: Handler = async (ctx) => {
  if (!online(ctx))
    throw new UsageError('kill-sessions needs the running sidecar: pass --admin-url and --token-file (or KGUARD_ADMIN_URL / KGUARD_ADMIN_TOKEN_FILE)');
  return viaAdmin(ctx, 'kill-sessions');
};

/** The removal's steps, one a line (like a lockdown's). */
export function summariseRemoval(r: RemoveReport): string {
  const lines = [`${r.removed ? 'REMOVED' : 'NOT REMOVED'} bot ${r.botId}${r.code ? ` (${r.code})` : ''}`];
  for (const s of r.steps) lines.push(`  ${s.ok ? 'ok    ' : 'FAILED'} ${s.step} (${s.ms} ms): ${s.detail}`);
  return `${lines.join('\n')}\n`;
}

export const remove: Handler = async (ctx) => {
  const id = ctx.positionals[0]!;
  const reason = ctx.str('reason')!;
  if (reason.trim() === '') return ctx.usage('--reason must say why');
  const admin = await adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
  const r = await admin.call('POST', `/bots/${encodeURIComponent(id)}/remove`, { reason });
  const report = r.json as Partial<RemoveReport> | undefined;
  // A removal that stopped part-way answers with its steps: shown, and exit 3 (the bot is disabled, not removed).
  if (report && Array.isArray(report.steps) && report.removed === false) {
    ctx.io.stdout.write(ctx.bool('json') ? `${JSON.stringify(report, null, 2)}\n` : summariseRemoval(report as RemoveReport));
    return 3;
  }
  return printResult(ctx.io, r, ctx.bool('json') ? undefined : (j) => summariseRemoval(j as RemoveReport));
};

const bots: CliCommand = (args, io) => runCommand(['bots'], args, io);
export default bots;
