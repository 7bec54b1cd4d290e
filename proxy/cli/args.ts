// What every command does the same way: load the configuration from
// --config / --data-dir (then KGUARD_* and the embedded default), print JSON,
// name the file behind an error.
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type Config } from '../common/config.js';
import { GuardError } from '../common/errors.js';
import { overwriteAndUnlink } from '../vault/files.js';
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

/** A credential shown once, on its way into a new file (--secret-out, --token-out). */
export interface OutFile {
  /** Writes and syncs the credential; when it cannot, undo() takes back what it was for, and the error names the flag. */
  deliver(credential: Buffer, undo: () => Promise<unknown>): Promise<void>;
  /** Closes the file, and removes it when nothing was delivered into it (only ever a file this run created). */
  close(): Promise<void>;
}

/**
 * A new 0600 file for a credential shown once: created here, no symlink followed; a file that exists (another
 * credential's, maybe its only copy) is never replaced, and existsMessage says so (KG2010). Created before the
 * credential, so that nothing is registered when it cannot be.
 */
export async function openOutFile(file: string, flag: string, undone: string, existsMessage: string): Promise<OutFile> {
  const fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new GuardError('KG2010', existsMessage);
    throw unwritten(flag, file, undone, err);
  });
  let delivered = false;
  return {
    async deliver(credential, undo) {
      await fh
        .writeFile(credential)
        .then(() => fh.sync())
        .catch(async (err: unknown) => {
          await undo();
          throw unwritten(flag, file, undone, err);
        });
      delivered = true;
    },
    async close() {
      await fh.close();
      if (!delivered) await overwriteAndUnlink(file).catch(() => undefined);
    },
  };
}
