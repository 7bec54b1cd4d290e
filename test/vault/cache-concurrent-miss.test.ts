// The optional data-key cache zero-fills every copy of a data key it keeps.
// Two calls of the same record that both miss (the second arrives while the
// first's unwrap is in flight) each get a key from the provider; the cache
// must not drop one copy without zero-filling it.
import t from 'tap';
import { withDataKeyCache } from '../../proxy/vault/cache.js';
import type { KeyProvider } from '../../proxy/vault/index.js';
import { freshRegistry } from '../helpers/vault-fixtures.js';

t.test('two concurrent misses of one key leave no cached copy un-zeroed', async (t) => {
  const KEY = Buffer.alloc(32, 7);
  // Every Buffer made from the data key's bytes (the cache's copies among them).
  const copies: Buffer[] = [];
  const from = Buffer.from;
  Buffer.from = function (this: unknown, ...args: unknown[]) {
    const b = (from as (...a: unknown[]) => Buffer).apply(Buffer, args);
    if (Buffer.isBuffer(args[0]) && args[0].equals(KEY)) copies.push(b);
    return b;
  } as typeof Buffer.from;
  t.teardown(() => {
    Buffer.from = from;
  });

  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let unwraps = 0;
  const inner: KeyProvider = {
    id: 'test',
    generateDataKey: async () => {
      throw new Error('not used');
    },
    async unwrap() {
      unwraps++;
      await gate;
      const key = Buffer.alloc(32);
      KEY.copy(key);
      return key;
    },
    health: async () => undefined,
    describe: () => ({ provider: 'test' }),
    close: async () => undefined,
  };
  const cached = withDataKeyCache(inner, { enabled: true, maxAgeMs: 60_000, maxUses: 100, maxEntries: 10 }, freshRegistry());
  const wrapped = { provider: 'test', keyId: 'k', ciphertext: 'AAAA' };
  const ctx = { botId: 'b' };
  const both = Promise.all([cached.unwrap(wrapped, ctx), cached.unwrap(wrapped, ctx)]);
  while (unwraps < 2) await new Promise((r) => setImmediate(r));
  release();
  for (const key of await both) {
    t.ok(key.equals(KEY), 'each caller gets the key');
    key.fill(0); // the callers' copies are theirs to wipe
  }
  await cached.close();
  t.ok(copies.length > 0, 'the cache copied the key');
  t.ok(
    copies.every((b) => b.every((x) => x === 0)),
    'every copy the cache made is zero-filled after close',
  );
});
