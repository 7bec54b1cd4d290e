// The aws-kms provider against a KMS JSON 1.1 wire-protocol server: the real
// SDK client signs, serialises, retries and maps errors.
import t from 'tap';
import type { Test } from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GuardError } from '../../proxy/common/errors.js';
import { createKeyProvider, createLocalKeyProvider, createVault, parseVaultConfig } from '../../proxy/vault/index.js';
import { startFakeKms } from '../helpers/fake-kms.js';
import { FAKE_CREDS, startKmsVault } from '../helpers/kms-vault.js';
import { CANARY_APP_KEY, CANARY_SECRET_KEY, canaryBuffers, capturingLogger, containsSecret, freshRegistry, tempDir } from '../helpers/vault-fixtures.js';

const setup = (t: Test, awsKms: Record<string, unknown> = {}) => startKmsVault(t, { awsKms });

t.test('GenerateDataKey and Decrypt carry the per-record encryption context', async (t) => {
  const { fake, key, vault, registry, provider, log } = await setup(t);
  await vault.health();
  t.equal(provider.describe().keyId, key.arn, 'alias resolved to the key ARN');
  const meta = await vault.importCredentials({ botId: 'kbot', account: 'acct9', ...canaryBuffers() });
  t.equal(meta.provider, 'aws-kms');
  t.equal(meta.keyId, key.arn);
  t.equal(await vault.withCredentials('kbot', 'call', async (c) => c.secretKey.toString()), CANARY_SECRET_KEY);
  const gen = fake.requests.find((r) => r.target === 'TrentService.GenerateDataKey')!;
  const dec = fake.requests.find((r) => r.target === 'TrentService.Decrypt')!;
  const expected = { botId: 'kbot', account: 'acct9', keyVersion: '1', createdAt: meta.createdAt };
  t.same(gen.encryptionContext, expected);
  t.same(dec.encryptionContext, expected);
  t.equal(dec.keyId, key.arn, 'Decrypt names the key');
  const m = await registry.metrics();
  t.match(m, /kguard_kms_requests_total\{op="GenerateDataKey",outcome="ok"\} 1/);
  t.match(m, /kguard_kms_requests_total\{op="Decrypt",outcome="ok"\} 1/);
  t.match(m, /kguard_kms_request_duration_seconds_count\{op="Decrypt"\} 1/);
  t.notOk(containsSecret(log.lines(), CANARY_APP_KEY));
});

t.test('throttling is retried with backoff; beyond maxAttempts it fails closed', async (t) => {
  const { fake, vault, registry } = await setup(t);
  await vault.importCredentials({ botId: 'tb', account: 'a', ...canaryBuffers() });
  fake.throttleNext(2);
  t.equal(await vault.withCredentials('tb', 'call', async (c) => c.appKey.toString()), CANARY_APP_KEY, 'succeeds on the third attempt');
  t.match(await registry.metrics(), /kguard_kms_retries_total\{op="Decrypt"\} 2/);
  fake.throttleNext(3);
  let ran = false;
  await t.rejects(
    vault.withCredentials('tb', 'call', async () => {
      ran = true;
    }),
    { code: 'KG4001', detail: 'kms Decrypt: ThrottlingException' },
  );
  t.notOk(ran, 'nothing runs without keys');
  t.match(await registry.metrics(), /kguard_kms_requests_total\{op="Decrypt",outcome="throttled"\} 1/);
  fake.failNext(1);
  t.equal(await vault.withCredentials('tb', 'call', async () => 'ok'), 'ok', '5xx retried');
  fake.failNext(5);
  await t.rejects(
    vault.withCredentials('tb', 'call', async () => 'x'),
    { code: 'KG4001', detail: 'kms Decrypt: KMSInternalException' },
  );
  t.match(await registry.metrics(), /kguard_vault_decrypts_total\{purpose="call",outcome="error"\} 2/);
});

t.test('key state and context are enforced; failures map to KG4001 / KG4004', async (t) => {
  const { fake, key, vault, dataDir } = await setup(t);
  await vault.importCredentials({ botId: 'sb', account: 'a', ...canaryBuffers() });
  fake.setKeyState(key.keyId, 'Disabled');
  await t.rejects(
    vault.withCredentials('sb', 'call', async () => 1),
    { code: 'KG4001', detail: 'kms Decrypt: DisabledException' },
  );
  await t.rejects(vault.health(), { code: 'KG4001', detail: 'kms key state Disabled' });
  await t.rejects(vault.importCredentials({ botId: 'sb2', account: 'a', ...canaryBuffers() }), { code: 'KG4001' });
  fake.setKeyState(key.keyId, 'PendingDeletion');
  await t.rejects(
    vault.withCredentials('sb', 'call', async () => 1),
    { code: 'KG4001', detail: 'kms Decrypt: KMSInvalidStateException' },
  );
  fake.setKeyState(key.keyId, 'Enabled');
  await vault.health();
  const file = path.join(dataDir, 'credentials', 'sb.json');
  const r = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, JSON.stringify({ ...r, account: 'other' }));
  await t.rejects(
    vault.withCredentials('sb', 'call', async () => 1),
    { code: 'KG4004', detail: 'kms Decrypt: InvalidCiphertextException' },
  );
  const other = fake.createKey();
  await writeFile(file, JSON.stringify({ ...r, keyId: other.arn }));
  await t.rejects(
    vault.withCredentials('sb', 'call', async () => 1),
    { code: 'KG4004', detail: 'kms Decrypt: IncorrectKeyException' },
  );
});

t.test('KMS outage and time-outs fail closed', async (t) => {
  const { fake, vault } = await setup(t, { requestTimeoutMs: 200, maxAttempts: 2 });
  await vault.importCredentials({ botId: 'ob', account: 'a', ...canaryBuffers() });
  // Unbounded, the two attempts would take 20 s; each is cut at 200 ms.
  fake.delayMs = 10_000;
  const started = Date.now();
  await t.rejects(
    vault.withCredentials('ob', 'call', async () => 1),
    { code: 'KG4001' },
  );
  t.ok(Date.now() - started < 10_000, `bounded by the request time-out (${Date.now() - started} ms)`);
  fake.delayMs = 0;
  await fake.close();
  await t.rejects(
    vault.withCredentials('ob', 'call', async () => 1),
    { code: 'KG4001' },
  );
  await t.rejects(vault.health(), { code: 'KG4001' });
});

t.test('rewrap local -> aws-kms: records move one by one and stay readable', async (t) => {
  const fake = await startFakeKms();
  t.teardown(() => fake.close());
  const key = fake.createKey({ alias: 'alias/move' });
  const dataDir = await tempDir(t);
  const registry = freshRegistry();
  const { logger, lines } = capturingLogger();
  const local = await createVault({ dataDir, provider: await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') }), registry, logger });
  for (let i = 0; i < 4; i++) await local.importCredentials({ botId: `m${i}`, account: 'a', ...canaryBuffers(String(i)) });
  await local.close();
  const cfg = parseVaultConfig(
    { provider: 'aws-kms', readProviders: ['local'], awsKms: { keyId: 'alias/move', region: fake.region, endpoint: fake.url } },
    dataDir,
  );
  const kms = await createKeyProvider(cfg, { logger, registry, awsCredentials: FAKE_CREDS });
  const vault = await createVault({ dataDir, provider: kms, readProviders: [await createKeyProvider(cfg, { logger, registry }, 'local')], registry, logger });
  t.teardown(() => vault.close());
  let n = 0;
  await t.rejects(
    vault.rewrapAll({
      onRecord: () => {
        if (++n === 2) throw new Error('interrupted');
      },
    }),
    /interrupted/,
  );
  t.same(
    (await vault.list()).map((m) => m.provider),
    ['aws-kms', 'aws-kms', 'local', 'local'],
  );
  const report = await vault.rewrapAll();
  t.ok(report.resumed);
  t.same(report.rewrapped, ['m2', 'm3']);
  t.ok((await vault.list()).every((m) => m.provider === 'aws-kms' && m.keyId === key.arn));
  for (let i = 0; i < 4; i++) t.equal(await vault.withCredentials(`m${i}`, 'call', async (c) => c.appKey.toString()), CANARY_APP_KEY + i);
  t.notOk(containsSecret(lines(), CANARY_APP_KEY));
  t.ok(fake.requests.filter((r) => r.target === 'TrentService.GenerateDataKey').length === 4);
});

t.test('config errors are clear', async (t) => {
  const dir = await tempDir(t);
  t.throws(() => parseVaultConfig({ provider: 'aws-kms' }, dir), { code: 'KG4005', message: /awsKms/ });
  t.throws(() => parseVaultConfig({ provider: 'vaultx' }, dir), { code: 'KG4005', message: /provider/ });
  t.throws(() => parseVaultConfig({ awsKms: { keyId: 'k' } }, dir), { code: 'KG4005', message: /region/ });
  t.throws(() => parseVaultConfig({ awsKms: { keyId: 'k', region: 'r', endpoint: 'ftp://x' } }, dir), { code: 'KG4005', message: /endpoint/ });
  t.throws(() => parseVaultConfig({ cache: { maxUses: 0 } }, dir), { code: 'KG4005', message: /cache.maxUses/ });
  t.throws(() => parseVaultConfig({ bogus: 1 }, dir), { code: 'KG4005', message: /bogus/ });
  t.throws(() => parseVaultConfig({ pkcs11: { module: 'm', pinFile: 'p', keyLabel: 'k' } }, dir), { code: 'KG4005', message: /slot or tokenLabel/ });
  const d = parseVaultConfig(undefined, dir);
  t.same(d, {
    provider: 'local',
    readProviders: [],
    local: { masterKeyFile: path.join(dir, 'master.key') },
    cache: { enabled: false, maxAgeMs: 60_000, maxUses: 100, maxEntries: 100 },
    limits: { minKeyBytes: 8, maxKeyBytes: 512 },
    lock: { timeoutMs: 5_000, staleMs: 30_000 },
    records: { enabled: true, watch: true, revalidateMs: 250, maxStaleMs: 1_000 },
    healthProbeMs: 10_000,
  });
  t.equal(parseVaultConfig({ healthProbeMs: 500 }, dir).healthProbeMs, 500, "/readyz's provider probe interval is a knob");
  t.throws(() => parseVaultConfig({ healthProbeMs: 0 }, dir), { code: 'KG4005', message: /vault\.healthProbeMs: must be an integer from 100 to 600000/ });
  t.ok(GuardError);
});
