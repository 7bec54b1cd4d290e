// Crash-safe file writes for state that must never be half-written:
// temp file in the same directory, fsync, rename, fsync the directory.
import { constants as fsConstants } from 'node:fs';
import { open, rename, mkdir, stat, chmod, unlink, link, type FileHandle } from 'node:fs/promises';
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

/** One file of a batch: its name inside the directory and its bytes. */
export interface BatchFile {
  readonly name: string;
  readonly data: Buffer | string;
}

/** Runs fn over items with at most `limit` in flight; the first failure stops new work and is rethrown. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const bad = results.find((r) => r.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
}

/**
 * Creates many new files in one directory, all or none: each is written to a
 * private temp file and fsynced (concurrently, so the journal commits them in
 * groups rather than one commit per file), then hard-linked to its name —
 * which fails with EEXIST if the name exists, so nothing is ever replaced —
 * and the directory is fsynced once at the end. On any failure every file this
 * call linked is removed again and the error is rethrown. A file's bytes are
 * what the caller passed (the caller wipes secret-bearing buffers).
 */
export async function createFilesExclusive(dir: string, files: readonly BatchFile[], opts: { mode?: number; concurrency?: number } = {}): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const concurrency = opts.concurrency ?? 16;
  const tag = randomBytes(6).toString('hex');
  const tmpOf = (i: number) => path.join(dir, `.batch-${tag}-${i}.tmp`);
  const written: number[] = [];
  const linked: string[] = [];
  try {
    await forEachLimited(files, concurrency, async (f, i) => {
      const fh = await open(tmpOf(i), 'wx', mode);
      written.push(i);
      try {
        await fh.writeFile(f.data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
    await forEachLimited(files, concurrency, async (f, i) => {
      await link(tmpOf(i), path.join(dir, f.name));
      linked.push(f.name);
    });
  } catch (err) {
    await forEachLimited(linked, concurrency, (name) => unlink(path.join(dir, name)).catch(() => undefined));
    throw err;
  } finally {
    await forEachLimited(written, concurrency, (i) => unlink(tmpOf(i)).catch(() => undefined));
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Refuses key material that group or world could read or that someone else owns. */
export function assertPrivateMode(st: { mode: number; uid: number }, label: string): void {
  if ((st.mode & 0o077) !== 0) {
    throw new GuardError('KG4007', `${label} has mode ${(st.mode & 0o777).toString(8)}; it must be 0600 or tighter`);
  }
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new GuardError('KG4007', `${label} is not owned by the sidecar user`);
  }
}

/** Reads a small private file, checking the mode on the opened descriptor (no stat/open race). */
export async function readPrivateFile(file: string, label: string, maxBytes: number): Promise<Buffer> {
  const fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new GuardError('KG4007', `${label} is not a regular file`);
    assertPrivateMode(st, label);
    if (st.size > maxBytes) throw new GuardError('KG4006', `${label} is larger than ${maxBytes} bytes`);
    return await readExactly(fh, st.size);
  } finally {
    await fh.close();
  }
}

export async function readExactly(fh: FileHandle, size: number): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  let off = 0;
  while (off < size) {
    const { bytesRead } = await fh.read(buf, off, size - off, off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return off === size ? buf : buf.subarray(0, off);
}
