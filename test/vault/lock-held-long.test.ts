// A record's lock is broken as stale when it is older than staleMs, meant for
// a writer that died without a pid to check. A live writer can hold it that
// long too (a rotate or rewrap waiting on a slow KMS: maxAttempts x
// requestTimeoutMs may well exceed staleMs), and must not lose it: a second
// writer getting in would read-modify-write the same record (a rewrap writing
// the old keys back over a rotation that completed meanwhile).
import t from 'tap';
import path from 'node:path';
import { withFileLock } from '../../proxy/vault/files.js';
import { tempDir } from '../helpers/vault-fixtures.js';

t.test('a lock held by a live writer longer than staleMs is not broken', async (t) => {
  const dir = await tempDir(t);
  const lock = path.join(dir, 'bot.lock');
  const opts = { timeoutMs: 60_000, staleMs: 1_000 };
  const events: string[] = [];
  let entered!: () => void;
  const holding = new Promise<void>((r) => (entered = r));
  const first = withFileLock(lock, opts, async () => {
    events.push('first in');
    entered();
    // Held for three times staleMs (a slow key provider); the second writer waits meanwhile.
    await new Promise((r) => setTimeout(r, 3 * opts.staleMs));
    events.push('first out');
  });
  await holding;
  const second = withFileLock(lock, opts, async () => {
    events.push('second in');
  });
  await Promise.all([first, second]);
  t.same(events, ['first in', 'first out', 'second in'], 'the second writer got in only after the first left');
});
