// `kguard bots disable` without --admin-url only rewrites the bot's file; a
// running sidecar picks the change up from its watch of the registry folder.
// When a re-read of the whole folder (an unnamed watch event, or more than
// 1,000 files changed at once: a bulk import) is still reading while that
// disable's own event re-reads the one file, the folder re-read must not put
// the older, enabled record back when it finishes: no further event would
// ever correct it. The folder re-read is held here to order it.
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BotRegistry } from '../../proxy/auth/index.js';

t.test("a folder re-read that read a file before another process's change does not undo it", async (t) => {
  let hold: Promise<void> | undefined;
  let held = false;
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-race-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sidecar = await BotRegistry.open(dir, {
    readText: async (file) => {
      const text = await readFile(file, 'utf8');
      const gate = hold;
      hold = undefined;
      if (gate) {
        held = true;
        await gate; // read as the file was; it returns only after the other process's change was re-read
      }
      return text;
    },
  });
  t.teardown(() => sidecar.close());
  const { secret } = await sidecar.add({ id: 'racer', owner: 'o', account: '1' });
  secret.fill(0);

  let release!: () => void;
  hold = new Promise<void>((r) => (release = r));
  const all = sidecar.reload(); // what an unnamed watch event runs
  while (!held) await new Promise((r) => setImmediate(r));

  // The CLI, in another process, disables the bot; the watch event names its file.
  const cli = await BotRegistry.open(dir);
  await cli.setEnabled('racer', false);
  cli.close();
  await (sidecar as unknown as { reloadOne(id: string): Promise<void> }).reloadOne('racer');
  t.equal(sidecar.get('racer')?.enabled, false, 'the disable is seen');

  release();
  await all;
  t.equal(sidecar.get('racer')?.enabled, false, 'still disabled after the older folder re-read finished');
});
