// Builds key providers from the parsed `vault` config section. Providers with
// native or SDK dependencies are imported only when configured.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { GuardError } from '../common/errors.js';
import type { ProviderName, VaultConfig } from './config.js';
import { createLocalKeyProvider } from './local-provider.js';
import type { KeyProvider } from './types.js';

export interface KeyProviderDeps {
  logger: Logger;
  registry: Registry;
  /** log.outageReminderMs, for providers that log an outage once rather than each failure. */
  outageReminderMs?: number;
  /** Static AWS credentials (tests); omitted in production so the SDK's default chain (IRSA, env, instance role) applies. */
  awsCredentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Creates the provider named `name` (default: the configured primary `cfg.provider`). */
export async function createKeyProvider(cfg: VaultConfig, deps: KeyProviderDeps, name: ProviderName = cfg.provider): Promise<KeyProvider> {
  switch (name) {
    case 'local':
      return createLocalKeyProvider({
        masterKeyFile: cfg.local.masterKeyFile,
        onZeroKey: (version) =>
          deps.logger.error(
            { provider: 'local', version, file: cfg.local.masterKeyFile },
            'local master key is all zero bytes (made by a defect, since fixed, in how key files were created): it protects nothing. Rotate now: kguard keys rewrap --to local --new-master-key',
          ),
      });
    case 'aws-kms': {
      if (!cfg.awsKms) throw new GuardError('KG4005', 'vault.awsKms is not configured');
      const { createAwsKmsProvider } = await import('./aws-kms-provider.js');
      return createAwsKmsProvider({
        ...cfg.awsKms,
        registry: deps.registry,
        logger: deps.logger,
        ...(deps.outageReminderMs !== undefined ? { outageReminderMs: deps.outageReminderMs } : {}),
        ...(deps.awsCredentials ? { credentials: deps.awsCredentials } : {}),
      });
    }
    case 'pkcs11': {
      if (!cfg.pkcs11) throw new GuardError('KG4005', 'vault.pkcs11 is not configured');
      const { createPkcs11KeyProvider } = await import('./pkcs11-provider.js');
      return createPkcs11KeyProvider({ ...cfg.pkcs11, logger: deps.logger });
    }
    default:
      throw new GuardError('KG4005', `unknown key provider ${String(name)}`);
  }
}

/** The providers listed in `vault.readProviders`, for records not yet rewrapped to the primary. */
export async function createReadProviders(cfg: VaultConfig, deps: KeyProviderDeps): Promise<KeyProvider[]> {
  const out: KeyProvider[] = [];
  try {
    for (const name of cfg.readProviders) out.push(await createKeyProvider(cfg, deps, name));
  } catch (err) {
    await Promise.all(out.map((p) => p.close().catch(() => undefined)));
    throw err;
  }
  return out;
}
