// The CA key sealed by a PKCS#11 token (a throwaway SoftHSM2 token): kguard
// ca init --key-provider with vault.provider pkcs11 writes only ciphertext,
// and the CA loads through the token; without the token's key it does not.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { main } from '../../proxy/cli/index.js';
import { caFiles, loadCa } from '../../proxy/server/transparent/ca.js';
import { createLocalKeyProvider } from '../../proxy/vault/local-provider.js';
import { createPkcs11KeyProvider } from '../../proxy/vault/pkcs11-provider.js';
import { createSoftHsmToken } from '../helpers/softhsm.js';
import { capturingLogger } from '../helpers/vault-fixtures.js';

const dir = await mkdtemp(path.join(tmpdir(), 'kg-ca-hsm-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const token = await createSoftHsmToken(path.join(dir, 'hsm'));

t.test('kguard ca init --key-provider seals the CA key with the HSM key', async (t) => {
  const dataDir = path.join(dir, 'data');
  const configFile = path.join(dir, 'kguard.yaml');
  await writeFile(
    configFile,
    `dataDir: ${dataDir}\nvault:\n  provider: pkcs11\n  pkcs11: { module: ${token.module}, tokenLabel: ${token.tokenLabel}, pinFile: ${token.pinFile}, keyLabel: ${token.keyLabel} }\ntransparent:\n  caKeyStore: key-provider\n`,
  );
  const stdout = new PassThrough(),
    stderr = new PassThrough();
  let out = '',
    err = '';
  stdout.on('data', (c) => {
    out += String(c);
  });
  stderr.on('data', (c) => {
    err += String(c);
  });
  const code = await main(['ca', 'init', '--config', configFile, '--json'], { stdin: new PassThrough(), stdout, stderr, env: { SOFTHSM2_CONF: token.conf } });
  t.equal(code, 0, err);
  const files = caFiles(dataDir);
  await t.rejects(stat(files.keyFile), { code: 'ENOENT' }, 'no plaintext ca.key');
  const sealed = JSON.parse(await readFile(files.sealedKeyFile, 'utf8')) as { provider: string; sealed: string };
  t.equal(sealed.provider, 'pkcs11', 'wrapped by the token');
  t.notMatch(JSON.stringify(sealed), /BEGIN|PRIVATE KEY/);
  t.match(JSON.parse(out), { created: true, keyStore: 'key-provider' });

  const { logger, lines } = capturingLogger();
  const hsm = await createPkcs11KeyProvider({ module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, keyLabel: token.keyLabel, logger });
  t.teardown(() => hsm.close());
  const ca = await loadCa(dataDir, { keyStorage: { store: 'key-provider', provider: hsm } });
  t.equal(ca.fingerprint256, new X509Certificate(await readFile(files.certFile)).fingerprint256, 'loads through the token');

  const local = await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'local', 'master.key') });
  t.teardown(() => local.close());
  await t.rejects(loadCa(dataDir, { keyStorage: { store: 'key-provider', provider: local } }), { code: 'KG4001' }, 'another provider cannot open it');
  t.notMatch(lines() + out + err, /PRIVATE KEY|4711-test-pin/, 'neither the key nor the PIN logged or printed');
});
