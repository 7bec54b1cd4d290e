// Transparent mode's configuration: bots that hard-code https://api.kiwoom.com
// reach the sidecar through CONNECT on the bot port (HTTPS_PROXY) or through a
// TLS address that serves Kiwoom's names (hostAliases). Off by default; the
// CONNECT targets are a fixed list, never a general-purpose proxy.

export const CA_KEY_STORES = ['file', 'key-provider'] as const;
export type CaKeyStore = (typeof CA_KEY_STORES)[number];

export interface TransparentConfig {
  enabled: boolean;
  /** The only hosts a CONNECT may name; the leaf certificate carries them. */
  hosts: string[];
  /** The only ports a CONNECT may name (443 REST, 10000 the realtime WebSocket). */
  ports: number[];
  /** The sidecar's own names, also in the leaf (a bot that trusts the CA may use them). */
  names: string[];
  /** Lifetime of the in-memory leaf certificate. */
  leafLifetimeMs: number;
  /** The leaf is renewed this long before it expires (must be below leafLifetimeMs). */
  renewBeforeMs: number;
  /** A CONNECT tunnel must finish its TLS handshake this soon. */
  handshakeTimeoutMs: number;
  /** The CA's directory; default <dataDir>/ca (kguard ca init). */
  caDir?: string;
  /**
   * Where the CA private key lives: `file` (ca.key, PKCS#8 PEM, mode 0600) or
   * `key-provider` (ca.key.sealed: envelope-encrypted by the vault's key
   * provider, unsealed in memory at start; the plaintext form is then refused).
   */
  caKeyStore: CaKeyStore;
  /** Name-override mode: addresses served with TLS for Kiwoom's names (e.g. 127.0.0.1:443 with hostAliases). */
  listen: { host: string; port: number }[];
  /** Forward-proxy mode on dedicated ports as well as the bot port: these answer CONNECT only. */
  proxyListen: { host: string; port: number }[];
}

export const TRANSPARENT_DEFAULTS: TransparentConfig = {
  enabled: false,
  hosts: ['api.kiwoom.com', 'mockapi.kiwoom.com'],
  ports: [443, 10000],
  names: ['localhost', '127.0.0.1'],
  leafLifetimeMs: 86_400_000,
  renewBeforeMs: 28_800_000,
  handshakeTimeoutMs: 10_000,
  caKeyStore: 'file',
  listen: [],
  proxyListen: [],
};

const hostName = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:-]+$' };

const ADDRESSES = {
  type: 'array',
  maxItems: 8,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['host', 'port'],
    properties: { host: { type: 'string', minLength: 1, maxLength: 255 }, port: { type: 'integer', minimum: 0, maximum: 65535 } },
  },
} as const;

export const TRANSPARENT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled', 'hosts', 'ports', 'names', 'leafLifetimeMs', 'renewBeforeMs', 'handshakeTimeoutMs', 'caKeyStore', 'listen', 'proxyListen'],
  properties: {
    enabled: { type: 'boolean' },
    hosts: { type: 'array', maxItems: 16, items: hostName },
    ports: { type: 'array', maxItems: 16, items: { type: 'integer', minimum: 1, maximum: 65535 } },
    names: { type: 'array', maxItems: 16, items: hostName },
    leafLifetimeMs: { type: 'integer', minimum: 60_000, maximum: 90 * 86_400_000 },
    renewBeforeMs: { type: 'integer', minimum: 1_000, maximum: 90 * 86_400_000 },
    handshakeTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
    caDir: { type: 'string', minLength: 1 },
    caKeyStore: { enum: CA_KEY_STORES },
    listen: ADDRESSES,
    proxyListen: ADDRESSES,
  },
} as const;

/** Cross-field checks the schema cannot say; returns the problem or undefined. */
export function transparentProblem(t: TransparentConfig): string | undefined {
  if (t.renewBeforeMs >= t.leafLifetimeMs) return 'transparent.renewBeforeMs must be below transparent.leafLifetimeMs';
  return undefined;
}
