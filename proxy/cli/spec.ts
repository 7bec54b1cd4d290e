// The shape of the command registry (commands.ts): every command, its flags
// with their descriptions, its subcommands and its handler, as data. The
// dispatcher (runner.ts) parses with exactly these flags and the help printer
// (help.ts) prints exactly these, so the two cannot drift apart; a handler
// reads its flags through Ctx, which refuses a flag the command does not declare.
import type { CliIO } from './types.js';

export interface Flag {
  readonly type: 'string' | 'boolean';
  /** One line: what the flag does. */
  readonly help: string;
  /** Placeholder for the value in usage lines (FILE, N, URL); strings only. */
  readonly value?: string;
  readonly short?: string;
  readonly multiple?: boolean;
  readonly required?: boolean;
  /** The only values accepted (checked before the handler runs). */
  readonly choices?: readonly string[];
}

export type Flags = Readonly<Record<string, Flag>>;

export type Values = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

export interface Ctx {
  /** e.g. ['bots', 'list'] */
  readonly path: readonly string[];
  readonly positionals: readonly string[];
  /** The parsed flags, for helpers that read the shared ones (config, data-dir, admin-url, token-file). */
  readonly values: Values;
  readonly io: CliIO;
  readonly signal?: AbortSignal;
  str(name: string): string | undefined;
  strs(name: string): string[];
  bool(name: string): boolean;
  /** Prints a usage error for this command to stderr and returns 2. */
  usage(detail: string): number;
}

export type Handler = (ctx: Ctx) => Promise<number>;

export interface Command {
  readonly name: string;
  /** One line, shown in the parent's listing and at the top of the command's help. */
  readonly summary: string;
  /**
   * Positional arguments: `<id>` or `ID` required, `[X]` optional, a trailing
   * `...` repeats. The dispatcher checks the count against it.
   */
  readonly args?: string;
  /** The command's own flags. */
  readonly flags?: Flags;
  /** Flags shared with its siblings (a group's are given to every subcommand). Shown apart in help. */
  readonly common?: Flags;
  /** Extra lines at the end of the help. */
  readonly notes?: readonly string[];
  readonly sub?: readonly Command[];
  /**
   * The error thrown for arguments beyond `args` (never echoed: a secret may
   * have been pasted); without it they are a usage error.
   */
  readonly strayArgs?: (count: number) => Error;
  readonly run?: Handler;
}

/** A handler that lives in a module loaded only when the command runs (keeps `kguard policy check` light). */
export function lazy<K extends string, M extends Record<K, Handler>>(load: () => Promise<M>, key: K): Handler {
  return async (ctx) => (await load())[key](ctx);
}

export const CONFIG_FLAGS: Flags = {
  config: { type: 'string', short: 'c', value: 'FILE', help: 'configuration file, YAML or JSON (default: KGUARD_CONFIG, else the embedded default)' },
  'data-dir': { type: 'string', value: 'DIR', help: 'data directory: keyring, bots, credentials, audit (overrides dataDir)' },
};

export const ADMIN_FLAGS: Flags = {
  'admin-url': { type: 'string', value: 'URL', help: "the running sidecar's admin API, e.g. http://127.0.0.1:9090/admin/v1 (or KGUARD_ADMIN_URL)" },
  'token-file': { type: 'string', value: 'FILE', help: 'file holding your admin token, never argv (or KGUARD_ADMIN_TOKEN_FILE)' },
};

export const JSON_FLAG: Flags = { json: { type: 'boolean', help: 'machine-readable JSON on stdout' } };

/** `--lang ko|en` for commands that print for people (lang.ts resolves it). */
export const LANG_FLAG: Flags = {
  lang: {
    type: 'string',
    choices: ['ko', 'en'],
    help: 'language of the text output (default: the configured language, Korean unless set; --json is not translated)',
  },
};

export const HELP_FLAG: Flag = { type: 'boolean', short: 'h', help: 'print this usage and exit 0' };

/** The flags a command parses: its group's common flags, its own common flags, its own flags. */
export function flagsOf(cmd: Command, parent?: Command): Flags {
  return { ...parent?.common, ...cmd.common, ...cmd.flags };
}

/** Minimum and maximum positional count from `args`. */
export function arity(args: string | undefined): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (const token of (args ?? '').split(/\s+/).filter(Boolean)) {
    const repeats = token.endsWith('...');
    const optional = token.startsWith('[');
    if (!optional) min++;
    max = repeats || max === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : max + 1;
  }
  return { min, max };
}
