// Failed admin logins (401) and role refusals (403), over real sockets: each
// is counted by reason and logged with the source, the route and a keyed
// fingerprint (never the credential); past admin.authFailures.maxFailures in
// a window the source gets 429 with retry-after for the cool-down, unless it
// presents a valid token with the route's role (a compromised bot sharing the
// operators' 127.0.0.1 must not hold the kill switch shut by failing on
// purpose), while another source and the public routes carry on. The
// clock is injected: the window and the cool-down pass without sleeping.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { Agent, request, type Dispatcher } from 'undici';
import { AuthFailureLimiter, sourceKey } from '../../proxy/admin/auth-limiter.js';
import { createAdminServer } from '../../proxy/admin/server.js';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import type { AdminAuthFailureLimits } from '../../proxy/common/config.js';
import { ConfigError, loadConfig } from '../../proxy/common/config.js';
import { createLogger } from '../../proxy/common/logger.js';
import { keyedFingerprint } from '../../proxy/common/secret.js';
import { startHarness } from '../helpers/harness.js';

/** A token-shaped credential nobody holds; it must never reach a log line or an answer. */
const CANARY = `kga_CANARYadminTOKEN${'7q'.repeat(12)}xyz`;
const FP_KEY = Buffer.alloc(32, 7);
// The admin listener is bound to 127.0.0.1; Linux routes all of 127/8 to loopback, so 127.0.0.2 is a second source.
const elsewhere = new Agent({ localAddress: '127.0.0.2' });
const third = new Agent({ localAddress: '127.0.0.3' });
t.teardown(() => Promise.all([elsewhere.close(), third.close()]));

interface World {
  url: string;
  admin: string;
  viewer: string;
  registry: Registry;
  logs(): string;
  lines(): Record<string, any>[];
  advance(ms: number): void;
  call(
    method: 'GET' | 'POST',
    p: string,
    token?: string,
    opts?: { dispatcher?: Dispatcher; authorization?: string },
  ): Promise<{ status: number; headers: Record<string, any>; text: string }>;
  metric(name: string, labels?: string): Promise<number | undefined>;
}

async function world(t: Test, limits: Partial<AdminAuthFailureLimits>): Promise<World> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-adminauth-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tokens = AdminTokens.forDataDir(dir);
  const admin = (await tokens.create('alice', 'admin')).toString('latin1');
  const viewer = (await tokens.create('vic', 'viewer')).toString('latin1');
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  let now = 1_700_000_000_000;
  const registry = new Registry();
  const server = createAdminServer({
    registry,
    logger: createLogger({ level: 'debug', destination: sink }),
    language: 'en',
    readiness: [],
    routes: [
      { method: 'GET', path: '/admin/v1/things', role: 'viewer', handler: async () => ({ body: { things: [] } }) },
      { method: 'POST', path: '/admin/v1/things/:id/burn', role: 'admin', handler: async ({ params }) => ({ body: { burnt: params.id } }) },
    ],
    tokens,
    maxBodyBytes: 4096,
    authFailures: limits,
    fingerprintKey: FP_KEY,
    clock: () => now,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    admin,
    viewer,
    registry,
    logs: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    advance: (ms) => {
      now += ms;
    },
    async call(method, p, token, opts = {}) {
      const authorization = opts.authorization ?? (token ? `Bearer ${token}` : undefined);
      const res = await request(url + p, {
        method,
        reset: true, // a fresh connection per request: no kept-alive socket closed under it on a busy machine
        headers: { ...(authorization ? { authorization } : {}), ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        ...(method === 'POST' ? { body: '{}' } : {}),
        ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
      });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    },
    async metric(name, labels = '') {
      const m = new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(await registry.metrics());
      return m ? Number(m[1]) : undefined;
    },
  };
}

t.test('each refusal is counted by reason and logged with source, route and a fingerprint, never the credential', async (t) => {
  const w = await world(t, { maxFailures: 100 });
  t.equal(await w.metric('kguard_admin_auth_failures_total', '{reason="missing"}'), 0, 'the series exist before the first failure');
  const answers = [
    await w.call('GET', '/admin/v1/things'),
    await w.call('GET', '/admin/v1/things', undefined, { authorization: `Basic ${CANARY}` }),
    await w.call('GET', '/admin/v1/things', CANARY),
    await w.call('POST', '/admin/v1/things/t1/burn', w.viewer),
  ];
  t.same(
    answers.map((a) => a.status),
    [401, 401, 401, 403],
  );
  for (const reason of ['missing', 'malformed', 'unknown_token', 'role'])
    t.equal(await w.metric('kguard_admin_auth_failures_total', `{reason="${reason}"}`), 1, `counted: ${reason}`);
  const refused = w.lines().filter((l) => l.msg === 'admin auth refused');
  t.same(
    refused.map((l) => [l.source, l.method, l.route, l.reason, l.code, l.status, l.failures]),
    [
      ['127.0.0.1', 'GET', '/admin/v1/things', 'missing', 'KG2001', 401, 1],
      ['127.0.0.1', 'GET', '/admin/v1/things', 'malformed', 'KG2001', 401, 2],
      ['127.0.0.1', 'GET', '/admin/v1/things', 'unknown_token', 'KG2002', 401, 3],
      ['127.0.0.1', 'POST', '/admin/v1/things/:id/burn', 'role', 'KG2009', 403, 4],
    ],
  );
  t.equal(refused[0]!.credentialFp, undefined, 'nothing presented, nothing fingerprinted');
  t.equal(refused[2]!.credentialFp, keyedFingerprint(FP_KEY, Buffer.from(CANARY)), 'a keyed fingerprint correlates the same guess');
  t.equal(refused[1]!.credentialFp, refused[2]!.credentialFp, 'the credential, not the scheme, is fingerprinted');
  t.equal(refused[3]!.admin, 'vic', 'a role refusal names the admin');
  t.equal(refused[3]!.credentialFp, undefined);
  const everything = w.logs() + answers.map((a) => a.text).join('') + (await w.registry.metrics());
  for (const needle of [CANARY, CANARY.slice(4, 20), CANARY.slice(-16), w.viewer, w.viewer.slice(4, 20)])
    t.notOk(everything.includes(needle), 'no credential text anywhere');
});

t.test('past the limit the source gets 429 but for a valid token; others and the public routes carry on; the cool-down ends', async (t) => {
  const w = await world(t, { maxFailures: 3, windowMs: 60_000, blockMs: 300_000 });
  for (let i = 0; i < 3; i++) t.equal((await w.call('GET', '/admin/v1/things', CANARY)).status, 401, `failure ${i + 1} answers 401`);
  const blocked = await w.call('GET', '/admin/v1/things', CANARY);
  t.equal(blocked.status, 429, 'a wrong token is refused unchecked during the cool-down');
  t.equal(blocked.headers['retry-after'], '300');
  t.match(JSON.parse(blocked.text), { code: 'KG3005' });
  t.equal((await w.call('GET', '/admin/v1/things')).status, 429, 'no token: refused');
  t.equal((await w.call('POST', '/admin/v1/things/t1/burn', w.viewer)).status, 429, 'a valid token without the role: refused');
  t.equal((await w.call('GET', '/admin/v1/unknown', w.admin)).status, 429, 'even an unknown path: no probing while blocked');
  // Whoever keeps the address cooling down (a compromised bot in the operators' pod) cannot shut the admin out.
  t.equal((await w.call('POST', '/admin/v1/things/t1/burn', w.admin)).status, 200, 'the admin still gets through');
  t.match(
    w.lines().find((l) => l.msg === 'admin authenticated while its source cools down'),
    { source: '127.0.0.1', admin: 'alice' },
  );
  t.equal((await w.call('GET', '/healthz')).status, 200, 'health stays reachable');
  t.equal((await w.call('GET', '/metrics')).status, 200, 'scrapes stay reachable');
  t.equal((await w.call('GET', '/admin/v1/things', w.admin, { dispatcher: elsewhere })).status, 200, 'another source is not affected');
  t.equal(await w.metric('kguard_admin_auth_lockouts_total'), 1);
  t.equal(await w.metric('kguard_admin_auth_rate_limited_total'), 4);
  t.equal(await w.metric('kguard_admin_auth_blocked_sources'), 1);
  t.match(
    w.lines().find((l) => l.msg.startsWith('admin source cooling down')),
    { level: 'warn', source: '127.0.0.1', failures: 3, blockMs: 300_000 },
  );

  w.advance(299_001);
  const late = await w.call('GET', '/admin/v1/things', CANARY);
  t.equal(late.status, 429);
  t.equal(late.headers['retry-after'], '1', 'retry-after counts down');
  w.advance(1_000);
  t.equal((await w.call('GET', '/admin/v1/things', w.admin)).status, 200, 'after the cool-down the correct token works');
  t.equal(await w.metric('kguard_admin_auth_blocked_sources'), 0);
  // The count starts over: two failures are not yet a lockout.
  for (let i = 0; i < 2; i++) t.equal((await w.call('GET', '/admin/v1/things', CANARY)).status, 401);
  t.equal((await w.call('GET', '/admin/v1/things', w.admin)).status, 200);
});

t.test('the failure window resets; a success does not clear the count', async (t) => {
  const w = await world(t, { maxFailures: 3, windowMs: 60_000, blockMs: 300_000 });
  for (let i = 0; i < 2; i++) await w.call('GET', '/admin/v1/things', CANARY);
  w.advance(60_000);
  for (let i = 0; i < 2; i++) t.equal((await w.call('GET', '/admin/v1/things', CANARY)).status, 401);
  t.equal((await w.call('GET', '/admin/v1/things', w.admin)).status, 200, 'two old and two new failures: no lockout, the window reset');
  // A viewer cannot keep guessing an admin's token by mixing in its own successes.
  t.equal((await w.call('POST', '/admin/v1/things/t1/burn', w.viewer)).status, 403, 'third failure in this window');
  t.equal((await w.call('GET', '/admin/v1/things', CANARY)).status, 429);
});

t.test('memory is bounded: past maxSources one not cooling down with the fewest failures goes, else the oldest', async (t) => {
  const w = await world(t, { maxFailures: 1, maxSources: 2 });
  await w.call('GET', '/admin/v1/things', CANARY);
  t.equal((await w.call('GET', '/admin/v1/things', CANARY)).status, 429, '127.0.0.1 blocked');
  await w.call('GET', '/admin/v1/things', CANARY, { dispatcher: elsewhere });
  await w.call('GET', '/admin/v1/things', CANARY, { dispatcher: third });
  t.equal(await w.metric('kguard_admin_auth_sources_evicted_total'), 1);
  t.equal((await w.call('GET', '/admin/v1/things', w.admin)).status, 200, 'the oldest was forgotten');
  t.equal((await w.call('GET', '/admin/v1/things', CANARY, { dispatcher: third })).status, 429, 'the newest is still held');

  const limiter = new AuthFailureLimiter({ maxFailures: 5, windowMs: 1_000, blockMs: 1_000, maxSources: 100 }, () => 0);
  for (let i = 0; i < 10_000; i++) limiter.fail(`10.0.${i >> 8}.${i & 255}`);
  t.equal(limiter.size(), 100, '10 000 sources, 100 tracked');

  // Failing on junk keys does not wipe a count kept for a target (the bot-login limiter keys by address and bot id).
  const pairs = new AuthFailureLimiter({ maxFailures: 4, windowMs: 60_000, blockMs: 300_000, maxSources: 100 }, () => 0);
  for (let i = 0; i < 3; i++) pairs.fail('127.0.0.1|bot-target');
  for (let i = 0; i < 500; i++) pairs.fail(`127.0.0.1|junk-${i}`);
  t.equal(pairs.failures('127.0.0.1|bot-target'), 3, 'the target keeps its 3 failures through 500 junk ids');
  pairs.fail('127.0.0.1|bot-target');
  for (let i = 500; i < 1000; i++) pairs.fail(`127.0.0.1|junk-${i}`);
  t.match(pairs.check('127.0.0.1|bot-target'), { blocked: true }, 'and stays cooling down');
});

t.test('source keys: IPv4-mapped counts as IPv4, IPv6 as its /64', async (t) => {
  t.equal(sourceKey('::ffff:127.0.0.2'), '127.0.0.2');
  t.equal(sourceKey('10.1.2.3'), '10.1.2.3');
  t.equal(sourceKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  t.equal(sourceKey('2001:db8:1:2:ffff:ffff:ffff:fffe'), sourceKey('2001:0db8:0001:0002::9'), 'one /64, one count');
  t.not(sourceKey('2001:db8:1:3::1'), sourceKey('2001:db8:1:2::1'));
  t.equal(sourceKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.equal(sourceKey(undefined), 'unknown');
});

t.test('the sidecar takes admin.authFailures from its config', async (t) => {
  await t.rejects(loadConfig({ env: {}, overrides: { admin: { authFailures: { maxFailures: 0 } } } }), ConfigError);
  await t.rejects(loadConfig({ env: {}, overrides: { admin: { authFailures: { burst: 3 } } } }), ConfigError);
  t.same((await loadConfig({ env: {} })).admin.authFailures, { maxFailures: 10, windowMs: 60_000, blockMs: 300_000, maxSources: 10_000 }, 'defaults');
  const h = await startHarness({ config: { admin: { authFailures: { maxFailures: 2 } } } });
  t.teardown(() => h.close());
  const token = await h.adminToken('root', 'admin');
  t.equal((await h.admin('GET', '/admin/v1/bots', CANARY)).status, 401);
  t.equal((await h.admin('GET', '/admin/v1/bots', CANARY)).status, 401);
  const r = await h.admin('GET', '/admin/v1/bots', CANARY);
  t.equal(r.status, 429, r.text);
  t.ok(Number(r.headers['retry-after']) > 0);
  t.equal((await h.admin('GET', '/admin/v1/bots', token)).status, 200, 'the admin still gets through');
  t.notOk(h.logs().includes(CANARY.slice(4)), 'the sidecar log holds no credential');
  t.match(h.logs(), /"msg":"admin auth refused"/);
});
