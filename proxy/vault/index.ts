// Public API of the vault part: envelope-encrypted credential records and the
// key providers that wrap their data keys.
export type {
  CredentialMeta,
  DecryptPurpose,
  EncryptionContext,
  KeyProvider,
  KiwoomCredentials,
  ManagedVault,
  RewrapReport,
  Vault,
  WrappedKey,
} from './types.js';
export { createVault, type DecryptEvent, type VaultOptions } from './vault.js';
export { createLocalKeyProvider, addLocalMasterKeyVersion, LOCAL_PROVIDER_ID, type LocalProviderOptions } from './local-provider.js';
export { parseVaultConfig, PROVIDER_NAMES, type ProviderName, type VaultConfig, type AwsKmsConfig, type Pkcs11Config } from './config.js';
export { withDataKeyCache, DEFAULT_CACHE_CONFIG, type DataKeyCacheConfig } from './cache.js';
export { DEFAULT_RECORD_CACHE_CONFIG, type RecordCacheConfig } from './record-cache.js';
export {
  readSecretInput,
  parseCredentialInput,
  validateSecretKeyMaterial,
  DEFAULT_CREDENTIAL_LIMITS,
  DEFAULT_MAX_SECRET_INPUT_BYTES,
  type CredentialLimits,
  type SecretSource,
} from './secret-input.js';
export { canonicalContext, credentialContext } from './context.js';
export { BOT_ID_PATTERN, ACCOUNT_PATTERN, type CredentialSwitch } from './records.js';
export { createKeyProvider, createReadProviders, type KeyProviderDeps } from './providers.js';
// Types only: providers.ts loads the AWS SDK and the PKCS#11 addon when one is configured.
export type { AwsKmsProviderOptions } from './aws-kms-provider.js';
export type { Pkcs11ProviderOptions } from './pkcs11-provider.js';
export { sealSecret, openSecret, parseSealedSecret, type SealedSecret } from './secret-box.js';
export { isProviderUnreachable, providerUnreachable } from './unreachable.js';
