// A local server speaking the AWS KMS JSON 1.1 wire protocol, so tests (and
// the bench) exercise the real @aws-sdk/client-kms: SigV4-signed POSTs with
// `X-Amz-Target: TrentService.<Op>`, `application/x-amz-json-1.1` bodies,
// base64 blobs, `__type` errors. It enforces encryption-context equality and
// key state, and can throttle, fail or stall on demand.
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeKeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

interface FakeKey {
  id: string;
  arn: string;
  state: FakeKeyState;
  material: Buffer;
}

export interface FakeKmsRequest {
  target: string;
  keyId?: string;
  encryptionContext?: Record<string, string>;
  status: number;
  errorType?: string;
}

export interface FakeKms {
  readonly url: string;
  readonly region: string;
  readonly requests: FakeKmsRequest[];
  createKey(opts?: { alias?: string }): { keyId: string; arn: string };
  setKeyState(keyId: string, state: FakeKeyState): void;
  /** The next n requests (any op) get ThrottlingException. */
  throttleNext(n: number): void;
  /** The next n requests get HTTP 500 KMSInternalException. */
  failNext(n: number): void;
  /** While true, every request gets AccessDeniedException (the role lost kms:* on the key). */
  denyAll: boolean;
  /** Added latency per request, in ms. */
  delayMs: number;
  /** Stops listening (connections refused, as in an outage); keys and aliases are kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const ACCOUNT = '111122223333';
const BLOB_VERSION = 1;

function canonical(ctx: Record<string, string> | undefined): Buffer {
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(ctx ?? {}).sort()) sorted[k] = ctx![k]!;
  return Buffer.from(JSON.stringify(sorted));
}

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export async function startFakeKms(opts: { region?: string } = {}): Promise<FakeKms> {
  const region = opts.region ?? 'ap-northeast-2';
  const keys = new Map<string, FakeKey>();
  const aliases = new Map<string, string>();
  const requests: FakeKmsRequest[] = [];
  let throttle = 0;
  let fail = 0;

  function resolve(keyId: unknown): FakeKey {
    if (typeof keyId !== 'string' || keyId.length === 0) throw new KmsError('ValidationException', 'KeyId is required');
    let id = keyId;
    if (id.startsWith(`arn:aws:kms:${region}:${ACCOUNT}:key/`)) id = id.split('/')[1]!;
    else if (id.startsWith(`arn:aws:kms:${region}:${ACCOUNT}:alias/`)) id = aliases.get(id.split(':').pop()!) ?? '';
    else if (id.startsWith('alias/')) id = aliases.get(id) ?? '';
    const key = keys.get(id);
    if (!key) throw new KmsError('NotFoundException', `Key '${keyId}' does not exist`);
    return key;
  }

  function usable(key: FakeKey): void {
    if (key.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }

  function b64(v: unknown, field: string): Buffer {
    if (typeof v !== 'string') throw new KmsError('ValidationException', `${field} is required`);
    return Buffer.from(v, 'base64');
  }

  function context(v: unknown): Record<string, string> | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Object.values(v).some((x) => typeof x !== 'string'))
      throw new KmsError('ValidationException', 'bad EncryptionContext');
    return v as Record<string, string>;
  }

  function encrypt(key: FakeKey, plaintext: Buffer, ctx: Record<string, string> | undefined): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key.material, iv);
    c.setAAD(canonical(ctx));
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    return Buffer.concat([Buffer.from([BLOB_VERSION]), Buffer.from(key.id, 'ascii'), iv, c.getAuthTag(), ct]);
  }

  function decrypt(blob: Buffer, ctx: Record<string, string> | undefined, keyIdParam: unknown): { key: FakeKey; plaintext: Buffer } {
    if (blob.length < 1 + 36 + 12 + 16 + 1 || blob[0] !== BLOB_VERSION) throw new KmsError('InvalidCiphertextException', '');
    const key = keys.get(blob.subarray(1, 37).toString('ascii'));
    if (!key) throw new KmsError('InvalidCiphertextException', '');
    if (keyIdParam !== undefined && resolve(keyIdParam).id !== key.id)
      throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
    usable(key);
    try {
      const d = createDecipheriv('aes-256-gcm', key.material, blob.subarray(37, 49));
      d.setAAD(canonical(ctx));
      d.setAuthTag(blob.subarray(49, 65));
      return { key, plaintext: Buffer.concat([d.update(blob.subarray(65)), d.final()]) };
    } catch {
      // What real KMS says when the encryption context differs.
      throw new KmsError('InvalidCiphertextException', '');
    }
  }

  function handle(target: string, body: Record<string, unknown>, log: FakeKmsRequest): Record<string, unknown> {
    const ctx = context(body.EncryptionContext);
    if (ctx) log.encryptionContext = ctx;
    if (typeof body.KeyId === 'string') log.keyId = body.KeyId;
    switch (target) {
      case 'TrentService.GenerateDataKey': {
        const key = resolve(body.KeyId);
        usable(key);
        const n = body.KeySpec === 'AES_256' ? 32 : body.KeySpec === 'AES_128' ? 16 : typeof body.NumberOfBytes === 'number' ? body.NumberOfBytes : 0;
        if (n < 1 || n > 1024) throw new KmsError('ValidationException', 'KeySpec or NumberOfBytes is required');
        const plaintext = randomBytes(n);
        return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), CiphertextBlob: encrypt(key, plaintext, ctx).toString('base64') };
      }
      case 'TrentService.Encrypt': {
        const key = resolve(body.KeyId);
        usable(key);
        return {
          KeyId: key.arn,
          CiphertextBlob: encrypt(key, b64(body.Plaintext, 'Plaintext'), ctx).toString('base64'),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      }
      case 'TrentService.Decrypt': {
        const { key, plaintext } = decrypt(b64(body.CiphertextBlob, 'CiphertextBlob'), ctx, body.KeyId);
        return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      }
      case 'TrentService.DescribeKey': {
        const key = resolve(body.KeyId);
        return {
          KeyMetadata: {
            AWSAccountId: ACCOUNT,
            KeyId: key.id,
            Arn: key.arn,
            KeyState: key.state,
            Enabled: key.state === 'Enabled',
            KeyUsage: 'ENCRYPT_DECRYPT',
            KeySpec: 'SYMMETRIC_DEFAULT',
            KeyManager: 'CUSTOMER',
            Origin: 'AWS_KMS',
            CreationDate: 1_700_000_000,
          },
        };
      }
      default:
        throw new KmsError('UnknownOperationException', '');
    }
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    const bytes = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': bytes.length, 'x-amzn-requestid': randomUUID() });
    res.end(bytes);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const log: FakeKmsRequest = { target, status: 200 };
    requests.push(log);
    // Unref'd: a delayed answer nobody waits for any more does not keep the test process alive.
    if (fake.delayMs > 0) await new Promise((r) => setTimeout(r, fake.delayMs).unref());
    try {
      if (req.method !== 'POST' || req.url !== '/') throw new KmsError('UnknownOperationException', '', 404);
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) throw new KmsError('SerializationException', 'bad content-type');
      const auth = String(req.headers.authorization ?? '');
      if (!auth.startsWith('AWS4-HMAC-SHA256 Credential=') || !auth.includes(`/${region}/kms/aws4_request`) || !req.headers['x-amz-date']) {
        throw new KmsError('IncompleteSignature', 'Request must be signed with SigV4 for kms');
      }
      if (fake.denyAll) throw new KmsError('AccessDeniedException', 'User is not authorized to perform this operation');
      if (throttle > 0) {
        throttle--;
        throw new KmsError('ThrottlingException', 'Rate exceeded');
      }
      if (fail > 0) {
        fail--;
        throw new KmsError('KMSInternalException', 'internal error', 500);
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        throw new KmsError('SerializationException', 'bad json');
      }
      send(res, 200, handle(target, body, log));
    } catch (err) {
      const e = err instanceof KmsError ? err : new KmsError('KMSInternalException', 'internal', 500);
      log.status = e.status;
      log.errorType = e.type;
      send(res, e.status, { __type: e.type, message: e.message });
    }
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  const fake: FakeKms = {
    url: `http://127.0.0.1:${port}`,
    region,
    requests,
    delayMs: 0,
    denyAll: false,
    createKey(o = {}) {
      const id = randomUUID();
      const key: FakeKey = { id, arn: `arn:aws:kms:${region}:${ACCOUNT}:key/${id}`, state: 'Enabled', material: randomBytes(32) };
      keys.set(id, key);
      if (o.alias) aliases.set(o.alias, id);
      return { keyId: id, arn: key.arn };
    },
    setKeyState(keyId, state) {
      resolve(keyId).state = state;
    },
    throttleNext(n) {
      throttle = n;
    },
    failNext(n) {
      fail = n;
    },
    async stop() {
      if (!server.listening) return;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
    async start() {
      if (server.listening) return;
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    },
    async close() {
      await fake.stop();
    },
  };
  return fake;
}

/**
 * The SDK's default credential chain reads these; the fake server only needs a
 * SigV4 signature. Restored when the test ends.
 */
export function useFakeAwsCredentials(t: { teardown(fn: () => void): void }): void {
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = 'AKIAFAKETESTKEY00001';
  process.env.AWS_SECRET_ACCESS_KEY = 'fake-secret-for-sigv4-only';
  t.teardown(() => {
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
  });
}
