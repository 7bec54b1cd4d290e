// A bulk import writes each bot's Kiwoom keys before the bot itself. Sealing a
// thousand records takes seconds (one data-key request each to KMS): a bot
// registered before that is enabled without keys, and an import killed or
// failed meanwhile (OOM, a deploy, Ctrl-C) left thousands of them, which a
// re-run of the same file then refused one by one (KG2011). Now the records
// are written first and the bots after them, and bots that cannot be added
// take the batch's records with them.
import t from 'tap';
import type { Test } from 'tap';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { BotRegistry } from '../../proxy/auth/index.js';
import { applyBatch, type BatchEntry } from '../../proxy/server/tenant-batch.js';
import { createLocalKeyProvider, createVault, type ManagedVault } from '../../proxy/vault/index.js';
import { capturingLogger, freshRegistry, tempDir } from '../helpers/vault-fixtures.js';

async function world(t: Test) {
  const dataDir = await tempDir(t);
  const vault = await createVault({
    dataDir,
    provider: await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') }),
    registry: freshRegistry(),
    logger: capturingLogger().logger,
  });
  const bots = await BotRegistry.open(dataDir);
  t.teardown(async () => {
    bots.close();
    await vault.close();
  });
  const files = async (dir: string) =>
    (await readdir(path.join(dataDir, dir)).catch(() => [] as string[])).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  return { dataDir, vault, bots, files };
}

function entries(n: number): BatchEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    line: i + 1,
    id: `order-${i}`,
    owner: 'desk',
    account: `50000000${String(i).padStart(2, '0')}`,
    botSecret: Buffer.from(`ORDERbotSECRET-${i}-0123456789abcdefghijklmnop`),
    appKey: Buffer.from(`ORDERappKEY${i}abcdefghijkl`),
    secretKey: Buffer.from(`ORDERsecretKEY${i}abcdefghijklmnop`),
  }));
}

/** The vault, with `during` run while the batch's records are being imported (the seal of each data key). */
function sealing(vault: ManagedVault, during: () => Promise<void>): ManagedVault {
  return {
    ...vault,
    importMany: async (inputs) => {
      await during();
      return vault.importMany(inputs);
    },
  };
}

t.test('no bot of a batch is registered while its keys are still being sealed', async (t) => {
  const w = await world(t);
  let seen: string[] | undefined;
  const r = await applyBatch(entries(3), {
    bots: w.bots,
    vault: sealing(w.vault, async () => {
      seen = await w.files('bots');
    }),
    language: 'en',
  });
  t.same(r, { bots: 3, credentials: 3, ids: ['order-0', 'order-1', 'order-2'] });
  t.same(seen, [], 'an import stopped here (killed, crashed) leaves no bot without keys');
  t.same(await w.files('bots'), ['order-0.json', 'order-1.json', 'order-2.json']);
  t.same(await w.files('credentials'), ['order-0.json', 'order-1.json', 'order-2.json']);
});

t.test('bots that cannot be added take the batch’s key records with them', async (t) => {
  const w = await world(t);
  // Another operator registers one of the batch's ids while its keys are sealed.
  const other = await BotRegistry.open(w.dataDir);
  t.teardown(() => other.close());
  const code = await applyBatch(entries(3), {
    bots: w.bots,
    vault: sealing(w.vault, async () => {
      await other.add({ id: 'order-1', owner: 'someone-else', account: '5999999999' }).catch(() => undefined);
    }),
    language: 'en',
  }).then(
    () => 'applied',
    (e: { code?: string }) => e.code,
  );
  t.equal(code, 'KG2011', 'refused: a bot of the batch was registered meanwhile');
  t.same(await w.files('credentials'), [], 'no key record of the refused batch is left');
  t.same(await w.files('bots'), ['order-1.json'], "only the other operator's bot stays");
  t.equal(w.bots.get('order-0'), undefined);
});
