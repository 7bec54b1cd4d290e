// The local CA: kguard ca init creates an ECDSA P-256 CA with its key at mode
// 0600 (checked on load), leaves carry Kiwoom's names and the sidecar's own,
// chain to the CA and are accepted by a TLS client that trusts only it.
import { X509Certificate, createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, createServer } from 'node:tls';
import t from 'tap';
import { initCa, issueLeaf, loadCa } from '../../proxy/server/transparent/ca.js';
import { cli } from '../cli/run-cli.js';

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kg-ca-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('kguard ca init creates the CA once and prints the certificate bots trust', async (t) => {
  const dataDir = path.join(dir, 'cli');
  const first = await cli(['ca', 'init', '--data-dir', dataDir]);
  t.equal(first.code, 0, first.err);
  const certFile = path.join(dataDir, 'ca', 'ca.pem');
  const keyFile = path.join(dataDir, 'ca', 'ca.key');
  t.match(first.out, '로컬 CA를 만들었습니다\n  봇이 신뢰할 인증서', 'in Korean, the configured language');
  t.match(first.out, certFile, 'prints the public certificate path');
  t.equal((await stat(keyFile)).mode & 0o777, 0o600, 'key is 0600');
  const key = await readFile(keyFile, 'utf8');
  t.notOk(first.out.includes(key.split('\n')[1]!), 'the key is not printed');
  const cert = new X509Certificate(await readFile(certFile));
  t.ok(cert.ca, 'a CA certificate');
  t.equal(cert.publicKey.asymmetricKeyType, 'ec');
  t.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'P-256');

  const again = await cli(['ca', 'init', '--data-dir', dataDir, '--json']);
  t.equal(again.code, 0);
  const j = JSON.parse(again.out) as { created: boolean; fingerprint256: string };
  t.equal(j.created, false, 'an existing CA is kept');
  t.equal(j.fingerprint256, cert.fingerprint256);

  const leafCert = path.join(dir, 'leaf.pem');
  const leafKey = path.join(dir, 'leaf.key');
  const issued = await cli(['ca', 'issue', '--data-dir', dataDir, '--cert-out', leafCert, '--key-out', leafKey, '--hours', '2']);
  t.equal(issued.code, 0, issued.err);
  t.equal((await stat(leafKey)).mode & 0o777, 0o600, 'leaf key is 0600');
  const leaf = new X509Certificate(await readFile(leafCert));
  t.ok(leaf.verify(cert.publicKey), 'the leaf is signed by the CA');
  t.ok(leaf.checkHost('api.kiwoom.com'), 'api.kiwoom.com');
  t.ok(leaf.checkHost('mockapi.kiwoom.com'), 'mockapi.kiwoom.com');
  t.ok(leaf.checkHost('localhost'), 'localhost');
  t.ok(leaf.checkIP('127.0.0.1'), '127.0.0.1');
  t.notOk(leaf.checkHost('example.com'), 'no other name');
  const hours = (Date.parse(leaf.validTo) - Date.now()) / 3_600_000;
  t.ok(hours > 1.5 && hours <= 2.1, `short lifetime (${hours.toFixed(2)} h)`);

  const shown = await cli(['ca', 'show', '--data-dir', dataDir]);
  t.equal(shown.code, 0);
  t.match(shown.out, `  지문          ${cert.fingerprint256}\n`);
  const shownEn = await cli(['ca', 'show', '--data-dir', dataDir, '--lang', 'en']);
  t.match(shownEn.out, `  fingerprint   ${cert.fingerprint256}\n`, 'in English with --lang en');
  const keptEn = await cli(['ca', 'init', '--data-dir', dataDir, '--lang', 'en']);
  t.match(keptEn.out, 'local CA already exists (kept; --force replaces it)\n');
});

t.test('a CA key readable by group or others is refused', async (t) => {
  const dataDir = path.join(dir, 'loose');
  const { ca } = await initCa(dataDir);
  await chmod(ca.files.keyFile, 0o644);
  await t.rejects(loadCa(dataDir), { code: 'KG4007' });
  const r = await cli(['ca', 'issue', '--data-dir', dataDir, '--cert-out', path.join(dir, 'x.pem'), '--key-out', path.join(dir, 'x.key')]);
  t.not(r.code, 0, 'issue refuses a loose CA key');
  t.match(r.err, 'KG4007');
  await chmod(ca.files.keyFile, 0o600);
  t.ok(await loadCa(dataDir), 'loads once tightened');
  await t.rejects(loadCa(path.join(dir, 'none')), { code: 'KG9003' }, 'no CA: a clear error');
});

t.test('a TLS client that trusts only the CA accepts the leaf; one that does not, refuses it', async (t) => {
  const { ca } = await initCa(path.join(dir, 'tls'));
  const leaf = await issueLeaf(ca, ['api.kiwoom.com', '127.0.0.1'], 3_600_000);
  const server = createServer({ cert: leaf.certPem, key: leaf.key }, (s) => s.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const ok = connect({ port, host: '127.0.0.1', servername: 'api.kiwoom.com', ca: ca.certPem });
  let text = '';
  ok.on('data', (d) => {
    text += String(d);
  });
  await once(ok, 'end');
  t.equal(text, 'ok', 'trusted');
  const bad = connect({ port, host: '127.0.0.1', servername: 'api.kiwoom.com' });
  const [err] = (await once(bad, 'error')) as [NodeJS.ErrnoException];
  t.match(err.code, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/, 'untrusted: refused by the client');
  t.ok(createPublicKey(ca.certPem), 'the CA certificate is plain PEM');
});
