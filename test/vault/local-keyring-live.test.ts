// A running vault on the local keyring and a master key version added by
// another process (`kguard keys rewrap --to local --new-master-key` while the
// sidecar runs): records rewrapped to the new version stay readable, and the
// running vault's own new records go under the new version too.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { addLocalMasterKeyVersion, createLocalKeyProvider, createVault } from '../../proxy/vault/index.js';
import { CANARY_APP_KEY, canaryBuffers, capturingLogger, freshRegistry, tempDir } from '../helpers/vault-fixtures.js';

t.test('a master key version added by another process is used by a running vault', async (t) => {
  const dataDir = await tempDir(t);
  const masterKeyFile = path.join(dataDir, 'master.key');
  const open = async () =>
    createVault({
      dataDir,
      provider: await createLocalKeyProvider({ masterKeyFile }),
      registry: freshRegistry(),
      logger: capturingLogger().logger,
      records: { enabled: false },
    });
  const running = await open();
  t.teardown(() => running.close());
  await running.importCredentials({ botId: 'bot-a', account: 'acct', ...canaryBuffers('a') });

  // The CLI, in another process: a new master key version, then every record moved to it.
  t.equal(await addLocalMasterKeyVersion(masterKeyFile), 2);
  const cli = await open();
  const report = await cli.rewrapAll();
  await cli.close();
  t.same(report.rewrapped, ['bot-a']);
  t.equal(report.target.keyId, 'local:v2');

  t.equal(
    await running.withCredentials('bot-a', 'call', async (c) => c.appKey.toString()),
    `${CANARY_APP_KEY}a`,
    'the rewrapped record still opens in the running vault',
  );
  const meta = await running.importCredentials({ botId: 'bot-b', account: 'acct', ...canaryBuffers('b') });
  t.equal(meta.keyId, 'local:v2', 'new records go under the newest master key version');
  t.equal(await running.withCredentials('bot-b', 'call', async (c) => c.appKey.toString()), `${CANARY_APP_KEY}b`);
});

t.test('a bad new master key version fails the writes that need it, not reads or health', async (t) => {
  const dataDir = await tempDir(t);
  const masterKeyFile = path.join(dataDir, 'master.key');
  const vault = await createVault({
    dataDir,
    provider: await createLocalKeyProvider({ masterKeyFile }),
    registry: freshRegistry(),
    logger: capturingLogger().logger,
  });
  t.teardown(() => vault.close());
  await vault.importCredentials({ botId: 'bot-a', account: 'acct', ...canaryBuffers('a') });
  await writeFile(`${masterKeyFile}.v2`, Buffer.alloc(32, 1), { mode: 0o644 }); // left readable by others
  await vault.health();
  t.equal(await vault.withCredentials('bot-a', 'call', async (c) => c.appKey.toString()), `${CANARY_APP_KEY}a`, 'v1 records still open');
  await t.rejects(vault.importCredentials({ botId: 'bot-b', account: 'acct', ...canaryBuffers('b') }), { code: 'KG4007' });
});
