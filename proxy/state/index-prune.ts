// An index kept as one hash (field = a record's id) beside records that expire
// on their own. The hash's TTL is renewed by every new entry, so on a busy
// system it never expires and, left alone, keeps a field for every record it
// was ever given. Writers prune it after adding their entry: the fields whose
// record is gone are dropped, so the index holds the records still kept plus
// those gone since it was last pruned.
import type { Store } from './types.js';
import { MAX_KEYS_PER_READ } from './validate.js';

/** Drops the fields of `indexKey` whose record (`recordKey(field)`, a string key) no longer exists; returns how many. */
export async function pruneIndex(store: Store, indexKey: string, recordKey: (field: string) => string): Promise<number> {
  return (await prune(store, indexKey, recordKey)).dropped;
}

async function prune(store: Store, indexKey: string, recordKey: (field: string) => string): Promise<{ fields: number; dropped: number }> {
  const fields = Object.keys(await store.hgetall(indexKey));
  let dropped = 0;
  for (let i = 0; i < fields.length; i += MAX_KEYS_PER_READ) {
    const page = fields.slice(i, i + MAX_KEYS_PER_READ);
    const records = await store.mget(page.map(recordKey));
    const gone = page.filter((_, j) => records[j] === null);
    await Promise.all(gone.map((f) => store.hdel(indexKey, f)));
    dropped += gone.length;
  }
  return { fields: fields.length, dropped };
}

/**
 * pruneIndex for a writer on a busy path (an approval request holds a bot's call): a prune reads the whole
 * index, thousands of fields on a busy day, so it runs once every ceil(n / every) writes of this process,
 * n being the fields the last prune kept (every write while the index is small). The index then holds the
 * records still kept plus at most about 1/every of them gone since, and a write costs O(every) reads on
 * average instead of O(index). Returns how many fields the prune dropped (0 when none ran).
 */
export function amortisedPruner(store: Store, indexKey: string, recordKey: (field: string) => string, every = 8): () => Promise<number> {
  let kept = 0;
  let writes = 0;
  return async () => {
    if (++writes < Math.ceil(kept / every)) return 0;
    writes = 0;
    const r = await prune(store, indexKey, recordKey);
    kept = r.fields - r.dropped;
    return r.dropped;
  };
}
