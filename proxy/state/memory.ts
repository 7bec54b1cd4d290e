// In-process Store: the embedded default for one sidecar. Same semantics as
// the Redis store (see types.ts and validate.ts) so the contract test runs
// against both. Expiry is lazy on access plus a periodic sweep on an
// unref'd timer; maxKeys bounds memory (new keys beyond it fail closed).
// This file composes the parts (memory-data: the key space; memory-ops and
// memory-coordination: Store operations) and owns pub/sub and the lifecycle.
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import { memoryCoordination } from './memory-coordination.js';
import { createMemoryData } from './memory-data.js';
import { memoryOps } from './memory-ops.js';
import type { Store, Unsubscribe } from './types.js';
import { checkKey, checkString } from './validate.js';

export interface MemoryStoreOptions {
  /** Clock in epoch ms; injectable for tests. */
  now?: () => number;
  /** How often expired keys are swept. Default 1000 ms. */
  sweepIntervalMs?: number;
  /** Most keys held at once. Default 1,000,000. */
  maxKeys?: number;
  logger?: Logger;
}

export const MEMORY_DEFAULTS = { sweepIntervalMs: 1_000, maxKeys: 1_000_000 } as const;

export function createMemoryStore(opts: MemoryStoreOptions = {}): Store {
  const now = opts.now ?? Date.now;
  const maxKeys = opts.maxKeys ?? MEMORY_DEFAULTS.maxKeys;
  const sweepIntervalMs = opts.sweepIntervalMs ?? MEMORY_DEFAULTS.sweepIntervalMs;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new GuardError('KG7004', 'memory.maxKeys must be a positive integer');
  if (!Number.isSafeInteger(sweepIntervalMs) || sweepIntervalMs < 1) throw new GuardError('KG7004', 'memory.sweepIntervalMs must be a positive integer');

  const channels = new Map<string, Set<(message: string) => void>>();
  let closed = false;
  const d = createMemoryData({ now, maxKeys, isClosed: () => closed });
  const { data, assertOpen } = d;

  const sweeper = setInterval(d.sweep, sweepIntervalMs);
  sweeper.unref();

  const store: Store = {
    kind: 'memory',

    ...memoryOps(d),
    ...memoryCoordination(d),

    async publish(channel, message) {
      assertOpen();
      checkKey(channel);
      checkString(message, 'message');
      const handlers = channels.get(channel);
      if (!handlers) return;
      // Asynchronous delivery, like Redis: the publisher never runs subscriber code inline.
      for (const handler of [...handlers]) {
        setImmediate(() => {
          if (closed) return;
          try {
            handler(message);
          } catch (err) {
            opts.logger?.error({ err, channel }, 'state subscriber threw');
          }
        });
      }
    },

    async subscribe(channel, handler): Promise<Unsubscribe> {
      assertOpen();
      checkKey(channel);
      if (typeof handler !== 'function') throw new GuardError('KG7002', 'handler must be a function');
      let set = channels.get(channel);
      if (!set) {
        set = new Set();
        channels.set(channel, set);
      }
      // Wrap so the same function subscribed twice gets two independent subscriptions.
      const subscription = (m: string): void => handler(m);
      set.add(subscription);
      return async () => {
        const current = channels.get(channel);
        current?.delete(subscription);
        if (current?.size === 0) channels.delete(channel);
      };
    },

    flushDetected: () => false,

    async confirmFlush() {
      assertOpen();
    },

    async health() {
      assertOpen();
    },

    async close() {
      closed = true;
      clearInterval(sweeper);
      data.clear();
      channels.clear();
    },
  };
  return store;
}
