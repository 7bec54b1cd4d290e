// Logins that wait for a slot of their (source, bot id) pair: woken when a
// login of the pair is released on this replica, refused when their bot
// leaves. With the shared Store a peer's release is not heard here, so a
// wait there also ends after pollMs to look again.
export class PairWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly refusal: () => Error) {}

  /** Wakes every login waiting on `key`. */
  wakeAll(key: string): void {
    const set = this.waiting.get(key);
    this.waiting.delete(key);
    for (const w of set ?? []) w();
  }

  /** Resolves when a slot of `key` may be free (wakeAll, or pollMs passed); rejects with the refusal when `signal` aborts. */
  wait(key: string, signal: AbortSignal, pollMs?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const set = this.waiting.get(key) ?? new Set<() => void>();
      this.waiting.set(key, set);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
      };
      const onAbort = () => {
        done();
        reject(this.refusal());
      };
      const wake = () => {
        done();
        resolve();
      };
      const timer = pollMs === undefined ? undefined : setTimeout(wake, pollMs);
      set.add(wake);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
