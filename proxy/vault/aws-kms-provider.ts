// AWS KMS key provider: GenerateDataKey / Decrypt with the record's
// encryption context, through the real SDK client (its credential chain:
// env, IRSA web identity in Kubernetes, instance roles). Throttling and
// transient errors are retried by the SDK's standard strategy (exponential
// backoff with full jitter, bounded by maxAttempts); anything left over fails
// closed as KG4001, a context or ciphertext mismatch as KG4004.
import { outageLog } from '../common/outage-log.js';
import { DecryptCommand, DescribeKeyCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { GuardError } from '../common/errors.js';
import type { AwsKmsConfig } from './config.js';
import { counter, histogram, UNWRAP_BUCKETS } from './metrics.js';
import { providerUnreachable } from './unreachable.js';
import type { EncryptionContext, KeyProvider } from './types.js';

export const AWS_KMS_PROVIDER_ID = 'aws-kms';

export interface AwsKmsProviderOptions extends AwsKmsConfig {
  registry: Registry;
  logger: Logger;
  /** log.outageReminderMs: while KMS does not answer, its failure is logged again at most this often (with a count). */
  outageReminderMs?: number;
  /** Static credentials (tests, the fake KMS); production leaves this out and uses the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

const OPS = ['GenerateDataKey', 'Decrypt', 'DescribeKey'] as const;
type Op = (typeof OPS)[number];
const FAILURES = ['throttled', 'denied', 'invalid', 'unavailable', 'error'] as const;
type Outcome = 'ok' | (typeof FAILURES)[number];

const THROTTLED = new Set(['ThrottlingException', 'LimitExceededException', 'TooManyRequestsException']);
const DENIED = new Set(['AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'IncompleteSignature', 'ExpiredTokenException']);
const INVALID = new Set(['InvalidCiphertextException', 'IncorrectKeyException', 'InvalidKeyUsageException']);
const UNAVAILABLE = new Set(['DisabledException', 'KMSInvalidStateException', 'KeyUnavailableException', 'NotFoundException']);

function classify(err: unknown): { outcome: Exclude<Outcome, 'ok'>; name: string } {
  const rawName = (err as { name?: unknown })?.name;
  // The name comes from the wire (`__type`); keep it only if it looks like an AWS error name.
  let name = typeof rawName === 'string' && /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(rawName) ? rawName : 'Error';
  // A socket error (KMS unreachable) is a bare Error: its errno code tells the operator more (ECONNREFUSED, ETIMEDOUT).
  const code = (err as { code?: unknown })?.code;
  if (name === 'Error' && typeof code === 'string' && /^E[A-Z]{2,20}$/.test(code)) name = code;
  if (THROTTLED.has(name)) return { outcome: 'throttled', name };
  if (DENIED.has(name)) return { outcome: 'denied', name };
  if (INVALID.has(name)) return { outcome: 'invalid', name };
  if (UNAVAILABLE.has(name)) return { outcome: 'unavailable', name };
  return { outcome: 'error', name };
}

function toMutableContext(context: EncryptionContext): Record<string, string> {
  return { ...context };
}

export async function createAwsKmsProvider(opts: AwsKmsProviderOptions): Promise<KeyProvider> {
  const client = new KMSClient({
    region: opts.region,
    maxAttempts: opts.maxAttempts,
    retryMode: 'standard',
    // throwOnRequestTimeout: without it the SDK only warns and keeps waiting.
    requestHandler: { requestTimeout: opts.requestTimeoutMs, connectionTimeout: opts.connectTimeoutMs, throwOnRequestTimeout: true },
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
  });
  const requests = counter(opts.registry, 'kguard_kms_requests_total', 'AWS KMS requests by final outcome (after SDK retries)', ['op', 'outcome'] as const);
  const attempts = counter(opts.registry, 'kguard_kms_retries_total', 'AWS KMS retry attempts made by the SDK', ['op'] as const);
  const latency = histogram(opts.registry, 'kguard_kms_request_duration_seconds', 'AWS KMS request latency including retries', ['op'] as const, UNWRAP_BUCKETS);
  // Failures start at 0: a series born at 1 shows Prometheus no increase, and KiwoomGuardKmsErrors would miss the first.
  for (const op of OPS) for (const outcome of FAILURES) requests.inc({ op, outcome }, 0);
  let resolvedKeyArn: string | undefined;
  let closed = false;
  let lastError: string | undefined;
  // KMS not answering fails every probe (vault.healthProbeMs) and every cold decrypt: one line per outage, not each.
  const outage = outageLog({
    logger: opts.logger,
    lost: 'kms request failed',
    still: 'kms requests still failing: KMS does not answer',
    back: 'kms answers again',
    reminderMs: opts.outageReminderMs,
  });

  async function call<T>(op: Op, send: () => Promise<T & { $metadata?: { attempts?: number } }>): Promise<T> {
    if (closed) throw new GuardError('KG4001', 'kms provider closed');
    const started = process.hrtime.bigint();
    try {
      const out = await send();
      const tries = out.$metadata?.attempts ?? 1;
      if (tries > 1) attempts.inc({ op }, tries - 1);
      requests.inc({ op, outcome: 'ok' });
      lastError = undefined;
      outage.ok();
      return out;
    } catch (err) {
      const { outcome, name } = classify(err);
      const tries = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
      if (tries > 1) attempts.inc({ op }, tries - 1);
      requests.inc({ op, outcome });
      lastError = `${op}:${name}`;
      const e = new GuardError(outcome === 'invalid' ? 'KG4004' : 'KG4001', `kms ${op}: ${name}`);
      // Throttled, a 5xx, the network or a time-out: KMS did not answer and may come back. Denied, no such key,
      // a disabled key or a bad request are answers (an operator has to act): each is logged.
      const unanswered = outcome === 'throttled' || name === 'KeyUnavailableException' || (outcome === 'error' && name !== 'ValidationException');
      const fields = { op, outcome, kmsError: name, attempts: tries };
      if (unanswered) outage.failed(fields);
      else opts.logger.warn(fields, 'kms request failed');
      throw unanswered ? providerUnreachable(e) : e;
    } finally {
      latency.observe({ op }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  return {
    id: AWS_KMS_PROVIDER_ID,
    async generateDataKey(context) {
      const out = await call('GenerateDataKey', () =>
        client.send(new GenerateDataKeyCommand({ KeyId: opts.keyId, KeySpec: 'AES_256', EncryptionContext: toMutableContext(context) })),
      );
      const { Plaintext, CiphertextBlob, KeyId } = out;
      if (!Plaintext || !CiphertextBlob || !KeyId || Plaintext.length !== 32) {
        Plaintext?.fill(0);
        throw new GuardError('KG4001', 'kms GenerateDataKey: malformed response');
      }
      const plaintext = Buffer.from(Plaintext);
      Plaintext.fill(0);
      resolvedKeyArn ??= KeyId;
      return { plaintext, wrapped: { provider: AWS_KMS_PROVIDER_ID, keyId: KeyId, ciphertext: Buffer.from(CiphertextBlob).toString('base64') } };
    },
    async unwrap(wrapped, context) {
      if (wrapped.provider !== AWS_KMS_PROVIDER_ID) throw new GuardError('KG4004', 'wrapped by another provider');
      const out = await call('Decrypt', () =>
        client.send(
          new DecryptCommand({
            CiphertextBlob: Buffer.from(wrapped.ciphertext, 'base64'),
            // Naming the key stops KMS from decrypting under some other key the role can use.
            KeyId: wrapped.keyId,
            EncryptionContext: toMutableContext(context),
          }),
        ),
      );
      const { Plaintext } = out;
      if (Plaintext?.length !== 32) {
        Plaintext?.fill(0);
        throw new GuardError('KG4004', 'kms Decrypt: unexpected plaintext length');
      }
      const key = Buffer.from(Plaintext);
      Plaintext.fill(0);
      return key;
    },
    async health() {
      const out = await call('DescribeKey', () => client.send(new DescribeKeyCommand({ KeyId: opts.keyId })));
      const meta = out.KeyMetadata;
      if (!meta?.Arn) throw new GuardError('KG4001', 'kms DescribeKey: malformed response');
      if (meta.KeyState !== 'Enabled')
        throw new GuardError(
          'KG4001',
          `kms key state ${String(meta.KeyState)
            .replace(/[^A-Za-z]/g, '')
            .slice(0, 32)}`,
        );
      resolvedKeyArn = meta.Arn;
    },
    describe() {
      return {
        provider: AWS_KMS_PROVIDER_ID,
        keyId: resolvedKeyArn ?? opts.keyId,
        region: opts.region,
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        maxAttempts: opts.maxAttempts,
        ...(lastError ? { lastError } : {}),
      };
    },
    async close() {
      closed = true;
      client.destroy();
    },
  };
}
