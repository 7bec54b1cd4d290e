// parseStateConfig defaults and errors; createStore for both backends;
// Redis ACL user with the password read from a file (canary never logged);
// TLS with a private CA and a client certificate.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, chmod, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import t from 'tap';
import { Registry } from 'prom-client';
import pino from 'pino';
import { createStore, createRedisStore, parseStateConfig, REDIS_DEFAULTS } from '../../proxy/state/index.js';
import { isGuardError } from '../../proxy/common/errors.js';
import { startRedis } from '../helpers/redis.js';

const execFileAsync = promisify(execFile);

function configError(raw: unknown): string {
  try {
    parseStateConfig(raw);
    return 'accepted';
  } catch (err) {
    return isGuardError(err) && err.code === 'KG7004' ? (err.detail ?? '') : `other: ${(err as Error).message}`;
  }
}

t.test('defaults', async (t) => {
  const c = parseStateConfig(undefined);
  t.equal(c.backend, 'memory');
  t.same(c.memory, { sweepIntervalMs: 1000, maxKeys: 1_000_000 });
  t.equal(c.redis.keyPrefix, 'kguard:');
  t.equal(c.redis.commandTimeoutMs, 250);
  t.equal(c.redis.readOnlyQueriesWhenDown, 'deny');
  t.equal(c.redis.readOnlyMirrorMaxKeys, 100_000);
  t.same(parseStateConfig({}), c);
  const r = parseStateConfig({ redis: { url: 'redis://10.0.0.1:6380/2' } });
  t.equal(r.backend, 'redis', 'a Redis endpoint implies the redis backend');
  t.equal(r.redis.generationCheckMs, REDIS_DEFAULTS.generationCheckMs);
  const s = parseStateConfig({ redis: { sentinels: ['10.0.0.1:26379', { host: 'h2', port: 26380 }], name: 'm1' } });
  t.same(s.redis.sentinels, [
    { host: '10.0.0.1', port: 26379 },
    { host: 'h2', port: 26380 },
  ]);
  const n = parseStateConfig({ redis: { nodes: ['[::1]:7000'] } });
  t.same(n.redis.nodes, [{ host: '::1', port: 7000 }]);
  t.equal(parseStateConfig({ backend: 'memory', redis: { url: 'redis://x' } }).backend, 'memory', 'explicit backend wins');
});

t.test('clear errors', async (t) => {
  t.match(configError({ backend: 'etcd' }), /state.backend must be memory or redis/);
  t.match(configError({ backend: 'redis' }), /needs url, sentinels/);
  t.match(configError({ redis: { url: 'http://x' } }), /redis:\/\/ or rediss:\/\//);
  const pw = configError({ redis: { url: 'redis://user:CANARY-PW-123@h:6379' } });
  t.match(pw, /must not contain a password/);
  t.notMatch(pw, /CANARY/, 'the password is not echoed');
  t.match(configError({ redis: { url: 'redis://h', nodes: ['h:1'] } }), /only one of/);
  t.match(configError({ redis: { sentinels: ['h:1'] } }), /name .* is required/);
  t.match(configError({ redis: { url: 'redis://h', name: 'm' } }), /only used with sentinels/);
  t.match(configError({ redis: { nodes: ['nohost'] } }), /nodes\[0\] must be "host:port"/);
  t.match(configError({ redis: { nodes: [] } }), /non-empty list/);
  t.match(configError({ redis: { url: 'redis://h', commandTimeoutMs: 0 } }), /commandTimeoutMs must be an integer from 1/);
  t.match(configError({ redis: { url: 'redis://h', keyPrefix: 'a{b}' } }), /keyPrefix/);
  t.match(configError({ redis: { url: 'redis://h', readOnlyQueriesWhenDown: 'maybe' } }), /deny or allow/);
  t.match(configError({ redis: { url: 'redis://h', readOnlyMirrorMaxKeys: 10 } }), /readOnlyMirrorMaxKeys must be an integer from 100/);
  t.match(configError({ redis: { url: 'redis://h', tls: { certFile: 'c' } } }), /certFile and keyFile go together/);
  t.match(configError({ redis: { url: 'redis://h', passwrd: 'x' } }), /state.redis.passwrd is not a known setting/);
  t.match(configError({ memory: { maxKeys: -1 } }), /maxKeys/);
  t.match(configError({ redis: { url: 'redis://h', autoPipelining: 'yes' } }), /autoPipelining must be true or false/);
  t.match(configError('redis'), /state must be a mapping/);
});

t.test('createStore builds the configured backend', async (t) => {
  const logger = pino({ level: 'silent' });
  const mem = await createStore(parseStateConfig({}), { logger, registry: new Registry() });
  t.equal(mem.kind, 'memory');
  await mem.close();
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const r = await createStore(parseStateConfig({ redis: { url: redis.url } }), { logger, registry: new Registry() });
  t.equal(r.kind, 'redis');
  await r.health();
  await r.close();
});

t.test('ACL user with the password from a file; the password never reaches a log line', async (t) => {
  const canary = 'CANARY-redis-pw-7f3a9c';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kguard-state-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const auth = { user: 'kguard', password: canary };
  const redis = await startRedis({ configText: `user default off\nuser kguard on >${canary} ~* &* +@all\n`, auth });
  t.teardown(() => redis.cleanup());
  const pwFile = path.join(dir, 'redis.pw');
  await writeFile(pwFile, `${canary}\n`);
  await chmod(pwFile, 0o600);

  let logged = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logged += chunk;
      cb();
    },
  });
  const logger = pino({ level: 'trace' }, sink);
  const cfg = parseStateConfig({ redis: { url: redis.url, username: 'kguard', passwordFile: pwFile } });
  const store = await createRedisStore({ ...cfg.redis, logger, registry: new Registry() });
  await store.set('k', 'v');
  t.equal(await store.get('k'), 'v', 'authenticated as the ACL user');
  await store.close();

  const wrong = path.join(dir, 'wrong.pw');
  await writeFile(wrong, 'not-the-password', { mode: 0o600 });
  const denied = await createRedisStore({ url: redis.url, username: 'kguard', passwordFile: wrong, logger, registry: new Registry(), connectTimeoutMs: 300 });
  try {
    await denied.get('k');
    t.fail('wrong password must not work');
  } catch (err) {
    t.ok(isGuardError(err) && err.code === 'KG7001', 'wrong password: fail closed');
  }
  await t.rejects(denied.health(), { code: 'KG7001' });
  await denied.close();
  t.ok(logged.length > 0, 'something was logged');
  t.notOk(logged.includes(canary), 'the canary password is in no log line');
  t.notOk(logged.includes('not-the-password'), 'nor the wrong one');

  await t.rejects(createRedisStore({ url: redis.url, passwordFile: path.join(dir, 'missing'), logger, registry: new Registry() }), { code: 'KG7004' });
  const empty = path.join(dir, 'empty.pw');
  await writeFile(empty, '\n', { mode: 0o600 });
  await t.rejects(createRedisStore({ url: redis.url, passwordFile: empty, logger, registry: new Registry() }), { code: 'KG7004' });

  // Review regression (a security engineer's): the password file was read whatever its mode, owner or link; whoever
  // could read a looser one could write Redis (lockdown flags, revocations, approvals). Now it is read as every
  // secret file is: 0600 or tighter, no symlink followed.
  const loose = path.join(dir, 'loose.pw');
  await writeFile(loose, `${canary}\n`);
  await chmod(loose, 0o644);
  await t.rejects(createRedisStore({ url: redis.url, username: 'kguard', passwordFile: loose, logger, registry: new Registry() }), {
    code: 'KG4007',
    message: /mode 644; it must be 0600 or tighter/,
  });
  const link = path.join(dir, 'link.pw');
  await symlink(pwFile, link);
  await t.rejects(createRedisStore({ url: redis.url, username: 'kguard', passwordFile: link, logger, registry: new Registry() }), 'a symlink is not followed');
  t.notOk(logged.includes(canary), 'still no password in any log line');
});

t.test('TLS with a private CA and a client certificate', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kguard-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileAsync('openssl', args, { cwd: dir, timeout: 30_000 });
  await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=kguard-test-ca', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  await writeFile(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who}`, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`));
    await ssl(
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      f('san.ext'),
      '-out',
      f(`${who}.crt`),
    );
  }
  const redis = await startRedis({
    tlsOnly: true,
    args: ['--tls-cert-file', f('server.crt'), '--tls-key-file', f('server.key'), '--tls-ca-cert-file', f('ca.crt'), '--tls-auth-clients', 'yes'],
  });
  t.teardown(() => redis.cleanup());
  const logger = pino({ level: 'silent' });
  const cfg = parseStateConfig({
    redis: { url: `rediss://127.0.0.1:${redis.port}`, tls: { caFile: f('ca.crt'), certFile: f('client.crt'), keyFile: f('client.key') } },
  });
  const store = await createRedisStore({ ...cfg.redis, logger, registry: new Registry() });
  t.teardown(() => store.close());
  await store.health();
  t.equal((await store.consume([{ key: 'tls', limit: 1, windowMs: 1000 }])).allowed, true, 'works over mutual TLS');

  const noCert = await createRedisStore({
    url: `rediss://127.0.0.1:${redis.port}`,
    tls: { caFile: f('ca.crt') },
    logger,
    registry: new Registry(),
    connectTimeoutMs: 500,
  });
  t.teardown(() => noCert.close());
  await t.rejects(noCert.health(), { code: 'KG7001' }, 'no client certificate: refused, fail closed');
});

t.test('createRedisStore refuses to guess an endpoint', async (t) => {
  const logger = pino({ level: 'silent' });
  await t.rejects(createRedisStore({ logger, registry: new Registry() }), { code: 'KG7004' }, 'no endpoint: no silent localhost:6379');
  await t.rejects(createRedisStore({ url: 'redis://127.0.0.1:1', nodes: [{ host: '127.0.0.1', port: 1 }], logger, registry: new Registry() }), {
    code: 'KG7004',
  });
  await t.rejects(createRedisStore({ sentinels: [{ host: '127.0.0.1', port: 1 }], logger, registry: new Registry() }), { code: 'KG7004' });
  await t.rejects(createRedisStore({ url: 'redis://127.0.0.1:1', keyPrefix: 'a{b}', logger, registry: new Registry() }), { code: 'KG7004' });
});
