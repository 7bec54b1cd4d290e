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

export type PrivateDirVerdict = { readonly action: 'keep' | 'tighten' } | { readonly action: 'refuse'; readonly reason: string };

/**
 * What to do with an existing directory that must stay private (the data dir,
 * the bot registry). Pure: decided from the directory's stat and who we run as.
 * - Ours (owner uid is ours): tighten it to `mode` when it differs; we may chmod what we own.
 * - Not ours, e.g. the root of a Kubernetes volume given to the pod's fsGroup
 *   (root:fsGroup, mode 2770 or 2775): never chmod it (EPERM, and not ours to
 *   change). Keep it when it is shared only through one of our groups, that
 *   group has rwx, and others have no access at all; refuse anything else
 *   (world-accessible, or neither owned by us nor shared with our group).
 * Setuid/setgid/sticky bits are ignored (fsGroup volumes carry setgid).
 */
export function privateDirVerdict(
  st: { readonly mode: number; readonly uid: number; readonly gid: number },
  who: { readonly uid: number; readonly groups: readonly number[] },
  mode = 0o700,
): PrivateDirVerdict {
  const perms = st.mode & 0o777;
  const shown = (st.mode & 0o7777).toString(8).padStart(4, '0');
  if (st.uid === who.uid) return perms === mode ? { action: 'keep' } : { action: 'tighten' };
  if ((perms & 0o007) !== 0) {
    return {
      action: 'refuse',
      reason: `is owned by uid ${st.uid}, not the sidecar's uid ${who.uid}, and others can access it (mode ${shown}); make it 0770 or 2770 for the shared group, or use a subdirectory the sidecar creates itself`,
    };
  }
  if (!who.groups.includes(st.gid)) {
    return { action: 'refuse', reason: `is owned by uid ${st.uid} and group ${st.gid}, neither of them the sidecar's (uid ${who.uid})` };
  }
  if ((perms & 0o070) !== 0o070) {
    return { action: 'refuse', reason: `is shared through group ${st.gid} but the group lacks rwx (mode ${shown}); make it 0770 or 2770` };
  }
  return { action: 'keep' };
}

/**
 * Creates a directory with a tight mode. An existing directory we own is
 * tightened if it differs; one we do not own is checked, never chmod-ed
 * (see privateDirVerdict): an fsGroup-owned volume without access for others
 * is used as it is, a world-accessible one is refused (KG4007).
 */
export async function ensurePrivateDir(dir: string, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  const st = await stat(dir);
  if (!st.isDirectory()) throw new GuardError('KG9003', `${dir} is not a directory`);
  if (typeof process.getuid !== 'function' || typeof process.getgid !== 'function') {
    if ((st.mode & 0o777) !== mode) await chmod(dir, mode); // no uids here (Windows): the old rule
    return;
  }
  const groups = [process.getgid(), ...(process.getgroups?.() ?? [])];
  const verdict = privateDirVerdict(st, { uid: process.getuid(), groups }, mode);
  if (verdict.action === 'refuse') throw new GuardError('KG4007', `${dir} ${verdict.reason}`);
  if (verdict.action === 'tighten') await chmod(dir, mode);
}

/** Refuses files that group or others can read: a secret file must be 0600 or tighter. */
export async function assertPrivateFile(file: string): Promise<void> {
  const st = await stat(file);
  if ((st.mode & 0o077) !== 0) {
    throw new GuardError('KG4007', `${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
}
