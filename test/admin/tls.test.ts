// Optional TLS on the bot and admin listeners (listen.tls, admin.tls): a
// certificate signed by a test CA made here with the openssl CLI, clients
// (undici, node:tls) trusting only that CA, and a rotation of the files on
// disk that new connections pick up without a restart. A key file readable by
// group or others is refused at start and on rotation; so is a key that does
// not match its certificate, and the certificate in force stays.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { Registry } from 'prom-client';
import t from 'tap';
import { Agent, getGlobalDispatcher, request, setGlobalDispatcher } from 'undici';
import { createLogger } from '../../proxy/common/logger.js';
import { createListenerServerFactory } from '../../proxy/common/tls-server.js';
import { startHarness, waitFor } from '../helpers/harness.js';

const dir = await mkdtemp(path.join(tmpdir(), 'kguard-tls-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

openssl('req', '-x509', ...P256, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=kguard test CA');
await writeFile(path.join(dir, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
/** A leaf for 127.0.0.1 signed by the test CA; returns its PEM files' paths and its fingerprint. */
function leaf(name: string): { cert: string; key: string; fingerprint: string } {
  openssl('req', ...P256, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=kguard ${name}`);
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'leaf.ext',
    '-out',
    `${name}.pem`,
  );
  const cert = path.join(dir, `${name}.pem`);
  return { cert, key: path.join(dir, `${name}.key`), fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 };
}
const A = leaf('a');
const B = leaf('b');
const C = leaf('c');
const ca = await readFile(path.join(dir, 'ca.pem'));

// Where the listeners read their pair; rotations are atomic renames over these names, as a deploy tool does.
const CERT = path.join(dir, 'server.pem');
const KEY = path.join(dir, 'server.key');
async function install(pair: { cert: string; key: string }, keyMode = 0o600, which: 'both' | 'cert' | 'key' = 'both'): Promise<void> {
  if (which !== 'key') {
    await writeFile(`${CERT}.tmp`, await readFile(pair.cert));
    await rename(`${CERT}.tmp`, CERT);
  }
  if (which !== 'cert') {
    await writeFile(`${KEY}.tmp`, await readFile(pair.key), { mode: 0o600 });
    await chmod(`${KEY}.tmp`, keyMode);
    await rename(`${KEY}.tmp`, KEY);
  }
}

/** The fingerprint a fresh TLS connection is shown, trusting only the test CA (hostname checked against the SAN). */
function servedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

t.test('start refuses a loose key file and a key that is not the certificate’s', async (t) => {
  const deps = { logger: createLogger({ level: 'silent' }), registry: new Registry() };
  await install(A, 0o644);
  await t.rejects(createListenerServerFactory('bot', { certFile: CERT, keyFile: KEY, reloadIntervalMs: 1000 }, deps), { code: 'KG4007' }, 'mode 0644');
  await install(A, 0o640);
  await t.rejects(createListenerServerFactory('bot', { certFile: CERT, keyFile: KEY, reloadIntervalMs: 1000 }, deps), { code: 'KG4007' }, 'mode 0640');
  await install({ cert: A.cert, key: B.key });
  await t.rejects(createListenerServerFactory('bot', { certFile: CERT, keyFile: KEY, reloadIntervalMs: 1000 }, deps), { code: 'KG9003' }, 'mismatched pair');
  await install(A, 0o400);
  const f = await createListenerServerFactory('bot', { certFile: CERT, keyFile: KEY, reloadIntervalMs: 1000 }, deps);
  t.equal(f.scheme, 'https', 'mode 0400 is fine');
  f.close();
});

t.test('both listeners serve TLS and pick up a rotated certificate without a restart', async (t) => {
  const before = getGlobalDispatcher();
  // The harness's own calls (token exchange, bot calls, admin calls) trust the test CA and nothing else.
  // pipelining 0: no kept-alive sockets, so every call is a new TLS connection (and none is closed under a request).
  setGlobalDispatcher(new Agent({ connect: { ca }, pipelining: 0 }));
  t.teardown(() => setGlobalDispatcher(before));
  await install(A);
  const tls = { certFile: CERT, keyFile: KEY, reloadIntervalMs: 20 };
  const h = await startHarness({ config: { listen: { tls }, admin: { tls } } });
  t.teardown(() => h.close());
  t.match(h.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.match(h.adminUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.equal(await servedFingerprint(h.url), A.fingerprint, 'bot listener: certificate A');
  t.equal(await servedFingerprint(h.adminUrl), A.fingerprint, 'admin listener: certificate A');
  t.equal((await h.call('ka10001', { stk_cd: '005930' })).json.return_code, 0, 'a bot call over TLS');
  const token = await h.adminToken('alice', 'admin');
  t.equal((await h.admin('GET', '/admin/v1/bots', token)).status, 200, 'an admin call over TLS');
  await t.rejects(request(`${h.url.replace('https:', 'http:')}/oauth2/token`, { method: 'POST', body: '{}' }), 'no plain HTTP on the TLS port');

  await install(B);
  await waitFor(async () => (await servedFingerprint(h.url)) === B.fingerprint, 10_000, 'bot listener serving B');
  await waitFor(async () => (await servedFingerprint(h.adminUrl)) === B.fingerprint, 10_000, 'admin listener serving B');
  t.pass('new connections get certificate B');
  t.equal((await h.call('ka10001', { stk_cd: '005930' })).json.return_code, 0, 'bot calls go on');
  const metrics = await (await request(`${h.adminUrl}/metrics`)).body.text();
  t.match(metrics, /^kguard_tls_reloads_total\{listener="bot",result="ok"\} 1$/m);
  t.match(metrics, /^kguard_tls_reloads_total\{listener="admin",result="ok"\} 1$/m);
  const notAfter = Math.floor(Date.parse(new X509Certificate(await readFile(B.cert)).validTo) / 1000);
  t.match(metrics, new RegExp(`^kguard_tls_certificate_expiry_timestamp_seconds\\{listener="bot"\\} ${notAfter}$`, 'm'));
  t.match(h.logs(), /"msg":"TLS certificate reloaded; new connections use it"/);

  // A rotation that cannot load keeps B in force: a loose key file, then half a rotation (new cert, old key).
  await install(C, 0o644);
  await waitFor(() => /"code":"KG4007".*"msg":"TLS certificate rotation not loaded/.test(h.logs()), 10_000, 'loose key refused');
  t.equal(await servedFingerprint(h.url), B.fingerprint, 'still B after a loose key file');
  await install(B, 0o600, 'key');
  await waitFor(() => /"code":"KG9003".*"msg":"TLS certificate rotation not loaded/.test(h.logs()), 10_000, 'mismatch refused');
  t.equal(await servedFingerprint(h.url), B.fingerprint, 'still B while the pair does not match');
  await install(C, 0o600, 'key');
  await waitFor(async () => (await servedFingerprint(h.url)) === C.fingerprint, 10_000, 'bot listener serving C');
  t.pass('the completed rotation goes into force');
  t.notOk(h.logs().includes('PRIVATE KEY'), 'no key material in the log');
});
