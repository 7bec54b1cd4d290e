// A credential record is trusted only as a private file of the sidecar's own
// user. Its clear fields (enabled, appKeyFingerprint: the broker session a bot
// uses) are not covered by the AEAD, so a record another user could write, or
// wrote, must be refused before any of it is used.
import t from 'tap';
import type { Test } from 'tap';
import { chmod, chown, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLocalKeyProvider, createVault } from '../../proxy/vault/index.js';
import { canaryBuffers, capturingLogger, freshRegistry, tempDir } from '../helpers/vault-fixtures.js';

async function openVault(t: Test, dataDir: string) {
  const vault = await createVault({
    dataDir,
    provider: await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') }),
    registry: freshRegistry(),
    logger: capturingLogger().logger,
  });
  t.teardown(() => vault.close());
  return vault;
}

const codeOf = (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (e: { code?: string }) => e.code,
  );

t.test('a record group or others can read or write is refused (KG4007), not decrypted', async (t) => {
  const dataDir = await tempDir(t);
  const vault = await openVault(t, dataDir);
  await vault.importCredentials({ botId: 'loose', account: 'acct', ...canaryBuffers() });
  const file = path.join(dataDir, 'credentials', 'loose.json');
  for (const mode of [0o640, 0o620, 0o604, 0o602]) {
    await chmod(file, mode);
    t.equal(await codeOf(vault.withCredentials('loose', 'call', async () => 'decrypted')), 'KG4007', `mode ${mode.toString(8)}`);
    t.equal(await codeOf(vault.appKeyOf('loose', 'call')), 'KG4007', `appKeyOf, mode ${mode.toString(8)}`);
  }
  await chmod(file, 0o600);
  t.equal(await vault.withCredentials('loose', 'call', async () => 'decrypted'), 'decrypted');
});

t.test(
  'a record another user put in a group-shared credentials dir is refused (KG4007)',
  { skip: process.getuid?.() !== 0 && 'needs root to chown' },
  async (t) => {
    const dataDir = await tempDir(t);
    const vault = await openVault(t, dataDir);
    await vault.importCredentials({ botId: 'victim', account: 'acct', ...canaryBuffers() });
    await vault.importCredentials({ botId: 'other', account: 'acct', ...canaryBuffers('2') });
    const credDir = path.join(dataDir, 'credentials');
    // Another member of the volume's group replaces 'other' with a file of its own, 0600 but not ours,
    // carrying victim's app-key fingerprint: the broker session 'other' would then use.
    const victim = JSON.parse(await readFile(path.join(credDir, 'victim.json'), 'utf8'));
    const forged = JSON.parse(await readFile(path.join(credDir, 'other.json'), 'utf8'));
    forged.appKeyFingerprint = victim.appKeyFingerprint;
    const staged = path.join(dataDir, 'staged.json');
    await writeFile(staged, `${JSON.stringify(forged, null, 2)}\n`, { mode: 0o600 });
    await chown(staged, 4321, 4321);
    await rename(staged, path.join(credDir, 'other.json'));
    t.equal(await codeOf(vault.appKeyOf('other', 'call')), 'KG4007');
    t.equal(await codeOf(vault.withCredentials('other', 'call', async () => 'decrypted')), 'KG4007');
    t.equal(await codeOf(vault.describe('other')), 'KG4007');
    t.equal(await vault.appKeyOf('victim', 'call'), victim.appKeyFingerprint, 'our own record still serves');
  },
);
