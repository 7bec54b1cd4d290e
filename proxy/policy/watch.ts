// Watches the policy file's directory rather than the file: editors replace
// files by rename, and Kubernetes swaps a ConfigMap by re-pointing the
// `..data` symlink, neither of which a watch on the old inode would see.
// Only events that name the policy file (or its symlink target, or
// Kubernetes' `..data` swap) count: a policy kept beside busy files (logs,
// the data directory) must not be re-read on every write there. Such an
// event re-arms a debounce timer; the engine then re-reads and compares
// content hashes, so spurious events cost one read.
import { watch, type FSWatcher } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

export function watchPolicyFile(file: string, debounceMs: number, onChange: () => void, log: Logger): { close(): void } {
  const watchers = new Map<string, FSWatcher>();
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

  arm(path.dirname(file));
  rearmTarget();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
