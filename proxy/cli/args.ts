// What every command does the same way: load the configuration from
// --config / --data-dir (then KGUARD_* and the embedded default), print JSON,
// name the file behind an error.
import path from 'node:path';
import { loadConfig, type Config } from '../common/config.js';
import { GuardError } from '../common/errors.js';
import type { CliIO } from './types.js';

export async function configFromFlags(values: { config?: unknown; 'data-dir'?: unknown }, io: CliIO, overrides: Record<string, unknown> = {}): Promise<Config> {
  const o: Record<string, unknown> = { ...overrides };
  if (typeof values['data-dir'] === 'string') o.dataDir = values['data-dir'];
  return loadConfig({ file: typeof values.config === 'string' ? values.config : undefined, env: io.env, overrides: o });
}

export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Runs fn on a file a flag names; what it throws then names the flag and the
 * file, with the error's code kept once (`KG4006: ... (--from-file F: ...)`).
 */
export async function withNamedFile<T>(flag: string, file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const where = `${flag} ${file}`;
    if (err instanceof GuardError) {
      const base = `${path.basename(file)}: `;
      const detail = err.detail?.startsWith(base) ? err.detail.slice(base.length) : err.detail;
      throw new GuardError(err.code, detail ? `${where}: ${detail}` : where, { cause: err });
    }
    const code = (err as NodeJS.ErrnoException).code;
    throw Object.assign(new Error(`${where}: ${code ? `cannot read (${code})` : (err as Error).message}`, { cause: err }), code ? { code } : {});
  }
}

/** A file a flag names could not be written: names the flag, the file, why, and what was undone. */
export function unwritten(flag: string, file: string, undone: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code ? `cannot write (${code})` : (err as Error).message;
  return Object.assign(new Error(`${flag} ${file}: ${why}; ${undone}`, { cause: err }), code ? { code } : {});
}
