// The dispatcher: walks the registry from the command line, prints help for
// --help / -h (exit 0), parses flags with exactly the registry's flags
// (a typo gets "did you mean"), checks choices, required flags and argument
// counts, then runs the handler. Usage errors are KG9004 and exit 2; they go
// to stderr as `kguard <command>: <what is wrong>`, a usage line and the code.
import { parseArgs } from 'node:util';
import { ERROR_CATALOGUE, GuardError } from '../common/errors.js';
import { ROOT } from './commands.js';
import { arityText, fullUsage, shortUsage } from './help.js';
import { arity, flagsOf, type Command, type Ctx, type Flags, type Values } from './spec.js';
import { closest } from '../common/suggest.js';
import { languageOrDefault, guardErrorText } from './lang.js';
import type { CliIO } from './types.js';
import { UsageError } from './usage.js';

export interface Resolved {
  readonly path: readonly string[];
  readonly cmd: Command;
  readonly parent?: Command;
}

/** The registry entry at an exact path (e.g. ['bots', 'list']). */
export function resolve(path: readonly string[]): Resolved {
  let cmd: Command = ROOT;
  let parent: Command | undefined;
  for (const name of path) {
    const next = cmd.sub?.find((s) => s.name === name);
    if (!next) throw new Error(`kguard internal: no command ${path.join(' ')}`);
    parent = cmd;
    cmd = next;
  }
  return parent ? { path, cmd, parent } : { path, cmd };
}

export function usageError(io: CliIO, at: Resolved, detail: string, full = false): number {
  const top = at.path[0];
  io.stderr.write(`kguard${top ? ` ${top}` : ''}: ${detail}\n`);
  io.stderr.write(full ? fullUsage(at.path, at.cmd, at.parent) : `${shortUsage(at.path, at.cmd, at.parent)}\n`);
  io.stderr.write(`KG9004: ${ERROR_CATALOGUE.KG9004.en} ('${['kguard', ...at.path].join(' ')} --help' prints every option)\n`);
  return 2;
}

/** An error's message with its code exactly once (a GuardError's message already starts with it). */
export function describeError(err: unknown): string {
  const e = err as Error & { code?: unknown };
  const message = e instanceof Error ? e.message : String(err);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return code && !message.split(/[\s:()[\]'"]+/).includes(code) ? `${code}: ${message}` : message;
}

function choicesText(choices: readonly string[]): string {
  return choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`;
}

/** node:util parseArgs' complaint, in our words (it names options, never values). */
function explainParseError(err: Error, flags: Flags): string {
  const first = err.message.split('\n')[0]!;
  const unknown = /^Unknown option '([^']+)'/.exec(first);
  if (unknown) {
    const name = unknown[1]!;
    const guess = name.startsWith('--') ? closest(name.slice(2), Object.keys(flags)) : undefined;
    return `unknown option ${name}${guess ? `; did you mean --${guess}?` : ''}`;
  }
  const option = /^Option '(?:-\w, )?(--?[\w-]+)/.exec(first)?.[1];
  if (option && / argument missing/.test(first)) return `${option} needs a value`;
  if (option && /does not take an argument/.test(first)) return `${option} takes no value`;
  if (option && /ambiguous/.test(first)) return `${option} needs a value; write a value that starts with '-' as ${option}=VALUE`;
  return first;
}

/** Parses `args` with exactly these flags; checks choices and required flags. Throws UsageError. */
export function parseValues(flags: Flags, args: readonly string[]): { values: Values; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [name, { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) }]),
  );
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (err) {
    if (String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_')) throw new UsageError(explainParseError(err as Error, flags));
    throw err;
  }
  for (const [name, f] of Object.entries(flags)) {
    const v = parsed.values[name];
    const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
    if (f.choices && list.some((x) => typeof x !== 'string' || !f.choices!.includes(x))) throw new UsageError(`--${name} must be ${choicesText(f.choices)}`);
    if (f.required && list.length === 0) throw new UsageError(`--${name} is required`);
  }
  return parsed;
}

function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** Echo a mistyped command name only when it looks like one (never something pasted). */
function shown(word: string): string | undefined {
  return /^[a-z][a-z0-9-]{0,31}$/.test(word) ? `'${word}'` : undefined;
}

function unknownCommand(io: CliIO, at: Resolved, word: string): number {
  const subs = at.cmd.sub!;
  if (word.startsWith('-')) {
    const name = word.split('=')[0]!;
    const everyFlag = new Set([...Object.keys(at.cmd.common ?? {}), ...subs.flatMap((s) => Object.keys(flagsOf(s, at.cmd)))].map((n) => `--${n}`));
    if (everyFlag.has(name)) return usageError(io, at, `missing command before ${name} (options go after the command)`);
    const known = at.path.length === 0 ? ['version', ...everyFlag].map((n) => n.replace(/^--/, '')) : [...everyFlag].map((n) => n.slice(2));
    const guess = name.startsWith('--') ? closest(name.slice(2), known) : undefined;
    const label = /^--?[A-Za-z][A-Za-z0-9-]{0,31}$/.test(name) ? name : '(not echoed)';
    return usageError(io, at, `unknown option ${label}${guess ? `; did you mean --${guess}?` : ''}`);
  }
  const guess = closest(
    word,
    subs.map((s) => s.name),
  );
  const label = shown(word);
  return usageError(io, at, `unknown command${label ? ` ${label}` : ' (not echoed)'}${guess ? `; did you mean '${guess}'?` : ''}`);
}

/** `kguard help bots list` and `kguard bots help list`: the usage of the named command on stdout. */
export function printHelp(io: CliIO, names: readonly string[], from: readonly string[] = []): number {
  let at = resolve(from);
  for (const name of names) {
    const next = at.cmd.sub?.find((s) => s.name === name);
    if (!next) return at.cmd.sub ? unknownCommand(io, at, name) : usageError(io, at, `${at.path.join(' ')} has no subcommands`);
    at = { path: [...at.path, name], cmd: next, parent: at.cmd };
  }
  io.stdout.write(fullUsage(at.path, at.cmd, at.parent));
  return 0;
}

async function report(io: CliIO, at: Resolved, err: unknown, values: Values): Promise<number> {
  if (err instanceof UsageError) return usageError(io, at, err.detail ?? err.message);
  // A GuardError in the configured language (its code and detail as they are); messages only: stacks may carry
  // values from arguments of failed calls.
  const text = err instanceof GuardError ? guardErrorText(err, await languageOrDefault({ values, io })) : describeError(err);
  io.stderr.write(`kguard${at.path[0] ? ` ${at.path[0]}` : ''}: ${text}\n`);
  return 1;
}

export interface RunOptions {
  readonly signal?: AbortSignal;
  /** main(): print what a handler throws and return its exit code (1, or 2 for a usage error). */
  readonly catchErrors?: boolean;
}

/** Runs `kguard <base...> <argv...>`. Returns the exit code. */
export async function runCommand(base: readonly string[], argv: readonly string[], io: CliIO, opts: RunOptions = {}): Promise<number> {
  let at = resolve(base);
  let rest = [...argv];
  while (at.cmd.sub) {
    const first = rest[0];
    if (first === undefined) return usageError(io, at, 'missing command', true);
    if (first === '--help' || first === '-h') return printHelp(io, [], at.path);
    if (first === 'help' && at.path.length > 0) return printHelp(io, rest.slice(1), at.path);
    const next = at.cmd.sub.find((s) => s.name === first);
    if (!next) return wantsHelp(rest) ? printHelp(io, [], at.path) : unknownCommand(io, at, first);
    at = { path: [...at.path, first], cmd: next, parent: at.cmd };
    rest = rest.slice(1);
  }
  const { path, cmd, parent } = at;
  if (wantsHelp(rest)) {
    io.stdout.write(fullUsage(path, cmd, parent));
    return 0;
  }
  const flags = flagsOf(cmd, parent);
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseValues(flags, rest);
  } catch (err) {
    if (err instanceof UsageError) return usageError(io, at, err.detail ?? err.message);
    throw err;
  }
  const { min, max } = arity(cmd.args);
  const n = parsed.positionals.length;
  if (n > max && !cmd.strayArgs)
    return usageError(io, at, `${n - max} unexpected argument(s), not echoed ('${['kguard', ...path].join(' ')}' takes ${arityText(cmd.args)})`);
  if (n < min) return usageError(io, at, `missing ${(cmd.args ?? '').split(/\s+/).slice(n, min).join(' ')}`);
  const read = (name: string) => {
    if (!(name in flags)) throw new Error(`kguard internal: '${path.join(' ')}' reads --${name}, which its registry entry does not declare`);
    return parsed.values[name];
  };
  const ctx: Ctx = {
    path,
    positionals: parsed.positionals,
    values: parsed.values,
    io,
    ...(opts.signal ? { signal: opts.signal } : {}),
    str: (name) => {
      const v = read(name);
      return typeof v === 'string' ? v : undefined;
    },
    strs: (name) => {
      const v = read(name);
      return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
    },
    bool: (name) => read(name) === true,
    usage: (detail) => usageError(io, at, detail),
  };
  try {
    if (n > max) throw cmd.strayArgs!(n - max);
    if (!cmd.run) throw new Error(`kguard internal: '${path.join(' ')}' has no handler`);
    return await cmd.run(ctx);
  } catch (err) {
    if (!opts.catchErrors) throw err;
    return report(io, at, err, parsed.values);
  }
}
