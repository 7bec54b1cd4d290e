// kguard bots add|list|disable|enable|kill-sessions|remove. The bot secret is
// printed once on `add` (or written to a new 0600 file with --secret-out: an
// existing one, perhaps another bot's only copy, is never replaced).
// disable, enable and kill-sessions go through the running sidecar's admin
// API (server/bot-control.ts: one meaning of disable and of ending sessions);
// remove (bots-remove.ts) always does (server/bot-remove.ts: offboarding needs the live sidecar).
import { BotRegistry, type PublicBot } from '../auth/index.js';
import { ensurePrivateDir } from '../common/fsutil.js';
import { configFromFlags, openOutFile, printJson } from './args.js';
import { adminClientFrom, printResult } from './admin-common.js';
import { BOTS_TEXT } from './bots-text.js';
import { languageOrDefault } from './lang.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';
import type { Language } from '../common/errors.js';
import { UsageError } from './usage.js';

async function withRegistry<T>(ctx: Ctx, fn: (registry: BotRegistry, say: (typeof BOTS_TEXT)[Language]) => Promise<T>): Promise<T> {
  const config = await configFromFlags(ctx.values, ctx.io);
  await ensurePrivateDir(config.dataDir);
  const registry = await BotRegistry.open(config.dataDir);
  const lang = ctx.values.lang;
  try {
    return await fn(registry, BOTS_TEXT[lang === 'ko' || lang === 'en' ? lang : config.language]);
  } finally {
    registry.close();
  }
}

export const add: Handler = (ctx) =>
  withRegistry(ctx, async (registry, say) => {
    const allowed = ctx
      .strs('allow')
      .flatMap((a) => a.split(','))
      .map((a) => a.trim())
      .filter(Boolean);
    const id = ctx.positionals[0]!;
    const out = ctx.str('secret-out');
    // The file first (no bot when it cannot be created), as bots import --secrets-out.
    const outFile = out === undefined ? undefined : await openOutFile(out, '--secret-out', `bot ${id} not created`, say.secretOutExists(out, id));
    try {
      const { bot, secret } = await registry.add({ id, owner: ctx.str('owner') ?? 'unknown', account: ctx.str('account')!, allowed });
      try {
        if (outFile && out !== undefined) {
          // A bot whose secret nobody received must not stay registered (nor hold the id against the retry).
          await outFile.deliver(secret, () => registry.removeAdded([bot.id]));
          ctx.io.stdout.write(say.createdTo(bot.id, out));
        } else {
          ctx.io.stdout.write(say.created(bot.id, secret.toString('latin1')));
        }
      } finally {
        secret.fill(0);
      }
      printJson(ctx.io, bot);
      return 0;
    } finally {
      await outFile?.close();
    }
  });

export const list: Handler = (ctx) =>
  withRegistry(ctx, async (registry, say) => {
    const all = registry.list();
    if (ctx.bool('json')) printJson(ctx.io, all);
    else if (all.length === 0) ctx.io.stdout.write(say.none);
    else ctx.io.stdout.write(`${all.map((b: PublicBot) => say.line(b)).join('\n')}\n`);
    return 0;
  });

/** Through the admin API when one is named (flag or environment), or a token file is given. */
function online(ctx: Ctx): boolean {
  return [ctx.str('admin-url'), ctx.str('token-file'), ctx.io.env.KGUARD_ADMIN_URL, ctx.io.env.KGUARD_ADMIN_TOKEN_FILE].some(
    (v) => v !== undefined && v !== '',
  );
}

async function viaAdmin(ctx: Ctx, action: 'disable' | 'enable' | 'kill-sessions'): Promise<number> {
  const id = ctx.positionals[0]!;
  const admin = await adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
  const r = await admin.call('POST', `/bots/${encodeURIComponent(id)}/${action}`);
  const say = ctx.bool('json') ? undefined : BOTS_TEXT[await languageOrDefault(ctx)];
  return printResult(ctx.io, r, say && (() => say[action](id)));
}

async function setFlag(ctx: Ctx, enabled: boolean): Promise<number> {
  if (online(ctx)) return viaAdmin(ctx, enabled ? 'enable' : 'disable');
  return withRegistry(ctx, async (registry, say) => {
    const bot = await registry.setEnabled(ctx.positionals[0]!, enabled);
    if (ctx.bool('json')) printJson(ctx.io, { bot });
    else ctx.io.stdout.write(say.flag(bot.id, enabled));
    if (!enabled) ctx.io.stderr.write(say.offlineNote);
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

const bots: CliCommand = (args, io) => runCommand(['bots'], args, io);
export default bots;
