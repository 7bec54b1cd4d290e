// Minimal flag parsing shared by subcommands (node:util parseArgs), plus the
// config loading every command does the same way.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type Config } from '../common/config.js';
import type { CliIO } from './types.js';
import { UsageError } from './usage.js';

export const CONFIG_FLAGS = {
  config: { type: 'string', short: 'c' },
  'data-dir': { type: 'string' },
} as const;

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...CONFIG_FLAGS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util names the option, never its value: safe to show.
    if (String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_')) throw new UsageError((err as Error).message);
    throw err;
  }
}

export async function configFromFlags(values: { config?: unknown; 'data-dir'?: unknown }, io: CliIO, overrides: Record<string, unknown> = {}): Promise<Config> {
  const o: Record<string, unknown> = { ...overrides };
  if (typeof values['data-dir'] === 'string') o.dataDir = values['data-dir'];
  return loadConfig({ file: typeof values.config === 'string' ? values.config : undefined, env: io.env, overrides: o });
}

export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
