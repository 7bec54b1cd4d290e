// The pkcs11 provider against a real SoftHSM2 token created for this run.
import t from 'tap';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { createKeyProvider, createLocalKeyProvider, createVault, parseVaultConfig } from '../../proxy/vault/index.js';
import { createPkcs11KeyProvider, createPkcs11WrappingKey } from '../../proxy/vault/pkcs11-provider.js';
import { createSoftHsmToken } from '../helpers/softhsm.js';
import { CANARY_APP_KEY, CANARY_SECRET_KEY, canaryBuffers, capturingLogger, containsSecret, freshRegistry, tempDir } from '../helpers/vault-fixtures.js';

const hsmDir = await tempDir(t, 'kguard-hsm-');
const token = await createSoftHsmToken(hsmDir);
// A second key on the same token that could leave it: the provider must refuse it.
const leakyLabel = 'leaky';
{
  const lib = new pkcs11js.PKCS11();
  lib.load(token.module);
  lib.C_Initialize();
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.tokenLabel)!;
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  lib.C_Login(session, pkcs11js.CKU_USER, (await readFile(token.pinFile, 'utf8')).trim());
  lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: leakyLabel },
    { type: pkcs11js.CKA_SENSITIVE, value: false },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
  ]);
  lib.C_CloseSession(session);
  lib.C_Finalize();
  lib.close();
}

function cfgFor(dataDir: string, extra: Record<string, unknown> = {}) {
  return parseVaultConfig(
    { provider: 'pkcs11', pkcs11: { module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, keyLabel: token.keyLabel, ...extra } },
    dataDir,
  );
}

t.test('credentials wrapped by a non-extractable AES key inside the token', async (t) => {
  const dataDir = await tempDir(t);
  const registry = freshRegistry();
  const log = capturingLogger();
  const provider = await createKeyProvider(cfgFor(dataDir), { logger: log.logger, registry });
  const vault = await createVault({ dataDir, provider, registry, logger: log.logger });
  t.teardown(() => vault.close());
  await vault.health();
  const meta = await vault.importCredentials({ botId: 'hbot', account: 'acct', ...canaryBuffers() });
  t.equal(meta.provider, 'pkcs11');
  t.equal(meta.keyId, 'pkcs11:kguard-wrap');
  t.equal(await vault.withCredentials('hbot', 'call', async (c) => `${c.appKey}|${c.secretKey}`), `${CANARY_APP_KEY}|${CANARY_SECRET_KEY}`);
  // The context is bound: a record edited to another account does not open.
  const file = path.join(dataDir, 'credentials', 'hbot.json');
  const r = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, JSON.stringify({ ...r, account: 'other' }));
  await t.rejects(
    vault.withCredentials('hbot', 'call', async () => 1),
    { code: 'KG4004' },
  );
  await writeFile(file, JSON.stringify(r));
  t.equal(await vault.withCredentials('hbot', 'revoke', async (c) => c.appKey.toString()), CANARY_APP_KEY, 'session still usable after a failed decrypt');
  const ctx = { botId: 'x', account: 'y', keyVersion: '1', createdAt: 'z' };
  const { plaintext, wrapped } = await provider.generateDataKey(ctx);
  t.ok((await provider.unwrap(wrapped, ctx)).equals(plaintext));
  await t.rejects(provider.unwrap({ ...wrapped, keyId: 'pkcs11:other' }, ctx), { code: 'KG4001' });
  const blob = Buffer.from(wrapped.ciphertext, 'base64');
  blob[20]! ^= 1;
  await t.rejects(provider.unwrap({ ...wrapped, ciphertext: blob.toString('base64') }, ctx), { code: 'KG4004' });
  t.notOk(containsSecret(log.lines(), CANARY_APP_KEY));
  t.notOk(containsSecret(await readFile(file), CANARY_SECRET_KEY));
});

t.test('refuses keys that could leave the token, wrong PINs and unsafe PIN files', async (t) => {
  const { logger } = capturingLogger();
  const base = { module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, logger };
  await t.rejects(createPkcs11KeyProvider({ ...base, keyLabel: leakyLabel }), { code: 'KG4005', detail: 'PKCS#11 key must be sensitive and non-extractable' });
  await t.rejects(createPkcs11KeyProvider({ ...base, keyLabel: 'absent' }), { code: 'KG4005', detail: 'PKCS#11 key not found' });
  await t.rejects(createPkcs11KeyProvider({ ...base, keyLabel: token.keyLabel, tokenLabel: 'no-such-token' }), { code: 'KG4001' });
  const dir = await tempDir(t);
  const badPin = path.join(dir, 'bad.pin');
  await writeFile(badPin, 'wrong-pin\n', { mode: 0o600 });
  await t.rejects(createPkcs11KeyProvider({ ...base, keyLabel: token.keyLabel, pinFile: badPin }), { code: 'KG4001', detail: /CKR_PIN_INCORRECT/ });
  await chmod(badPin, 0o644);
  await t.rejects(createPkcs11KeyProvider({ ...base, keyLabel: token.keyLabel, pinFile: badPin }), { code: 'KG4007' });
  await t.rejects(createPkcs11WrappingKey({ module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, keyLabel: token.keyLabel }), {
    code: 'KG4005',
  });
  await t.rejects(createPkcs11KeyProvider({ ...base, keyLabel: token.keyLabel, module: '/nonexistent/libp11.so' }), { code: 'KG4005' });
});

t.test('several providers share the module; closing one leaves the others working', async (t) => {
  const { logger } = capturingLogger();
  const opts = { module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, keyLabel: token.keyLabel, logger };
  const a = await createPkcs11KeyProvider(opts);
  const b = await createPkcs11KeyProvider(opts);
  const ctx = { botId: 'b', account: 'a', keyVersion: '1', createdAt: 'c' };
  const { plaintext, wrapped } = await a.generateDataKey(ctx);
  await a.close();
  await t.rejects(a.unwrap(wrapped, ctx), { code: 'KG4001' });
  t.ok((await b.unwrap(wrapped, ctx)).equals(plaintext), 'b still works after a closed');
  await b.health();
  await b.close();
  const c = await createPkcs11KeyProvider(opts);
  t.ok((await c.unwrap(wrapped, ctx)).equals(plaintext), 're-initialises after every provider closed');
  await c.close();
});

t.test('rewrap local -> pkcs11 with interruption, then back to local', async (t) => {
  const dataDir = await tempDir(t);
  const registry = freshRegistry();
  const { logger } = capturingLogger();
  const masterKeyFile = path.join(dataDir, 'master.key');
  const v0 = await createVault({ dataDir, provider: await createLocalKeyProvider({ masterKeyFile }), registry, logger });
  for (let i = 0; i < 5; i++) await v0.importCredentials({ botId: `p${i}`, account: 'a', ...canaryBuffers(String(i)) });
  await v0.close();
  const cfg = cfgFor(dataDir);
  const v1 = await createVault({
    dataDir,
    provider: await createKeyProvider(cfg, { logger, registry }),
    readProviders: [await createLocalKeyProvider({ masterKeyFile })],
    registry,
    logger,
  });
  let n = 0;
  await t.rejects(
    v1.rewrapAll({
      onRecord: () => {
        if (++n === 3) throw new Error('crash');
      },
    }),
    /crash/,
  );
  const r = await v1.rewrapAll();
  t.ok(r.resumed);
  t.same(r.rewrapped, ['p3', 'p4']);
  t.ok((await v1.list()).every((m) => m.provider === 'pkcs11'));
  for (let i = 0; i < 5; i++) t.equal(await v1.withCredentials(`p${i}`, 'call', async (c) => c.appKey.toString()), CANARY_APP_KEY + i);
  await v1.close();
  const v2 = await createVault({
    dataDir,
    provider: await createLocalKeyProvider({ masterKeyFile }),
    readProviders: [await createKeyProvider(cfg, { logger, registry })],
    registry,
    logger,
  });
  t.teardown(() => v2.close());
  t.equal((await v2.rewrapAll()).rewrapped.length, 5);
  for (let i = 0; i < 5; i++) t.equal(await v2.withCredentials(`p${i}`, 'call', async (c) => c.secretKey.toString()), CANARY_SECRET_KEY + i);
});
