// kguard admins add|list|remove: tokens for the admin API, shown once.
import { AdminTokens, ROLES, type Role } from '../admin/tokens.js';
import { ensurePrivateDir, writeFileAtomic } from '../common/fsutil.js';
import { configFromFlags, parseFlags, printJson } from './args.js';
import type { CliCommand } from './types.js';
import { UsageError } from './usage.js';

const admins: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(rest, { role: { type: 'string' }, 'token-out': { type: 'string' } });
  const config = await configFromFlags(values, io);
  await ensurePrivateDir(config.dataDir);
  const tokens = AdminTokens.forDataDir(config.dataDir);
  const name = positionals[0];
  switch (sub) {
    case 'add': {
      const role = (values.role ?? 'viewer') as Role;
      if (!name || !ROLES.includes(role)) throw new UsageError(`usage: kguard admins add <name> --role ${ROLES.join('|')} [--token-out FILE]`);
      const token = await tokens.create(name, role);
      try {
        if (typeof values['token-out'] === 'string') {
          await writeFileAtomic(values['token-out'], token, 0o600);
          io.stdout.write(`admin ${name} (${role}) created; token written to ${values['token-out']} (mode 0600)\n`);
        } else {
          io.stdout.write(`admin ${name} (${role}) created\nadmin token (shown once): ${token.toString('latin1')}\n`);
        }
      } finally {
        token.fill(0);
      }
      return 0;
    }
    case 'list':
      printJson(io, tokens.list());
      return 0;
    case 'remove':
      if (!name) throw new UsageError('usage: kguard admins remove <name>');
      await tokens.remove(name);
      return 0;
    default:
      io.stderr.write('usage: kguard admins add|list|remove ...\n');
      return 2;
  }
};

export default admins;
