// kguard: one binary; the commands, their flags and their handlers are one
// table (commands.ts) that both the dispatcher and the help read. Handlers are
// loaded on demand, so `kguard policy check` does not load a server.
import { runCommand } from './runner.js';
import type { CliIO } from './types.js';

/**
 * Exit codes: 0 done (and --help, --version); 1 the command failed (its error
 * on stderr, code once); 2 usage error (KG9004: unknown option or command,
 * missing argument; a bare group like `kguard bots` too); 3 as documented by
 * the command (policy diff --fail-on-loosen, a lockdown step that failed).
 */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const args = argv[0] === '--version' ? ['version', ...argv.slice(1)] : argv;
  return runCommand([], args, io, { catchErrors: true });
}
