// Optional bounded cache of unwrapped data keys, for operators who hit KMS
// quotas. Off by default: the seed asks for one unwrap per call. Entries are
// bounded by age, uses and count; every evicted key is zero-filled, and
// callers always receive their own copy (which they zero-fill).
import type { Registry } from 'prom-client';
import { canonicalContext } from './context.js';
import { counter, gauge } from './metrics.js';
import type { KeyProvider } from './types.js';

export interface DataKeyCacheConfig {
  enabled: boolean;
  maxAgeMs: number;
  maxUses: number;
  maxEntries: number;
}

export const DEFAULT_CACHE_CONFIG: DataKeyCacheConfig = { enabled: false, maxAgeMs: 60_000, maxUses: 100, maxEntries: 100 };

interface Entry {
  key: Buffer;
  expiresAt: number;
  usesLeft: number;
}

export function withDataKeyCache(inner: KeyProvider, cfg: DataKeyCacheConfig, registry: Registry, now: () => number = Date.now): KeyProvider {
  const entries = new Map<string, Entry>();
  const lookups = counter(registry, 'kguard_vault_cache_lookups_total', 'Data-key cache lookups', ['result'] as const);
  const evictions = counter(registry, 'kguard_vault_cache_evictions_total', 'Data keys evicted from the cache (and zero-filled)', ['reason'] as const);
  const size = gauge(registry, 'kguard_vault_cache_entries', 'Data keys currently cached', [] as const);

  function evict(id: string, reason: 'age' | 'uses' | 'size' | 'clear'): void {
    const e = entries.get(id);
    if (!e) return;
    e.key.fill(0);
    entries.delete(id);
    evictions.inc({ reason });
    size.set(entries.size);
  }

  return {
    id: inner.id,
    generateDataKey: (context) => inner.generateDataKey(context),
    async unwrap(wrapped, context) {
      // The ciphertext is not secret; the context is part of the identity so a mismatched context never hits.
      const id = `${wrapped.provider}\0${wrapped.keyId}\0${wrapped.ciphertext}\0${canonicalContext(context).toString('utf8')}`;
      const hit = entries.get(id);
      if (hit) {
        if (hit.expiresAt <= now()) evict(id, 'age');
        else {
          hit.usesLeft -= 1;
          const copy = Buffer.from(hit.key);
          if (hit.usesLeft <= 0) evict(id, 'uses');
          lookups.inc({ result: 'hit' });
          return copy;
        }
      }
      lookups.inc({ result: 'miss' });
      const key = await inner.unwrap(wrapped, context);
      // A concurrent miss of the same key may have cached it meanwhile: replacing that entry would drop its copy un-zeroed.
      if (cfg.maxUses > 1 && !entries.has(id)) {
        while (entries.size >= cfg.maxEntries) evict(entries.keys().next().value as string, 'size');
        entries.set(id, { key: Buffer.from(key), expiresAt: now() + cfg.maxAgeMs, usesLeft: cfg.maxUses - 1 });
        size.set(entries.size);
      }
      return key;
    },
    health: () => inner.health(),
    describe: () => ({ ...inner.describe(), cache: true, cacheMaxAgeMs: cfg.maxAgeMs, cacheMaxUses: cfg.maxUses, cacheMaxEntries: cfg.maxEntries }),
    async close() {
      for (const id of [...entries.keys()]) evict(id, 'clear');
      await inner.close();
    },
  };
}
