// Usage text, rendered from the registry only: a flag is in the help exactly
// when the dispatcher accepts it.
import { arity, flagsOf, HELP_FLAG, type Command, type Flag, type Flags } from './spec.js';

function placeholder(f: Flag): string {
  if (f.type === 'boolean') return '';
  return f.value ?? (f.choices ? f.choices.join('|') : 'VALUE');
}

export function flagLabel(name: string, f: Flag): string {
  const v = placeholder(f);
  return `${f.short ? `-${f.short}, ` : '    '}--${name}${v ? ` ${v}` : ''}`;
}

function flagText(f: Flag): string {
  const extra = [f.value && f.choices ? `one of ${f.choices.join(', ')}` : '', f.required ? 'required' : '', f.multiple ? 'repeatable' : ''].filter(Boolean);
  return extra.length ? `${f.help} (${extra.join(', ')})` : f.help;
}

function table(flags: Flags, indent: string): string[] {
  const rows = Object.entries(flags).map(([name, f]) => [flagLabel(name, f), flagText(f)] as const);
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, t]) => `${indent}${l.padEnd(width)}  ${t}`);
}

/** `kguard bots add <id> --account ACCOUNT [options]` (leaf) or `kguard bots <command> [options]` (group). */
export function synopsis(path: readonly string[], cmd: Command, parent?: Command): string {
  const head = ['kguard', ...path].join(' ');
  if (cmd.sub) return `${head} <command> [options]`;
  const flags = flagsOf(cmd, parent);
  const required = Object.entries(flags)
    .filter(([, f]) => f.required)
    .map(([n, f]) => `--${n}${placeholder(f) ? ` ${placeholder(f)}` : ''}`);
  const optional = Object.values(flags).some((f) => !f.required);
  return [head, cmd.args ?? '', ...required, optional ? '[options]' : ''].filter(Boolean).join(' ');
}

function groupSummary(cmd: Command): string {
  return cmd.sub ? `${cmd.summary}: ${cmd.sub.map((s) => s.name).join(', ')}` : cmd.summary;
}

/** The whole usage of a command: for a group every subcommand with its flags; for a leaf its flags. */
export function fullUsage(path: readonly string[], cmd: Command, parent?: Command): string {
  const lines: string[] = [];
  if (path.length === 0) {
    lines.push(
      'usage: kguard <command> [options]',
      '       kguard <command> --help     the usage of one command, with every option',
      '       kguard --version',
    );
    lines.push(cmd.summary, '', 'commands:');
    const width = Math.max(...(cmd.sub ?? []).map((s) => s.name.length));
    for (const s of cmd.sub ?? []) lines.push(`  ${s.name.padEnd(width)}  ${groupSummary(s)}`);
    lines.push('', 'options:', ...table({ help: HELP_FLAG, version: { type: 'boolean', help: 'print the version and exit 0' } }, '  '));
  } else if (cmd.sub) {
    lines.push(`usage: ${synopsis(path, cmd)}`, cmd.summary, '', 'commands:');
    for (const s of cmd.sub) {
      lines.push(`  ${synopsis([s.name], s, cmd).replace(/^kguard /, '')}`, `      ${s.summary}`);
      lines.push(...table({ ...s.common, ...s.flags }, '      '));
    }
    lines.push('', 'options of every command:', ...table({ ...cmd.common, help: HELP_FLAG }, '  '));
  } else {
    lines.push(`usage: ${synopsis(path, cmd, parent)}`, cmd.summary);
    if (cmd.flags && Object.keys(cmd.flags).length) lines.push('', 'options:', ...table(cmd.flags, '  '));
    lines.push('', parent?.common || cmd.common ? 'common options:' : 'options:', ...table({ ...parent?.common, ...cmd.common, help: HELP_FLAG }, '  '));
  }
  if (cmd.notes?.length) lines.push('', ...cmd.notes);
  return `${lines.join('\n')}\n`;
}

/** One or two lines for error messages. */
export function shortUsage(path: readonly string[], cmd: Command, parent?: Command): string {
  if (cmd.sub) return `usage: ${['kguard', ...path].join(' ')} ${cmd.sub.map((s) => s.name).join('|')} [options]`;
  return `usage: ${synopsis(path, cmd, parent)}`;
}

export function arityText(args: string | undefined): string {
  const { min, max } = arity(args);
  return max === Number.POSITIVE_INFINITY ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`;
}
