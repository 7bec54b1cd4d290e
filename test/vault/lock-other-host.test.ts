// The replicas overlay shares the data dir between pods (a ReadWriteMany
// volume), so a record's lock may be held by a writer in another pod: the
// sidecar there, or `kguard keys rotate` run with kubectl exec. Its pid means
// nothing in this pod's process table; finding no such process here must not
// get the lock broken while its writer lives (a rotate writing the record
// back enabled over a lockdown's disable). Only a lock of this host's dead
// writer is broken at once; any other waits for staleMs.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { withFileLock } from '../../proxy/vault/files.js';
import { tempDir } from '../helpers/vault-fixtures.js';

t.test("another pod's live writer keeps its lock; this host's dead writer loses it", async (t) => {
  const dir = await tempDir(t);
  // A pid that exists in no process here, as another pod's writer's pid does not.
  const absent = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  const opts = { timeoutMs: 300, staleMs: 60_000 };
  const owners = {
    'written by the version before this one (a pid alone)': `${absent}\n`,
    'another pod': `${absent}@kiwoom-guard-7d9f8-other\n`,
  };
  for (const [what, owner] of Object.entries(owners)) {
    const lock = path.join(dir, `${what.length}.lock`);
    await writeFile(lock, owner, { mode: 0o600 });
    let entered = false;
    await t.rejects(
      withFileLock(lock, opts, async () => {
        entered = true;
      }),
      { code: 'KG4009' },
      `${what}: waited for the lock, not broken`,
    );
    t.notOk(entered);
  }
  const mine = path.join(dir, 'mine.lock');
  await writeFile(mine, `${absent}@${hostname()}\n`, { mode: 0o600 });
  t.equal(await withFileLock(mine, opts, async () => 'in'), 'in', "this host's dead writer's lock is broken at once");
});
