// kguard: one binary, subcommands in their own modules, loaded on demand so
// `kguard policy check` does not start a server's worth of imports.
import type { CliCommand, CliIO } from './types.js';

const COMMANDS: Record<string, { load: () => Promise<{ default: CliCommand }>; summary: string }> = {
  serve: { load: () => import('./serve.js'), summary: 'run the sidecar (embedded default: simulator, local keyring, memory state)' },
  bots: { load: () => import('./bots.js'), summary: 'add | list | disable | enable | kill-sessions bot identities' },
  keys: { load: () => import('./keys.js'), summary: 'import | list | rotate | rewrap | disable | enable Kiwoom credentials' },
  policy: { load: () => import('./policy.js'), summary: 'check | test | explain | diff policy files' },
  audit: { load: () => import('./audit.js'), summary: 'verify | hash | receipt | keygen for the audit trail' },
  admins: { load: () => import('./admins.js'), summary: 'add | list | remove admin API tokens' },
  approvals: { load: () => import('./approvals.js'), summary: 'list | approve | refuse | enroll step-up approvals' },
  lockdown: { load: () => import('./lockdown.js'), summary: 'emergency lockdown of a bot, an account or everything' },
  incidents: { load: () => import('./incidents.js'), summary: 'list | show | compensation for security incidents' },
  state: { load: () => import('./state.js'), summary: 'status | confirm-flush the shared state after a Redis flush' },
  sim: { load: () => import('./sim.js'), summary: 'run the Kiwoom REST simulator on loopback' },
};

function usage(io: CliIO): void {
  io.stdout.write('usage: kguard <command> [options]\n\n');
  for (const [name, c] of Object.entries(COMMANDS)) io.stdout.write(`  ${name.padEnd(10)} ${c.summary}\n`);
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    usage(io);
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.stderr.write(`kguard: unknown command '${name}'\n`);
    usage(io);
    return 2;
  }
  try {
    const mod = await cmd.load();
    return await mod.default(rest, io);
  } catch (err) {
    // Messages only: stacks may carry values from arguments of failed calls.
    // A GuardError's message already starts with its code (as do Node's errno messages).
    const e = err as Error & { code?: string };
    const prefix = e.code && !e.message.startsWith(`${e.code}:`) ? `${e.code}: ` : '';
    io.stderr.write(`kguard ${name}: ${prefix}${e.message}\n`);
    return 1;
  }
}
