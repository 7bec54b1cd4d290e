// Every log line of a real `kguard serve` run (the compiled binary, as
// operators run it) is one strict JSON object with no key twice: JSON.parse
// would silently keep the last of {"part":"policy","part":"policy"}, and log
// pipelines differ on which one they keep. The run touches the parts that log:
// policy, bots, the broker session, refusals, the admin API and its failed
// logins, a policy reload and the drain on SIGTERM. Its /metrics carries the
// process metrics under one prefix (kguard_process_cpu_seconds_total).
import { appendFile, chmod, copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { parseJson, ROOT, waitFor } from '../helpers/harness.js';
import { spawnSidecar, writeSidecarConfig } from '../helpers/sidecar-process.js';
import { duplicateKeys } from './json-duplicate-keys.js';

t.test('the duplicate-key scanner', async (t) => {
  t.same(duplicateKeys('{"a":1,"b":{"c":[{"d":1,"d":2}]},"a":"x"}'), ['$.b.c[0].d', '$.a']);
  t.same(duplicateKeys('{"a":1,"\\u0061":2}'), ['$.a'], 'keys compare decoded');
  t.same(duplicateKeys('[{"a":1},{"a":2}]'), [], 'one key in sibling objects is fine');
  t.same(duplicateKeys(' {"s":"\\"a\\":1,\\"a\\":2","n":-1.5e3,"t":true,"z":null,"e":{},"l":[]} '), [], 'strings are not keys');
  for (const bad of ['{"a":1,}', '{"a" 1}', '{"a":1} x', '{a:1}', '"\t"', '{"a":01}', ''])
    t.throws(() => duplicateKeys(bad), SyntaxError, `refuses ${JSON.stringify(bad)}`);
});

t.test('a sidecar run logs no duplicate keys; process metrics have one prefix', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-logs-'));
  await chmod(dataDir, 0o700);
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  // The built-in simulator and its demo bot: nothing to provision. The example policy, in a copy the reload below changes.
  const policyFile = path.join(dataDir, 'policy.yaml');
  await copyFile(path.join(ROOT, 'policies', 'default.yaml'), policyFile);
  const configFile = await writeSidecarConfig(path.join(dataDir, 'kguard.yaml'), {
    dataDir,
    log: { level: 'debug' },
    demo: { enabled: true },
    policy: { file: policyFile, watch: false },
  });
  const child = await spawnSidecar({ configFile });
  t.teardown(() => child.kill());
  // The demo lines follow the banner's last fixed line, which is all spawnSidecar waits for.
  await waitFor(() => /demo bot secret/.test(child.stdout()), 10_000, 'the demo bot lines');
  const botId = /demo bot id\s+(\S+)/.exec(child.stdout())?.[1];
  t.ok(botId, 'demo bot');
  const secret = (await readFile(path.join(dataDir, 'demo-bot.secret'), 'latin1')).trim();

  const post = async (p: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await request(child.url + p, {
      method: 'POST',
      reset: true, // a fresh connection per request: no kept-alive socket closed under it on a busy machine
      headers: { 'content-type': 'application/json;charset=UTF-8', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return parseJson(await res.body.text());
  };
  const tok = await post('/oauth2/token', { grant_type: 'client_credentials', appkey: botId, secretkey: secret });
  t.equal(tok.return_code, 0, 'token exchange');
  const auth = { authorization: `Bearer ${String(tok.token)}` };
  t.equal((await post('/api/dostk/stkinfo', { stk_cd: '005930' }, { 'api-id': 'ka10001', ...auth })).return_code, 0, 'a query');
  await post('/api/dostk/ordr', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '74000', trde_tp: '0' }, { 'api-id': 'kt10000', ...auth });
  const denied = await post(
    '/api/dostk/ordr',
    { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '100000', ord_uv: '74000', trde_tp: '0' },
    { 'api-id': 'kt10000', ...auth },
  );
  t.not(denied.return_code, 0, 'an order the policy refuses');
  await post('/oauth2/token', { grant_type: 'client_credentials', appkey: botId, secretkey: 'wrong' });
  await post('/api/dostk/stkinfo', '{"stk_cd":', { 'api-id': 'ka10001', ...auth });

  const tokens = AdminTokens.forDataDir(dataDir);
  const admin = (await tokens.create('alice', 'admin')).toString('latin1');
  const viewer = (await tokens.create('vic', 'viewer')).toString('latin1');
  const adminCall = async (method: 'GET' | 'POST', p: string, token?: string) => {
    const res = await request(child.adminUrl + p, {
      method,
      reset: true,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
      ...(method === 'POST' ? { body: '{}' } : {}),
    });
    return { status: res.statusCode, text: await res.body.text() };
  };
  t.equal((await adminCall('GET', '/admin/v1/bots', admin)).status, 200);
  // A changed file, so the reload loads and logs (an unchanged one is counted, not logged).
  await appendFile(policyFile, '# edited\n');
  t.equal((await adminCall('POST', '/admin/v1/policy/reload', admin)).status, 200);
  t.equal((await adminCall('GET', '/admin/v1/openapi.json', viewer)).status, 200);
  t.equal((await adminCall('POST', '/admin/v1/policy/reload', viewer)).status, 403);
  t.equal((await adminCall('GET', '/admin/v1/bots', `kga_${'z'.repeat(43)}`)).status, 401);
  t.equal((await adminCall('GET', '/readyz')).status, 200);
  const metrics = (await adminCall('GET', '/metrics')).text;
  t.match(metrics, /^kguard_process_cpu_seconds_total \d/m, 'kguard_process_cpu_seconds_total');
  t.match(metrics, /^kguard_process_resident_memory_bytes \d/m);
  t.match(metrics, /^# TYPE kguard_nodejs_eventloop_lag_p99_seconds gauge$/m);
  t.notMatch(metrics, /kguard_process_process_|kguard_process_nodejs_/, 'no double prefix');
  t.equal(await child.stop(), 0, 'clean exit on SIGTERM');

  const lines = `${child.stdout()}\n${child.stderr()}`.split('\n').filter((l) => l.startsWith('{'));
  t.ok(lines.length >= 20, `${lines.length} JSON log lines`);
  const withDuplicates = lines.map((l) => ({ line: l.slice(0, 300), dups: duplicateKeys(l) })).filter((x) => x.dups.length > 0);
  t.same(withDuplicates, [], 'no log line has a key twice');
  const policyLines = lines.filter((l) => JSON.parse(l).part === 'policy');
  t.ok(policyLines.length >= 2, 'the policy part logged (load, reload)');
  for (const l of policyLines) t.equal(l.split('"part":').length, 2, 'one "part" key');
  const parts = new Set(lines.map((l) => JSON.parse(l).part).filter(Boolean));
  t.comment(`parts seen: ${[...parts].sort().join(', ')}`);
});
