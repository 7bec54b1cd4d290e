// The JSON Schema for the core config sections and its compiled validator,
// kept apart from config.ts (types, defaults, loading) because it is long and
// changes on its own. Sections owned by other parts are only checked to be objects.
import type { ErrorObject } from 'ajv';
import { KIWOOM_LIMITS } from './kiwoom-limits.js';
import { TRANSPARENT_SCHEMA } from './config-transparent.js';
import { loadValidator, type ValidatorSpec } from './validators.js';

const port = { type: 'integer', minimum: 0, maximum: 65535 };
const posInt = { type: 'integer', minimum: 1 };
const host = { type: 'string', minLength: 1, maxLength: 255 };
const tls = {
  type: 'object',
  additionalProperties: false,
  required: ['certFile', 'keyFile'],
  properties: {
    certFile: { type: 'string', minLength: 1 },
    keyFile: { type: 'string', minLength: 1 },
    reloadIntervalMs: { type: 'integer', minimum: 10, maximum: 3_600_000 },
  },
};
/** Failed logins and the cool-down after them: per source address (admin.authFailures), per (source address, bot id) (tokens.authFailures). */
const authFailures = {
  type: 'object',
  additionalProperties: false,
  required: ['maxFailures', 'windowMs', 'blockMs', 'maxSources'],
  properties: {
    maxFailures: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    windowMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
    blockMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
    maxSources: { type: 'integer', minimum: 1, maximum: 10_000_000 },
  },
};

const limitProps = Object.fromEntries(
  Object.keys(KIWOOM_LIMITS).map((k) => [
    k,
    k === 'windowMs' || k.endsWith('Ms')
      ? { type: 'integer', minimum: k === 'windowMs' ? 100 : 0, maximum: 600_000 }
      : { type: 'integer', minimum: 1, maximum: 10_000 },
  ]),
);

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    configFile: { type: 'string' },
    dataDir: { type: 'string', minLength: 1 },
    language: { enum: ['ko', 'en'] },
    listen: { type: 'object', additionalProperties: false, required: ['host', 'port'], properties: { host, port, tls } },
    admin: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port', 'enabled', 'authFailures', 'batch', 'allowedHosts', 'dashboard'],
      properties: {
        host,
        port,
        enabled: { type: 'boolean' },
        allowedHosts: {
          type: 'array',
          maxItems: 100,
          description:
            'Host names the admin listener answers to besides IP addresses and localhost (DNS rebinding); checked on a loopback listener always, elsewhere once listed',
          items: { type: 'string', pattern: '^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.?$', minLength: 1, maxLength: 253 },
        },
        tls,
        authFailures,
        dashboard: {
          type: 'object',
          additionalProperties: false,
          required: ['auditTailBytes'],
          properties: {
            auditTailBytes: {
              type: 'integer',
              minimum: 4096,
              maximum: 64 * 1024 * 1024,
              description: 'Newest bytes of the audit log the dashboard reads and checks (recent calls, risk per bot, chain status)',
            },
          },
        },
        batch: {
          type: 'object',
          additionalProperties: false,
          required: ['maxBytes', 'maxEntries'],
          properties: {
            maxBytes: { type: 'integer', minimum: 1024, maximum: 256 * 1024 * 1024 },
            maxEntries: { type: 'integer', minimum: 1, maximum: 1_000_000 },
          },
        },
      },
    },
    upstream: {
      type: 'object',
      additionalProperties: false,
      required: [
        'target',
        'allowInsecureHttp',
        'connections',
        'connectTimeoutMs',
        'headersTimeoutMs',
        'bodyTimeoutMs',
        'answerTimeoutMs',
        'revokeTimeoutMs',
        'keepAliveTimeoutMs',
        'maxResponseBytes',
      ],
      properties: {
        target: { enum: ['sim', 'mock', 'production', 'custom'] },
        url: { type: 'string', pattern: '^https?://' },
        allowInsecureHttp: { type: 'boolean' },
        caFile: { type: 'string' },
        connections: { type: 'integer', minimum: 1, maximum: 4096 },
        connectTimeoutMs: posInt,
        headersTimeoutMs: posInt,
        bodyTimeoutMs: posInt,
        answerTimeoutMs: posInt,
        revokeTimeoutMs: { type: 'integer', minimum: 100, maximum: 60_000 },
        keepAliveTimeoutMs: posInt,
        maxResponseBytes: { type: 'integer', minimum: 1024 },
        limits: {
          anyOf: [
            { const: 'off' },
            {
              type: 'object',
              additionalProperties: false,
              properties: { ...limitProps, mock: { type: 'object', additionalProperties: false, properties: limitProps } },
            },
          ],
        },
        sim: { type: 'object', additionalProperties: false, required: ['ideal'], properties: { ideal: { type: 'boolean' } } },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      required: [
        'maxBodyBytes',
        'maxBodyDepth',
        'maxHeaderBytes',
        'maxHeaderCount',
        'requestTimeoutMs',
        'headersTimeoutMs',
        'keepAliveTimeoutMs',
        'maxConnections',
        'maxConnectionsPerSource',
        'refusalHoldMs',
        'refusalHoldPerBot',
      ],
      properties: {
        maxBodyBytes: { type: 'integer', minimum: 2, maximum: 16 * 1024 * 1024 },
        maxBodyDepth: { type: 'integer', minimum: 1, maximum: 1_000 },
        maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1024 * 1024 },
        maxHeaderCount: { type: 'integer', minimum: 16, maximum: 10_000 },
        requestTimeoutMs: posInt,
        headersTimeoutMs: posInt,
        keepAliveTimeoutMs: posInt,
        maxConnections: posInt,
        maxConnectionsPerSource: { type: 'integer', minimum: 0, maximum: 1_000_000 },
        refusalHoldMs: { type: 'integer', minimum: 0, maximum: 60_000 },
        refusalHoldPerBot: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        authFailureHold: {
          type: 'object',
          additionalProperties: false,
          required: ['afterFailures', 'windowMs', 'holdMs', 'maxSources'],
          properties: {
            afterFailures: { type: 'integer', minimum: 0, maximum: 1_000_000 },
            windowMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
            holdMs: { type: 'integer', minimum: 0, maximum: 60_000 },
            maxSources: { type: 'integer', minimum: 1, maximum: 10_000_000 },
          },
        },
      },
    },
    tokens: {
      type: 'object',
      additionalProperties: false,
      required: ['ttlSeconds', 'issuer', 'audience', 'clockToleranceSeconds'],
      properties: {
        ttlSeconds: { type: 'integer', minimum: 10, maximum: 86_400 },
        issuer: { type: 'string', minLength: 1 },
        audience: { type: 'string', minLength: 1 },
        clockToleranceSeconds: { type: 'integer', minimum: 0, maximum: 300 },
        verifiedCacheSize: { type: 'integer', minimum: 0, maximum: 1_000_000 },
        keyFile: { type: 'string' },
        authFailures: { ...authFailures, required: [] },
      },
    },
    realtime: {
      type: 'object',
      additionalProperties: false,
      required: [
        'enabled',
        'loginTimeoutMs',
        'pingIntervalMs',
        'maxMissedPings',
        'maxBufferedBytes',
        'maxFrameBytes',
        'maxItemsPerMessage',
        'maxWaitingFrames',
        'maxSessionsPerBot',
        'maxRegistrationsPerBot',
        'maxLiveSearchesPerBot',
        'recheckMs',
        'lingerMs',
        'ownerTtlMs',
        'peerTimeoutMs',
        'connectTimeoutMs',
        'requestTimeoutMs',
        'reconnectBaseMs',
        'reconnectMaxMs',
      ],
      properties: {
        enabled: { type: 'boolean' },
        url: { type: 'string', pattern: '^wss?://' },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        loginTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
        pingIntervalMs: { type: 'integer', minimum: 50, maximum: 600000 },
        maxMissedPings: { type: 'integer', minimum: 1, maximum: 100 },
        maxBufferedBytes: { type: 'integer', minimum: 1024, maximum: 1073741824 },
        maxFrameBytes: { type: 'integer', minimum: 1024, maximum: 16777216 },
        maxItemsPerMessage: { type: 'integer', minimum: 1, maximum: 10000 },
        maxWaitingFrames: { type: 'integer', minimum: 1, maximum: 100000 },
        maxSessionsPerBot: { type: 'integer', minimum: 1, maximum: 10000 },
        maxRegistrationsPerBot: { type: 'integer', minimum: 1, maximum: 100000 },
        maxLiveSearchesPerBot: { type: 'integer', minimum: 0, maximum: 10 },
        recheckMs: { type: 'integer', minimum: 50, maximum: 600000 },
        lingerMs: { type: 'integer', minimum: 0, maximum: 3600000 },
        ownerTtlMs: { type: 'integer', minimum: 300, maximum: 600000 },
        peerTimeoutMs: { type: 'integer', minimum: 1000, maximum: 3600000 },
        connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
        requestTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
        reconnectBaseMs: { type: 'integer', minimum: 10, maximum: 600000 },
        reconnectMaxMs: { type: 'integer', minimum: 10, maximum: 3600000 },
      },
    },
    brokerTokens: {
      type: 'object',
      additionalProperties: false,
      required: [
        'idleRevokeMs',
        'renewBeforeMs',
        'leaseTtlMs',
        'issueLockTtlMs',
        'sessionWaitMs',
        'revokeAttempts',
        'revokeBaseDelayMs',
        'revokeMaxDelayMs',
        'sweepIntervalMs',
        'queryRetryBudgetMs',
      ],
      properties: {
        idleRevokeMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
        cadenceLingerMs: { type: 'integer', minimum: 0, maximum: 60_000 },
        renewBeforeMs: { type: 'integer', minimum: 0, maximum: 12 * 3_600_000 },
        leaseTtlMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
        issueLockTtlMs: { type: 'integer', minimum: 100, maximum: 600_000 },
        sessionWaitMs: { type: 'integer', minimum: 1, maximum: 600_000 },
        revokeAttempts: posInt,
        revokeBaseDelayMs: posInt,
        revokeMaxDelayMs: posInt,
        sweepIntervalMs: { type: 'integer', minimum: 50, maximum: 3_600_000 },
        recoverConcurrency: { type: 'integer', minimum: 1, maximum: 1_000 },
        queryRetryBudgetMs: { type: 'integer', minimum: 0, maximum: 60_000 },
        shutdownRevokeMs: { type: 'integer', minimum: 0, maximum: 600_000 },
        forgetIdleMs: { type: 'integer', minimum: 1_000, maximum: 86_400_000 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      required: ['level'],
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
        bufferBytes: { type: 'integer', minimum: 0, maximum: 16_000 },
        flushMs: { type: 'integer', minimum: 10, maximum: 60_000 },
        outageReminderMs: { type: 'integer', minimum: 1_000, maximum: 86_400_000 },
      },
    },
    demo: { type: 'object', additionalProperties: false, required: ['enabled'], properties: { enabled: { type: 'boolean' } } },
    transparent: TRANSPARENT_SCHEMA,
    vault: { type: 'object' },
    policy: { type: 'object' },
    audit: { type: 'object' },
    state: { type: 'object' },
    risk: { type: 'object' },
    approval: { type: 'object' },
    response: { type: 'object' },
  },
} as const;

export const CONFIG_VALIDATOR: ValidatorSpec = { name: 'config', schema, options: { allErrors: true, strict: true } };
export const validateConfig = loadValidator(CONFIG_VALIDATOR).validate;

export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => {
      const where = e.instancePath || '(root)';
      if (e.keyword === 'additionalProperties') return `${where}: unknown key '${String(e.params.additionalProperty)}'`;
      if (e.keyword === 'enum') return `${where}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
      return `${where}: ${e.message ?? 'invalid'}`;
    })
    .join('; ');
}
