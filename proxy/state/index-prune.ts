// An index kept as one hash (field = a record's id) beside records that expire
// on their own. The hash's TTL is renewed by every new entry, so on a busy
// system it never expires and, left alone, keeps a field for every record it
// was ever given. Writers call this after adding their entry: the fields whose
// record is gone are dropped, so the index holds the records still kept plus
// those gone since it was last written.
import type { Store } from './types.js';
import { MAX_KEYS_PER_READ } from './validate.js';

/** Drops the fields of `indexKey` whose record (`recordKey(field)`, a string key) no longer exists; returns how many. */
export async function pruneIndex(store: Store, indexKey: string, recordKey: (field: string) => string): Promise<number> {
  const fields = Object.keys(await store.hgetall(indexKey));
  let dropped = 0;
  for (let i = 0; i < fields.length; i += MAX_KEYS_PER_READ) {
    const page = fields.slice(i, i + MAX_KEYS_PER_READ);
    const records = await store.mget(page.map(recordKey));
    const gone = page.filter((_, j) => records[j] === null);
    await Promise.all(gone.map((f) => store.hdel(indexKey, f)));
    dropped += gone.length;
  }
  return dropped;
}
