// Operators after a Redis flush, through the real sidecar on a real
// redis-server: FLUSHALL -> calls refused with KG7003 and /readyz names it ->
// an admin confirms (audited, reason required) with `kguard state
// confirm-flush` over the admin API -> calls flow again. Bad confirmations
// change nothing. The memory backend has nothing to confirm.
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { request } from 'undici';
import { createAdminServer, type AdminRoute } from '../../proxy/admin/server.js';
import type { ReadinessCheck } from '../../proxy/admin/health.js';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import stateCli from '../../proxy/cli/state.js';
import { createMemoryStore, stateFlushReadiness, stateRoutes, type Store } from '../../proxy/state/index.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { PATIENT_REDIS, redisCli, startRedis, type RedisProcess } from '../helpers/redis.js';

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0', cond_uv: '' };
const QUERY = { qry_tp: '3' };

interface Json {
  status: number;
  json: Record<string, unknown>;
  text: string;
}

async function http(method: 'GET' | 'POST', url: string, token?: string, body?: unknown): Promise<Json> {
  const res = await request(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, json, text };
}

/** An admin listener of our own, for when the sidecar does not mount the state routes (yet). */
async function testAdminServer(
  t: { teardown(fn: () => unknown): void },
  store: Store,
  audit: (f: Record<string, unknown>) => Promise<unknown>,
  dataDir: string,
  extraReadiness: ReadinessCheck[] = [],
): Promise<string> {
  const routes: AdminRoute[] = stateRoutes(store, audit);
  const server = createAdminServer({
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    language: 'en',
    readiness: [{ name: 'state', check: () => store.health() }, stateFlushReadiness(store), ...extraReadiness],
    routes,
    tokens: AdminTokens.forDataDir(dataDir),
    maxBodyBytes: 65_536,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdin = new PassThrough(),
    stdout = new PassThrough(),
    stderr = new PassThrough();
  let out = '',
    err = '';
  stdout.on('data', (c) => {
    out += String(c);
  });
  stderr.on('data', (c) => {
    err += String(c);
  });
  stdin.end();
  const code = await stateCli(args, { stdin, stdout, stderr, env: {} });
  return { code, out, err };
}

async function auditText(dataDir: string): Promise<string> {
  const dir = path.join(dataDir, 'audit');
  const files = (await readdir(dir)).filter((f) => !f.startsWith('.'));
  return (await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8').catch(() => '')))).join('\n');
}

let redis: RedisProcess;
let h: Harness;
t.before(async () => {
  redis = await startRedis();
  h = await startHarness({ config: { state: { backend: 'redis', redis: { url: redis.url, generationCheckMs: 200 } } } });
});
t.teardown(async () => {
  await h?.close();
  await redis?.cleanup();
});

t.test('FLUSHALL: refused with KG7003, /readyz names it, an audited confirmation lets calls flow', async (t) => {
  const store = h.sidecar.parts.store;
  const adminTok = await h.adminToken('alice', 'admin');
  const viewerTok = await h.adminToken('victor', 'viewer');
  const adminFile = path.join(h.dataDir, 'alice.token');
  const viewerFile = path.join(h.dataDir, 'victor.token');
  await writeFile(adminFile, adminTok, { mode: 0o600 });
  await writeFile(viewerFile, viewerTok, { mode: 0o600 });

  // Where the state routes live: the sidecar's admin API once mounted, else a test-only listener.
  const probe = await http('GET', `${h.adminUrl}/admin/v1/state`, viewerTok);
  let base: string;
  if (probe.status === 404) {
    const audit = (f: Record<string, unknown>) => h.sidecar.parts.auditor.append({ type: 'admin', ...f });
    base = await testAdminServer(t, store, audit, h.dataDir);
    t.comment("the sidecar does not mount stateRoutes yet: using a test-only admin listener over the sidecar's own store and auditor");
  } else {
    base = h.adminUrl;
  }
  const api = `${base}/admin/v1`;

  let tok = await h.token();
  t.equal((await h.call('kt10000', BUY, { token: tok })).json.return_code, 0, 'an order flows before the flush');
  const before = await http('GET', `${api}/state`, viewerTok);
  t.equal(before.status, 200);
  t.match(before.json, { backend: 'redis', up: true, flushDetected: false }, 'GET /state before the flush');
  t.match(before.json.generation, /^[0-9a-f-]{36}$/, 'names the generation marker');
  const nothing = await http('POST', `${api}/state/confirm-flush`, adminTok, { reason: 'nothing happened' });
  t.equal(nothing.status, 409, 'nothing to confirm before a flush');
  t.match(nothing.json.return_msg, /KG7005/);

  const flushedAt = Date.now();
  t.equal(await redisCli(redis.port, 'FLUSHALL'), 'OK');
  // Sessions lived in Redis too: the bot logs in again; detection takes at most one generation check. Polled with
  // an inquiry, not an order: until detection calls still flow, and the governor's order window went with the flush,
  // so orders polled here would count against Kiwoom's 5 per second and refuse the one after the confirmation.
  await waitFor(
    async () => /KG7003/.test(String((await h.call('kt00001', QUERY, { path: '/api/dostk/acnt' })).json.return_msg)),
    5_000,
    'calls refused with KG7003',
  );
  t.comment(`MEASURED FLUSHALL -> first KG7003 refusal: ${Date.now() - flushedAt} ms (generationCheckMs 200)`);
  const order = await h.call('kt10000', BUY);
  t.equal(order.status, 503, `order refused: ${String(order.json.return_msg)}`);
  t.not(order.json.return_code, 0);
  tok = await h.token();
  const query = await h.call('kt00001', QUERY, { token: tok, path: '/api/dostk/acnt' });
  t.match(query.json.return_msg, /KG7003/, 'queries are refused as well (lockdown flags may be gone)');

  const sidecarReady = await http('GET', `${h.adminUrl}/readyz`);
  const sidecarCheck = (sidecarReady.json.checks as Record<string, { ok: boolean; reason?: string }> | undefined)?.['state-flush'];
  if (sidecarCheck) {
    t.equal(sidecarCheck.ok, false, 'sidecar /readyz: state-flush check fails');
    t.match(sidecarCheck.reason, /KG7003/, `sidecar /readyz names it: ${sidecarCheck.reason}`);
  } else {
    t.pass('sidecar /readyz names the state-flush failure', {
      skip: 'sidecar /readyz has no state-flush check yet (lead: add stateFlushReadiness(store) to the readiness list in proxy/server/sidecar.ts)',
    });
  }
  if (base !== h.adminUrl) {
    const ready = await http('GET', `${base}/readyz`);
    const checks = ready.json.checks as Record<string, { ok: boolean; reason?: string; severity?: string }>;
    t.match(checks['state-flush'], { ok: false, severity: 'warn' }, 'test listener /readyz: state-flush reported as a warning');
    t.match(checks['state-flush']?.reason, /KG7003.*confirm-flush/, `names KG7003 and the way out: ${checks['state-flush']?.reason}`);
  }
  const during = await http('GET', `${api}/state`, viewerTok);
  t.match(during.json, { backend: 'redis', up: true, flushDetected: true }, 'GET /state shows the flush');
  t.not(during.json.generation, before.json.generation, 'a new generation marker');

  // Bad confirmations: clear errors, nothing changes.
  const bad: [string, string | undefined, unknown, number, RegExp][] = [
    ['viewer role', viewerTok, { reason: 'x' }, 403, /KG2009/],
    ['no token', undefined, { reason: 'x' }, 401, /KG2001/],
    ['no reason', adminTok, {}, 400, /KG7006.*required/],
    ['empty reason', adminTok, { reason: '   ' }, 400, /KG7006.*empty/],
    ['reason not a string', adminTok, { reason: 42 }, 400, /KG7006.*string/],
    ['two-line reason', adminTok, { reason: 'ok\nforged log line' }, 400, /KG7006.*one line/],
    ['over-long reason', adminTok, { reason: 'x'.repeat(501) }, 400, /KG7006.*500/],
    ['body not JSON', adminTok, '{"reason":', 400, /KG1001/],
  ];
  for (const [what, token, body, status, msg] of bad) {
    const r = await http('POST', `${api}/state/confirm-flush`, token, body);
    t.equal(r.status, status, `${what}: HTTP ${status}`);
    t.match(r.json.return_msg, msg, `${what}: ${String(r.json.return_msg)}`);
  }
  t.equal(store.flushDetected(), true, 'still awaiting confirmation after the bad attempts');
  t.match((await h.call('kt10000', BUY, { token: tok })).json.return_msg, /KG7003/, 'orders still refused');

  // CLI: usage errors, status, then the confirmation (viewer refused first).
  const common = ['--admin-url', api];
  t.equal((await runCli(['confirm-flush', ...common, '--token-file', adminFile])).code, 2, 'confirm-flush without --reason is a usage error');
  t.equal((await runCli(['bogus', ...common, '--token-file', adminFile])).code, 2, 'unknown subcommand is a usage error');
  const status = await runCli(['status', ...common, '--token-file', viewerFile]);
  t.equal(status.code, 0, status.err);
  t.match(status.out, /백엔드:\s+redis[\s\S]*플러시 감지:\s+예: /, 'kguard state status shows the flush, in Korean (the configured language)');
  const statusEn = await runCli(['status', ...common, '--token-file', viewerFile, '--lang', 'en']);
  t.match(statusEn.out, /backend:\s+redis[\s\S]*flush detected: YES/, 'in English with --lang en');
  t.match(statusEn.out, /clock:\s+[+-]\d+\.\d{3} s against Redis \(± \d+ ms\)/, "and this replica's clock against Redis'");
  t.match(status.out, /시계:\s+Redis 대비 [+-]\d+\.\d{3}초 \(± \d+ ms\)/, 'also in Korean');
  const refused = await runCli(['confirm-flush', '--reason', 'viewer tries', ...common, '--token-file', viewerFile]);
  t.equal(refused.code, 1);
  t.match(refused.err, /HTTP 403/);
  const reason = 'FLUSHALL by mistake during maintenance INC-42; no lockdown was active';
  const confirmedAt = Date.now();
  const confirmed = await runCli(['confirm-flush', '--reason', reason, ...common, '--token-file', adminFile, '--json']);
  t.equal(confirmed.code, 0, confirmed.err);
  t.match(JSON.parse(confirmed.out), { confirmed: true, flushDetected: false, backend: 'redis' }, 'confirmation answers with the new state');
  t.equal(store.flushDetected(), false, 'the sidecar trusts the state again');

  // This replica confirmed, so its very next call flows (peers learn it over pub/sub).
  tok = await h.token();
  const after = await h.call('kt10000', BUY, { token: tok });
  t.comment(`MEASURED confirmation -> forwarded order (incl. a new login): ${Date.now() - confirmedAt} ms`);
  t.equal(after.json.return_code, 0, `the next order flows: ${after.text.slice(0, 120)}`);

  await waitFor(async () => /state\.confirm-flush/.test(await auditText(h.dataDir)), 20_000, 'audit record');
  const trail = await auditText(h.dataDir);
  const line = trail.split('\n').find((l) => l.includes('"state.confirm-flush"'))!;
  t.match(line, /"actor":"alice"/, 'audited with the actor');
  t.ok(line.includes(reason), 'audited with the reason');
  t.notOk(trail.includes(adminTok) || trail.includes(viewerTok), 'no admin token in the audit trail');
  t.notOk(h.logs().includes(adminTok), 'no admin token in the logs');

  const again = await http('POST', `${api}/state/confirm-flush`, adminTok, { reason: 'twice' });
  t.equal(again.status, 409, 'a second confirmation has nothing to confirm');
});

t.test('memory backend: GET /state, nothing ever to confirm', async (t) => {
  const store = createMemoryStore({ logger: pino({ level: 'silent' }) });
  t.teardown(() => store.close());
  const audited: Record<string, unknown>[] = [];
  const base = await testAdminServer(
    t,
    store,
    async (f) => {
      audited.push(f);
    },
    h.dataDir,
  );
  const tok = await h.adminToken('carol', 'admin');
  const s = await http('GET', `${base}/admin/v1/state`, tok);
  t.same(s.json, { backend: 'memory', up: true, generation: null, flushDetected: false });
  const c = await http('POST', `${base}/admin/v1/state/confirm-flush`, tok, { reason: 'why not' });
  t.equal(c.status, 409);
  t.match(c.json.return_msg, /KG7005.*memory/);
  t.same(audited, [], 'a refused confirmation is not recorded as one');
});

t.test('a confirmation that cannot be audited does not happen (fail closed)', async (t) => {
  const r2 = await startRedis();
  t.teardown(() => r2.cleanup());
  const { createRedisStore } = await import('../../proxy/state/index.js');
  const store = await createRedisStore({ ...PATIENT_REDIS, url: r2.url, generationCheckMs: 100, logger: pino({ level: 'silent' }), registry: new Registry() });
  t.teardown(() => store.close());
  await redisCli(r2.port, 'FLUSHALL');
  await waitFor(() => store.flushDetected(), 20_000, 'flush detected');
  const base = await testAdminServer(
    t,
    store,
    async () => {
      throw new Error('audit sink down');
    },
    h.dataDir,
  );
  const tok = await h.adminToken('bob', 'admin');
  const r = await http('POST', `${base}/admin/v1/state/confirm-flush`, tok, { reason: 'confirm while audit is down' });
  t.equal(r.status, 500, `refused: ${r.text}`);
  t.equal(store.flushDetected(), true, 'still unconfirmed');
  t.equal(await redisCli(r2.port, 'EXISTS', 'kguard:generation:confirmed'), '0', 'no confirmation marker in Redis');
});
