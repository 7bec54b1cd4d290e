// A vault whose key provider is aws-kms against the fake KMS wire-protocol server: the real SDK client signs,
// serialises, retries and maps errors. Closed at teardown.
import type { Test } from 'tap';
import { createKeyProvider, createVault, parseVaultConfig } from '../../proxy/vault/index.js';
import { startFakeKms } from './fake-kms.js';
import { capturingLogger, freshRegistry, tempDir } from './vault-fixtures.js';

export const FAKE_CREDS = { accessKeyId: 'AKIAFAKEFAKEFAKE', secretAccessKey: 'fake-secret-for-sigv4-only' };

/** `awsKms` overrides the provider's settings (3 attempts by default); `vault` the rest of the vault section (cache). */
export async function startKmsVault(t: Test, opts: { awsKms?: Record<string, unknown>; vault?: Record<string, unknown> } = {}) {
  const fake = await startFakeKms();
  t.teardown(() => fake.close());
  const key = fake.createKey({ alias: 'alias/kguard' });
  const dataDir = await tempDir(t);
  const cfg = parseVaultConfig(
    { provider: 'aws-kms', awsKms: { keyId: 'alias/kguard', region: fake.region, endpoint: fake.url, maxAttempts: 3, ...opts.awsKms }, ...opts.vault },
    dataDir,
  );
  const registry = freshRegistry();
  const log = capturingLogger();
  const provider = await createKeyProvider(cfg, { logger: log.logger, registry, awsCredentials: FAKE_CREDS });
  const vault = await createVault({ dataDir, provider, registry, logger: log.logger });
  t.teardown(() => vault.close());
  return { fake, key, dataDir, registry, log, provider, vault, cfg };
}
