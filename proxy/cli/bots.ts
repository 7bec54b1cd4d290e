// kguard bots add|list|disable|enable|kill-sessions. The bot secret is
// printed once on `add` (or written to a 0600 file with --secret-out).
import { BotRegistry } from '../auth/index.js';
import { ensurePrivateDir, writeFileAtomic } from '../common/fsutil.js';
import { configFromFlags, parseFlags, printJson } from './args.js';
import { ADMIN_FLAGS, adminClientFrom, printResult } from './admin-common.js';
import type { CliCommand } from './types.js';
import { UsageError } from './usage.js';

const bots: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(rest, {
    owner: { type: 'string' },
    account: { type: 'string' },
    allow: { type: 'string', multiple: true },
    'secret-out': { type: 'string' },
    ...ADMIN_FLAGS,
  });
  const config = await configFromFlags(values, io);
  await ensurePrivateDir(config.dataDir);
  const registry = await BotRegistry.open(config.dataDir);
  try {
    const id = positionals[0];
    switch (sub) {
      case 'add': {
        if (!id || typeof values.account !== 'string')
          throw new UsageError('usage: kguard bots add <id> --account <account> [--owner <name>] [--allow kt10000 --allow kind:query ...] [--secret-out FILE]');
        const allowed = (values.allow ?? [])
          .flatMap((a) => a.split(','))
          .map((a) => a.trim())
          .filter(Boolean);
        const { bot, secret } = await registry.add({
          id,
          owner: typeof values.owner === 'string' ? values.owner : 'unknown',
          account: values.account,
          allowed,
        });
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
      case 'enable':
      case 'kill-sessions': {
        if (!id) throw new UsageError(`usage: kguard bots ${sub} <id> [--admin-url URL --token-file FILE]`);
        // A running sidecar does all of it (one meaning of disable: flag, sessions ended on every
        // replica, broker token revoked); without one, only the registry flag can be set here.
        const online = typeof values['admin-url'] === 'string' || io.env.KGUARD_ADMIN_URL !== undefined;
        if (online) {
          const admin = await adminClientFrom(values, io);
          return printResult(io, await admin.call('POST', `/bots/${encodeURIComponent(id)}/${sub}`));
        }
        if (sub === 'kill-sessions')
          throw new UsageError('kill-sessions needs the running sidecar: pass --admin-url and --token-file (or KGUARD_ADMIN_URL / KGUARD_ADMIN_TOKEN_FILE)');
        printJson(io, await registry.setEnabled(id, sub === 'enable'));
        if (sub === 'disable')
          io.stderr.write(
            'registry flag set: a running sidecar refuses the bot from its next call (it watches the registry); pass --admin-url to also end its sessions on every replica and revoke its broker token now\n',
          );
        return 0;
      }
      default:
        io.stderr.write('usage: kguard bots add|list|disable|enable|kill-sessions ...\n');
        return 2;
    }
  } finally {
    registry.close();
  }
};

export default bots;
