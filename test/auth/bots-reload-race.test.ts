// A bot enabled right after its disable must not be refused as disabled: the
// registry's re-read of the disable's file change (a watch event, 50 ms
// later) can finish after the enable wrote, and must not put the disabled
// record back. Here that re-read is held until the enable is done.
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BotRegistry } from '../../proxy/auth/index.js';

t.test("a re-read that began before this process's own change does not undo it", async (t) => {
  let hold: Promise<void> | undefined;
  let held = false;
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-race-'));
  const bots = await BotRegistry.open(dir, {
    readText: async (file) => {
      const text = await readFile(file, 'utf8');
      const gate = hold;
      hold = undefined;
      if (gate) {
        held = true;
        await gate; // read as the file was; it returns only after the enable
      }
      return text;
    },
  });
  t.teardown(async () => {
    bots.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { secret } = await bots.add({ id: 'racer', owner: 'o', account: '1' });
  secret.fill(0);
  await bots.setEnabled('racer', false);

  let release!: () => void;
  hold = new Promise<void>((r) => (release = r));
  // What the watch event for the disable runs.
  const reread = (bots as unknown as { reloadOne(id: string): Promise<void> }).reloadOne('racer');
  while (!held) await new Promise((r) => setImmediate(r));
  await bots.setEnabled('racer', true);
  t.equal(bots.get('racer')?.enabled, true, 'enabled');
  release();
  await reread;
  t.equal(bots.get('racer')?.enabled, true, 'still enabled after the older re-read finished');

  // The same for a re-read of the whole folder (a watch event that names no file).
  await bots.setEnabled('racer', false);
  held = false;
  hold = new Promise<void>((r) => (release = r));
  const all = bots.reload();
  while (!held) await new Promise((r) => setImmediate(r));
  await bots.setEnabled('racer', true);
  release();
  await all;
  t.equal(bots.get('racer')?.enabled, true, 'still enabled after the older folder re-read finished');
});
