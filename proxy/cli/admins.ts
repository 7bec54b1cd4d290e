// kguard admins add|list|remove: tokens for the admin API, shown once.
import { AdminTokens, type Role } from '../admin/tokens.js';
import { ensurePrivateDir } from '../common/fsutil.js';
import { ADMINS_TEXT } from './admins-text.js';
import { configFromFlags, openOutFile, printJson } from './args.js';
import { cliLanguage } from './lang.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';

async function tokensOf(ctx: Ctx): Promise<AdminTokens> {
  const config = await configFromFlags(ctx.values, ctx.io);
  await ensurePrivateDir(config.dataDir);
  return AdminTokens.forDataDir(config.dataDir);
}

export const add: Handler = async (ctx) => {
  const name = ctx.positionals[0]!;
  const role = (ctx.str('role') ?? 'viewer') as Role;
  const tokens = await tokensOf(ctx);
  const say = ADMINS_TEXT[await cliLanguage(ctx)];
  const out = ctx.str('token-out');
  // The file first (no admin when it cannot be created), as bots add --secret-out.
  const outFile = out === undefined ? undefined : await openOutFile(out, '--token-out', `admin ${name} not created`, say.tokenOutExists(out, name));
  try {
    const token = await tokens.create(name, role);
    try {
      if (outFile && out !== undefined) {
        // A token nobody received must not stay valid (nor hold the name against the retry).
        await outFile.deliver(token, () => tokens.remove(name));
        ctx.io.stdout.write(say.createdTo(name, role, out));
      } else {
        ctx.io.stdout.write(say.created(name, role, token.toString('latin1')));
      }
    } finally {
      token.fill(0);
    }
    return 0;
  } finally {
    await outFile?.close();
  }
};

export const list: Handler = async (ctx) => {
  const all = await (await tokensOf(ctx)).list();
  if (ctx.bool('json')) printJson(ctx.io, all);
  else if (all.length === 0) ctx.io.stdout.write(ADMINS_TEXT[await cliLanguage(ctx)].none);
  else ctx.io.stdout.write(`${all.map((a) => `${a.name}\t${a.role}`).join('\n')}\n`);
  return 0;
};

export const remove: Handler = async (ctx) => {
  const name = ctx.positionals[0]!;
  const tokens = await tokensOf(ctx);
  const say = ADMINS_TEXT[await cliLanguage(ctx)];
  if (!(await tokens.list()).some((a) => a.name === name)) {
    // A typo during a revocation must not look like success to a script: the admin meant may still hold a token.
    ctx.io.stderr.write(say.noSuch(name));
    return 1;
  }
  await tokens.remove(name);
  ctx.io.stdout.write(say.removed(name));
  return 0;
};

const admins: CliCommand = (args, io) => runCommand(['admins'], args, io);
export default admins;
