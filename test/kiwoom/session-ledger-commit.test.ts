// The file ledger group-commits: every change is durable before its promise
// resolves, changes made while a write runs share the next one, and the file
// always holds the latest state (what a restart would revoke). Nothing timed.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { openFileLedger } from '../../proxy/kiwoom/session-ledger.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';

t.test('200 keys issuing at once: each on disk when its promise resolves; the file ends with the latest state', async (t) => {
  const dir = t.testdir({});
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') });
  const ledger = await openFileLedger(dir, provider, pino({ level: 'silent' }));
  t.teardown(() => ledger.close());
  const file = path.join(dir, 'broker-sessions.json');
  const fs = await import('node:fs/promises');
  const keys = Array.from({ length: 200 }, (_, i) => `key${i}`);
  const inodes = new Set<bigint>();
  const watcher = setInterval(() => {
    fs.stat(file, { bigint: true })
      .then((st) => inodes.add(st.ino))
      .catch(() => undefined);
  }, 1);
  await Promise.all(
    keys.map(async (k) => {
      await ledger.issuing(k, 'bot-a');
      const onDisk = JSON.parse(await readFile(file, 'utf8')) as { entries: Record<string, unknown> };
      t.ok(onDisk.entries[k], `${k} durable when issuing() resolves`);
    }),
  );
  clearInterval(watcher);
  const all = JSON.parse(await readFile(file, 'utf8')) as { entries: Record<string, { state: string }> };
  t.equal(Object.keys(all.entries).length, 200, 'the file holds every key');
  await Promise.all(keys.map((k) => ledger.forget(k)));
  const after = JSON.parse(await readFile(file, 'utf8')) as { entries: Record<string, unknown> };
  t.same(after.entries, {}, 'and the latest state after the forgets');
  t.comment(`200 concurrent changes: ${inodes.size} distinct ledger files seen (each write replaces the file)`);
});
