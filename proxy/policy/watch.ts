// Watches the policy file's directory rather than the file: editors replace
// files by rename, and Kubernetes swaps a ConfigMap by re-pointing the
// `..data` symlink, neither of which a watch on the old inode would see.
// Only events that name the policy file (or its symlink target, or
// Kubernetes' `..data` swap) count: a policy kept beside busy files (logs,
// the data directory) must not be re-read on every write there. Such an
// event re-arms a debounce timer; the engine then re-reads and compares
// content hashes, so spurious events cost one read.
// A watch can also be lost: the policy's directory replaced by another (an
// atomic directory swap leaves the watch on the old inode), or a watch that
// could not be set up (inotify limits). So every `recheckMs` the directories
// are re-armed where their inode changed or their watch is missing, and the
// file is re-read once: a lost watch delays a reload, it never stops reloads.
import { watch, type FSWatcher } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

export function watchPolicyFile(file: string, debounceMs: number, onChange: () => void, log: Logger, recheckMs = 0): { close(): void } {
  const watchers = new Map<string, FSWatcher>();
  // The inode each directory had when its watch was set up.
  const inodes = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // Names whose events matter: the file, its symlink target's name, and Kubernetes' `..data`-style entries.
  const names = new Set([path.basename(file)]);
  const relevant = (name: string | Buffer | null) => {
    if (name === null) return true; // the platform did not say which entry changed
    const n = name.toString();
    return names.has(n) || n.startsWith('..');
  };

  const arm = (dir: string) => {
    if (closed || watchers.has(dir)) return;
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (relevant(name)) fire();
      });
      w.on('error', (err) => {
        log.warn({ dir, err: err.message }, 'policy watch error; re-arming');
        w.close();
        watchers.delete(dir);
        setTimeout(() => arm(dir), 1000).unref();
      });
      watchers.set(dir, w);
      stat(dir).then(
        (st) => {
          if (watchers.get(dir) === w) inodes.set(dir, st.ino);
        },
        () => undefined,
      );
    } catch (err) {
      log.warn({ dir, err: (err as Error).message }, 'cannot watch policy directory; hot reload disabled for it');
    }
  };

  // The file may be a symlink chain into another directory: watch where it really lives too.
  const rearmTarget = () => {
    realpath(file).then(
      (real) => {
        const dir = path.dirname(real);
        names.add(path.basename(real));
        for (const [d, w] of watchers) {
          if (d !== path.dirname(file) && d !== dir) {
            w.close();
            watchers.delete(d);
          }
        }
        arm(dir);
      },
      () => undefined,
    );
  };

  const fire = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      rearmTarget();
      onChange();
    }, debounceMs);
    timer.unref();
  };

  const recheck = async () => {
    for (const [dir, w] of [...watchers]) {
      const ino = await stat(dir).then(
        (st) => st.ino,
        () => undefined,
      );
      if (ino === undefined || (inodes.has(dir) && ino !== inodes.get(dir))) {
        log.warn({ dir }, 'policy directory was replaced; watching the new one');
        w.close();
        watchers.delete(dir);
        inodes.delete(dir);
      }
    }
    arm(path.dirname(file));
    fire();
  };
  const poll = recheckMs > 0 ? setInterval(() => void recheck(), recheckMs) : undefined;
  poll?.unref();

  arm(path.dirname(file));
  rearmTarget();
  return {
    close() {
      closed = true;
      clearInterval(poll);
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
