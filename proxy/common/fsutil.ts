// Crash-safe file writes for state that must never be half-written:
// temp file in the same directory, fsync, rename, fsync the directory.
import { open, rename, mkdir, stat, chmod, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { GuardError } from './errors.js';

export async function writeFileAtomic(file: string, data: Buffer | string, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Creates a directory with a tight mode, and tightens it if it already exists looser. */
export async function ensurePrivateDir(dir: string, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  const st = await stat(dir);
  if ((st.mode & 0o777) !== mode) await chmod(dir, mode);
}

/** Refuses files that group or others can read: a secret file must be 0600 or tighter. */
export async function assertPrivateFile(file: string): Promise<void> {
  const st = await stat(file);
  if ((st.mode & 0o077) !== 0) {
    throw new GuardError('KG4007', `${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
}
