// kguard bots add|list|disable|enable|kill-sessions. The bot secret is
// printed once on `add` (or written to a 0600 file with --secret-out).
import { BotRegistry } from '../auth/index.js';
import { ensurePrivateDir, writeFileAtomic } from '../common/fsutil.js';
import { configFromFlags, parseFlags, printJson } from './args.js';
import type { CliCommand } from './types.js';
import { UsageError } from './usage.js';

const bots: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(rest, {
    owner: { type: 'string' },
    account: { type: 'string' },
    allow: { type: 'string', multiple: true },
    'secret-out': { type: 'string' },
  });
  const config = await configFromFlags(values, io);
  await ensurePrivateDir(config.dataDir);
  const registry = await BotRegistry.open(config.dataDir);
  try {
    const id = positionals[0];
    switch (sub) {
      case 'add': {
        if (!id || typeof values.account !== 'string') throw new UsageError('usage: kguard bots add <id> --account <account> [--owner <name>] [--allow kt10000 --allow kind:query ...] [--secret-out FILE]');
        const allowed = (values.allow ?? []).flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean);
        const { bot, secret } = await registry.add({ id, owner: typeof values.owner === 'string' ? values.owner : 'unknown', account: values.account, allowed });
        try {
          if (typeof values['secret-out'] === 'string') {
            await writeFileAtomic(values['secret-out'], secret, 0o600);
            io.stdout.write(`bot ${bot.id} created; secret written to ${values['secret-out']} (mode 0600)\n`);
          } else {
            io.stdout.write(`bot ${bot.id} created\nbot secret (shown once): ${secret.toString('latin1')}\n`);
          }
        } finally {
          secret.fill(0);
        }
        printJson(io, bot);
        return 0;
      }
      case 'list':
        printJson(io, registry.list());
        return 0;
      case 'disable':
      case 'enable': {
        if (!id) throw new UsageError(`usage: kguard bots ${sub} <id>`);
        printJson(io, await registry.setEnabled(id, sub === 'enable'));
        return 0;
      }
      default:
        io.stderr.write('usage: kguard bots add|list|disable|enable ...\n');
        return 2;
    }
  } finally {
    registry.close();
  }
};

export default bots;
