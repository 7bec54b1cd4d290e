// `kguard keys rewrap` clears temporary files a killed writer left in the
// credentials dir. Those names are also used by live writers in other
// processes: the sidecar's record writes (temp file, then rename) and its
// batch import (temp file, hard link as the record, then unlink the temp).
// Zero-filling a linked temp zero-fills the record itself; removing a live
// writer's temp makes its rename fail. Only leftovers are cleared.
import t from 'tap';
import { link, readdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLocalKeyProvider, createVault } from '../../proxy/vault/index.js';
import { CANARY_APP_KEY, canaryBuffers, capturingLogger, freshRegistry, tempDir } from '../helpers/vault-fixtures.js';

t.test('rewrap leaves live writers’ temporary files alone and clears old leftovers', async (t) => {
  const dataDir = await tempDir(t);
  const credDir = path.join(dataDir, 'credentials');
  const open = async () =>
    createVault({
      dataDir,
      provider: await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') }),
      registry: freshRegistry(),
      logger: capturingLogger().logger,
      records: { enabled: false },
    });
  const sidecar = await open();
  t.teardown(() => sidecar.close());
  for (const id of ['bot-a', 'bot-b']) await sidecar.importCredentials({ botId: id, account: 'acct', ...canaryBuffers(id) });

  // A batch import between linking its temp file as bot-b's record and removing the temp name.
  await link(path.join(credDir, 'bot-b.json'), path.join(credDir, '.batch-0123abcd-0.tmp'));
  // A record write between writing its temp file and renaming it over bot-a's record.
  const pending = path.join(credDir, '.bot-a.json.0123456789ab.tmp');
  await writeFile(pending, await readFile(path.join(credDir, 'bot-a.json')), { mode: 0o600 });
  // What a writer killed an hour ago left.
  const leftover = path.join(credDir, '.bot-c.json.ba9876543210.tmp');
  await writeFile(leftover, 'ciphertext of a killed write', { mode: 0o600 });
  const anHourAgo = new Date(Date.now() - 3_600_000);
  await utimes(leftover, anHourAgo, anHourAgo);

  const cli = await open();
  await cli.rewrapAll();
  await cli.close();

  t.equal(
    await sidecar.withCredentials('bot-b', 'call', async (c) => c.appKey.toString()),
    `${CANARY_APP_KEY}bot-b`,
    'the batch-imported record was not zero-filled through its temp name',
  );
  await rename(pending, path.join(credDir, 'bot-a.json')); // the writer finishes
  t.equal(await sidecar.withCredentials('bot-a', 'call', async (c) => c.appKey.toString()), `${CANARY_APP_KEY}bot-a`);
  t.notOk((await readdir(credDir)).includes(path.basename(leftover)), 'the old leftover is cleared');
});
