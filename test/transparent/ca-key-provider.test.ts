// The CA key sealed by the key provider (transparent.caKeyStore: key-provider,
// kguard ca init --key-provider), with the local keyring: only ciphertext is
// written (no PEM, no key bytes in any encoding), the sealed key is bound to
// its CA certificate and to the master key, the two storage forms cannot be
// mixed up silently, and a sidecar that unseals it at start serves forward-
// proxy mode with the key in no log line and no audit record (canary).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CA_KEY_KIND } from '../../proxy/server/transparent/ca-key.js';
import { caFiles, initCa, loadCa } from '../../proxy/server/transparent/ca.js';
import { createLocalKeyProvider } from '../../proxy/vault/local-provider.js';
import { openSecret, parseSealedSecret } from '../../proxy/vault/secret-box.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { startHarness } from '../helpers/harness.js';
import { proxiedBot } from './helpers.js';
import { cli } from '../cli/run-cli.js';

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kg-ca-kp-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

/** Every encoding of the CA key a leak could take: DER hex and base64, and the PEM body lines. */
async function keyCanaries(dataDir: string): Promise<string[]> {
  const files = caFiles(dataDir);
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key'), createIfMissing: false });
  try {
    const cert = new X509Certificate(await readFile(files.certFile));
    const box = parseSealedSecret(await readFile(files.sealedKeyFile, 'utf8'), CA_KEY_KIND);
    const der = await openSecret(() => provider, box, { purpose: CA_KEY_KIND, ca: cert.fingerprint256 });
    try {
      const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      const pem = String(key.export({ type: 'pkcs8', format: 'pem' }));
      const raw = key.export({ format: 'jwk' }).d!; // the private scalar itself
      return [der.toString('hex'), der.toString('base64'), raw, ...pem.split('\n').filter((l) => l && !l.startsWith('-----'))];
    } finally {
      der.fill(0);
    }
  } finally {
    await provider.close();
  }
}

t.test('kguard ca init --key-provider writes only the sealed key; show and issue unseal it', async (t) => {
  const dataDir = path.join(dir, 'cli');
  const made = await cli(['ca', 'init', '--data-dir', dataDir, '--key-provider', '--json']);
  t.equal(made.code, 0, made.err);
  const summary = JSON.parse(made.out) as { created: boolean; keyFile: string; keyStore: string; certFile: string };
  const files = caFiles(dataDir);
  t.match(summary, { created: true, keyFile: files.sealedKeyFile, keyStore: 'key-provider', certFile: files.certFile });
  await t.rejects(stat(files.keyFile), { code: 'ENOENT' }, 'no plaintext ca.key');
  t.equal((await stat(files.sealedKeyFile)).mode & 0o777, 0o600, 'the sealed key is written 0600 all the same');
  const sealedText = await readFile(files.sealedKeyFile, 'utf8');
  t.notMatch(sealedText, /BEGIN|PRIVATE KEY/, 'no PEM in the file');
  t.match(JSON.parse(sealedText), { v: 1, kind: CA_KEY_KIND, provider: 'local', keyId: String, wrappedKey: String, sealed: String });

  const canaries = await keyCanaries(dataDir);
  t.ok(canaries.length >= 4);
  for (const c of canaries) {
    t.notOk(sealedText.includes(c), 'no encoding of the key in the sealed file');
    t.notOk(made.out.includes(c) || made.err.includes(c), 'none printed');
  }

  const again = await cli(['ca', 'init', '--data-dir', dataDir, '--key-provider', '--json']);
  t.equal(again.code, 0, again.err);
  t.equal((JSON.parse(again.out) as { created: boolean }).created, false, 'an existing sealed CA is kept');

  const shown = await cli(['ca', 'show', '--data-dir', dataDir, '--key-provider']);
  t.equal(shown.code, 0, shown.err);
  const cert = new X509Certificate(await readFile(files.certFile));
  t.match(shown.out, cert.fingerprint256);

  const leafCert = path.join(dir, 'leaf.pem');
  const issued = await cli(['ca', 'issue', '--data-dir', dataDir, '--key-provider', '--cert-out', leafCert, '--key-out', path.join(dir, 'leaf.key')]);
  t.equal(issued.code, 0, issued.err);
  t.ok(new X509Certificate(await readFile(leafCert)).verify(cert.publicKey), 'a leaf signed by the unsealed CA key');
  for (const c of canaries) t.notOk(shown.out.includes(c) || issued.out.includes(c) || issued.err.includes(c), 'none printed');

  const asFile = await cli(['ca', 'show', '--data-dir', dataDir]);
  t.not(asFile.code, 0, 'loaded as a file CA: refused');
  t.match(asFile.err, /KG9003[\s\S]*caKeyStore: key-provider/, 'the error names the setting it needs');
});

t.test('the sealed key is bound to its certificate and to the master key; the plaintext form is refused beside it', async (t) => {
  const dataDir = path.join(dir, 'bound');
  const masterKeyFile = path.join(dataDir, 'master.key');
  const provider = await createLocalKeyProvider({ masterKeyFile });
  t.teardown(() => provider.close());
  const keyStorage = { store: 'key-provider' as const, provider };
  const { ca } = await initCa(dataDir, { keyStorage });
  t.ok(await loadCa(dataDir, { keyStorage }), 'loads');

  // Another CA's certificate beside this sealed key: the context (the certificate's fingerprint) differs.
  const other = await initCa(path.join(dir, 'other'), { keyStorage });
  await copyFile(ca.files.certFile, `${ca.files.certFile}.keep`);
  await copyFile(other.ca.files.certFile, ca.files.certFile);
  await t.rejects(loadCa(dataDir, { keyStorage }), { code: 'KG4004' }, 'the sealed key does not open for another certificate');
  await copyFile(`${ca.files.certFile}.keep`, ca.files.certFile);

  // Another master key: unwrap fails.
  const stranger = await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'stranger', 'master.key') });
  t.teardown(() => stranger.close());
  await t.rejects(loadCa(dataDir, { keyStorage: { store: 'key-provider', provider: stranger } }), { code: 'KG4004' }, 'another master key cannot open it');

  // Altered ciphertext.
  const box = JSON.parse(await readFile(ca.files.sealedKeyFile, 'utf8')) as { sealed: string };
  const good = box.sealed;
  const bytes = Buffer.from(good, 'base64');
  bytes[bytes.length - 1]! ^= 1;
  await writeFile(ca.files.sealedKeyFile, JSON.stringify({ ...box, sealed: bytes.toString('base64') }), { mode: 0o600 });
  await t.rejects(loadCa(dataDir, { keyStorage }), { code: 'KG4004' }, 'a flipped bit is refused');
  await writeFile(ca.files.sealedKeyFile, JSON.stringify({ ...box, sealed: good }), { mode: 0o600 });
  t.ok(await loadCa(dataDir, { keyStorage }), 'restored');

  // A plaintext key beside the sealed one: fail closed rather than pick one.
  await writeFile(ca.files.keyFile, 'not even a key\n', { mode: 0o600 });
  await t.rejects(loadCa(dataDir, { keyStorage }), { code: 'KG9003', detail: /plaintext CA key is present/ });
  await unlink(ca.files.keyFile);

  // No provider given for key-provider storage.
  await t.rejects(loadCa(dataDir, { keyStorage: { store: 'key-provider' } }), { code: 'KG9003' });

  // Re-initialising as a file CA replaces the sealed form (and the other way round, the plaintext file is destroyed).
  const asFile = await initCa(dataDir, { force: true });
  t.ok((await stat(asFile.ca.files.keyFile)).isFile(), 'file form written');
  await t.rejects(stat(asFile.ca.files.sealedKeyFile), { code: 'ENOENT' }, 'sealed form removed');
  await initCa(dataDir, { force: true, keyStorage });
  await t.rejects(stat(asFile.ca.files.keyFile), { code: 'ENOENT' }, 'plaintext form destroyed when sealing');
});

t.test('a sidecar with caKeyStore key-provider serves forward-proxy mode; the CA key appears in no log or audit record', async (t) => {
  const base = path.join(dir, 'sidecar');
  const masterKeyFile = path.join(base, 'master.key');
  const caDir = path.join(base, 'ca');
  const made = await cli(['ca', 'init', '--data-dir', base, '--key-provider', '--json']);
  t.equal(made.code, 0, made.err);
  const h = await startHarness({
    config: { vault: { local: { masterKeyFile } }, transparent: { enabled: true, caDir, caKeyStore: 'key-provider' } },
  });
  t.teardown(() => h.close());
  const { bot, token, tokenReply: tok } = await proxiedBot(t, h.url, await readFile(path.join(caDir, 'ca.pem'), 'utf8'), h.botId, h.botSecret);
  const quote = await bot.call('/api/dostk/stkinfo', 'ka10001', token, { stk_cd: '005930' });
  t.equal(quote.json.return_code, 0, quote.text);
  t.match(h.logs(), /"caKeyStore":"key-provider"/, 'the start is logged with the storage form');

  const canaries = await keyCanaries(base);
  const logs = h.logs();
  const records = JSON.stringify(await readAuditRecords(path.join(h.dataDir, 'audit')));
  for (const c of canaries) {
    t.notOk(logs.includes(c), 'no encoding of the CA key in the logs');
    t.notOk(records.includes(c), 'none in the audit trail');
    t.notOk(tok.text.includes(c) || quote.text.includes(c), 'none in a response');
  }
});
