// A record's lock left by a writer that was killed (`kguard keys rotate`
// SIGKILLed) is broken by the next writer. When several writers wait on it at
// once (the CLI's rotate and the sidecar's lockdown disabling the record),
// exactly one may get in at a time: a second one removing the lock the first
// just took lets both read-modify-write the record (a lockdown's disable
// undone by the rotate that wrote the record as enabled).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { withFileLock } from '../../proxy/vault/files.js';
import { tempDir } from '../helpers/vault-fixtures.js';

t.test('waiters that all find a dead holder break its lock one at a time, and only one holds it', async (t) => {
  const dir = await tempDir(t);
  // A pid on this host that is certainly dead: a child that has exited.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  t.match(dead, /^\d+$/);
  let worst = 0;
  for (let round = 0; round < 30; round++) {
    const lock = path.join(dir, `bot${round}.lock`);
    await writeFile(lock, `${dead}@${hostname()}\n`, { mode: 0o600 });
    let inside = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withFileLock(lock, { timeoutMs: 60_000, staleMs: 60_000 }, async () => {
          inside++;
          worst = Math.max(worst, inside);
          await new Promise((r) => setImmediate(r));
          inside--;
        }),
      ),
    );
  }
  t.equal(worst, 1, 'never two holders at once');
  t.same(await readdir(dir), [], 'no lock, breaker or temporary file left');
});
