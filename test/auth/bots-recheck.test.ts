// The replicas overlay shares the data dir between pods on a ReadWriteMany
// volume (EFS, NFS). There, fs.watch reports only this host's own writes: a
// bot added, disabled or enabled through another replica's admin API or the
// CLI in another pod produces no event. The registry must still see such a
// change by itself (a periodic check of the folder), or a bot added on one
// replica is "unknown" on the others (KG2005 at the exchange, KG2002 on
// calls) until they restart. Here the running registry gets no watch events,
// as on such a volume.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BotRegistry } from '../../proxy/auth/index.js';

async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('changes made elsewhere are seen without a watch event', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-recheck-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const other = await BotRegistry.open(dir); // another pod's replica, or the CLI there
  t.teardown(() => other.close());
  const { secret: s1 } = await other.add({ id: 'old-bot', owner: 'o', account: '1' });
  s1.fill(0);

  const replica = await BotRegistry.open(dir, { watch: false, recheckMs: 50 });
  t.teardown(() => replica.close());
  t.equal(replica.get('old-bot')?.enabled, true);

  const { secret } = await other.add({ id: 'new-bot', owner: 'o', account: '2' });
  await until('the new bot is known', () => replica.get('new-bot') !== undefined);
  t.equal((await replica.authenticate('new-bot', secret)).id, 'new-bot', 'its secret is accepted');
  secret.fill(0);

  await other.setEnabled('old-bot', false);
  await until('the disable is seen', () => replica.get('old-bot')?.enabled === false);
  await other.setEnabled('old-bot', true);
  await until('the enable is seen', () => replica.get('old-bot')?.enabled === true);
  t.pass('every change seen');
});
