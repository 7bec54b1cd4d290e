// File helpers for key material and credential records: private modes,
// atomic replace (temp + fsync + rename + dir fsync), permission checks and a
// per-record lock so the CLI and a running sidecar never interleave writes.
import { constants as fsConstants, type BigIntStats } from 'node:fs';
import { link, open, stat, unlink, readFile, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { GuardError } from '../common/errors.js';
import { assertPrivateMode, readExactly, writeFileAtomic } from '../common/fsutil.js';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** One rule for private directories (ours tightened to 0700, a group-owned volume root checked, not chmod-ed): common/fsutil. */
export { ensurePrivateDir } from '../common/fsutil.js';

/** Private files are read by one rule everywhere (common/fsutil): group or others shut out, ours, no symlink. */
export { assertPrivateMode, readPrivateFile } from '../common/fsutil.js';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsConstants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes data to a temp file in the same dir, fsyncs it, renames over `file`, fsyncs the dir (mode 0600). */
export function atomicWriteFile(file: string, data: Buffer | string): Promise<void> {
  return writeFileAtomic(file, data, PRIVATE_FILE_MODE);
}

/** Creates `file` only if absent (O_EXCL via link), so two first runs cannot each write a different key. */
export async function createFileExclusive(file: string, data: Buffer): Promise<boolean> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, PRIVATE_FILE_MODE);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  let linked = false;
  try {
    await link(tmp, file);
    linked = true;
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    // Once linked, tmp and file are one inode: zeroing tmp in place would zero the new file
    // (every key made here came out all zeros). Only an unused copy is overwritten.
    if (linked) await unlink(tmp);
    else await overwriteAndUnlink(tmp);
    await fsyncDir(dir);
  }
}

/** Best-effort destruction: zero the bytes in place, fsync, then unlink. */
export async function overwriteAndUnlink(file: string): Promise<void> {
  try {
    const fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
    try {
      const { size } = await fh.stat();
      if (size > 0) await fh.write(Buffer.alloc(size), 0, size, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** What a cached copy of a file is compared against: any write or replace changes at least one field. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * Reads a file and the identity of exactly the inode it read (fstat on the
 * open descriptor, so a concurrent replace cannot pair new bytes with an old
 * identity). Undefined when absent; refuses symlinks and oversized files, and
 * (KG4007) files group or others can access or another user owns.
 */
export async function readFileWithIdentity(
  file: string,
  maxBytes: number,
  tooLarge: () => Error,
  label: string,
): Promise<{ bytes: Buffer; identity: FileIdentity } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = await fh.stat({ bigint: true });
    assertPrivateMode({ mode: Number(st.mode), uid: Number(st.uid) }, label);
    if (st.size > BigInt(maxBytes)) throw tooLarge();
    const bytes = await readExactly(fh, Number(st.size));
    return { bytes, identity: { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs } };
  } finally {
    await fh.close();
  }
}

export async function readFileIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface LockOptions {
  timeoutMs: number;
  /** A lock older than this is from a crashed writer and is broken. */
  staleMs: number;
}

/** What a lock holds: its writer's pid and host (the replicas overlay shares the data dir between pods). */
const LOCK_OWNER = `${process.pid}@${hostname()}\n`;

/**
 * A lock whose writer on this host was killed can be broken at once. Another host's pid (another
 * pod's) means nothing here, nor does a lock that names no host: those wait for staleMs.
 */
async function holderIsDead(lockFile: string): Promise<boolean> {
  const text = await readFile(lockFile, 'utf8').catch(() => '');
  const m = /^([1-9][0-9]*)@(.+)\n?$/.exec(text);
  if (!m || m[2] !== hostname()) return false; // being written right now, or foreign: wait for staleMs
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes the lock judged stale, but only that one: several waiters may judge it at once, and the
 * first to remove it takes the lock; a later remove would delete that live lock and let two writers
 * in. Removal goes one waiter at a time (a `.break` file made like the lock) and only while the lock
 * file is still the one judged (same inode and change time). A `.break` left by a crash goes once stale.
 * False when another waiter is breaking it (the caller waits as for a live lock).
 */
async function breakStaleLock(lockFile: string, judged: BigIntStats, staleMs: number): Promise<boolean> {
  const breaker = `${lockFile}.break`;
  const tmp = `${breaker}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, LOCK_OWNER, { mode: PRIVATE_FILE_MODE });
  try {
    await link(tmp, breaker);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const b = await stat(breaker).catch(() => undefined);
    if (b && Date.now() - b.mtimeMs > staleMs) await unlink(breaker).catch(() => undefined);
    return false;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  try {
    const now = await stat(lockFile, { bigint: true }).catch(() => undefined);
    if (now && now.dev === judged.dev && now.ino === judged.ino && now.ctimeNs === judged.ctimeNs) await unlink(lockFile).catch(() => undefined);
    return true;
  } finally {
    await unlink(breaker).catch(() => undefined);
  }
}

/**
 * Exclusive lock file (O_EXCL). Holds for the duration of fn. Cross-process,
 * because `kguard keys` runs beside a live sidecar on the same data dir.
 */
export async function withFileLock<T>(lockFile: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  // The lock appears with its holder's pid already in it (written to a private
  // temp file, then hard-linked into place, which fails if the lock exists):
  // a writer killed at any moment never leaves an empty, unattributable lock.
  const tmp = `${lockFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, LOCK_OWNER, { mode: PRIVATE_FILE_MODE });
  try {
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      try {
        await link(tmp, lockFile);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = await stat(lockFile, { bigint: true }).catch(() => undefined);
        if (st && (Date.now() - Number(st.mtimeMs) > opts.staleMs || (await holderIsDead(lockFile)))) {
          if (await breakStaleLock(lockFile, st, opts.staleMs)) continue;
        }
        if (Date.now() >= deadline) throw new GuardError('KG4009', path.basename(lockFile, '.lock'));
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  // A held lock stays fresh: only a dead writer's lock grows older than staleMs (a live one may wait long on a key provider).
  const heartbeat = setInterval(
    () => {
      const now = new Date();
      utimes(lockFile, now, now).catch(() => undefined);
    },
    Math.max(10, Math.floor(opts.staleMs / 4)),
  );
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    await unlink(lockFile).catch(() => undefined);
  }
}
