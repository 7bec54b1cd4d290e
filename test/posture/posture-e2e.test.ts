// The posture check over a real sidecar (in-process harness, real sockets):
// the gatherer reads the real parts (the baseline's source address after a
// call, the broker key's live seconds, TOTP enrolment, the policy in force, the
// audit verify marker); GET /admin/v1/posture answers a viewer, per bot and
// for all, matching its OpenAPI schema; the built CLI's `kguard doctor --json`
// prints the same report and its text the same data; `kguard audit verify`
// records the time doctor judges by.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import t from 'tap';
import { Agent } from 'undici';
import { gatherSnapshots } from '../../proxy/admin/posture-gather.js';
import { readAuditVerify } from '../../proxy/admin/posture-marker.js';
import type { BotPosture, PostureReport } from '../../proxy/admin/posture-types.js';
import { loadPolicyFile } from '../../proxy/policy/index.js';
import { kguard, kguardInProcess } from '../cli/run-cli.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
let admin: string;
let viewer: string;
let viewerFile: string;

t.before(async () => {
  h = await startHarness({ config: { risk: { location: { botCidrs: { 'bot-e2e': ['127.0.0.0/8'] } } } } });
  admin = await h.adminToken('alice', 'admin');
  viewer = await h.adminToken('victor', 'viewer');
  viewerFile = path.join(h.dataDir, 'viewer.token');
  await writeFile(viewerFile, viewer, { mode: 0o600 });
});
t.teardown(() => h.close());

const sources = () => ({ ...h.sidecar.parts, loadPolicy: (file: string) => loadPolicyFile(file) });
const posture = async (query = '', token = viewer) => h.admin('GET', `/admin/v1/posture${query}`, token);
const check = (b: BotPosture, id: string) => b.checks.find((c) => c.id === id)!;

t.test('the gatherer reads the real parts: a call from loopback, its broker token, the policy, the audit sinks', async (t) => {
  t.equal((await h.call('ka10001', { stk_cd: '005930' })).json.return_code, 0, 'a quote through the sidecar');
  await h.waitNoLiveTokens(10_000);
  // Learning runs after the answer, and the live seconds are counted once the revoked token is dropped: wait for both.
  let snap = (await gatherSnapshots(sources(), h.botId))[0]!;
  await waitFor(
    async () => {
      snap = (await gatherSnapshots(sources(), h.botId))[0]!;
      return snap.sources.seen.length > 0 && snap.brokerTokens.liveSecondsTotal > 0 && snap.brokerTokens.sessions.length === 0;
    },
    15_000,
    'the baseline to learn the source address and the broker token to be counted as ended',
  );
  t.same(
    snap.sources.seen.map((s) => s.address),
    ['127.0.0.1'],
    'the source address from the risk baseline',
  );
  t.same(snap.sources.trustedCidrs, ['127.0.0.0/8'], 'risk.location.botCidrs');
  t.ok(snap.brokerTokens.liveSecondsTotal > 0, `the key's broker token was live ${snap.brokerTokens.liveSecondsTotal} s (metric found by the key fingerprint)`);
  t.same(snap.brokerTokens.sessions, [], 'and is revoked now');
  t.match(snap.credential, { keyVersion: 1, provider: 'local', enabled: true });
  t.equal(snap.keyProvider, 'local');
  t.match(snap.policy, { state: 'loaded', name: 'e2e-open' });
  t.ok(snap.bot.canOrder, 'kind:order in the allowlist');
  t.match(snap.bot.secret, { alg: 'sha256', saltBytes: 16, hashBytes: 32 });
  t.match(snap.audit.sinks, [{ type: 'file', fsync: 'group', dir: path.join(h.dataDir, 'audit') }]);
  t.same(
    snap.admins.map((a) => [a.name, a.role, a.totp]),
    [
      ['alice', 'admin', false],
      ['victor', 'viewer', false],
    ],
  );
  t.match(snap.upstream, { target: 'custom', url: h.sim.url });
  t.match(snap.listen.bot, { host: '127.0.0.1', tls: false });
});

t.test('GET /admin/v1/posture: viewer role, one bot or all, 404 for an unknown bot, 400 for a malformed id', async (t) => {
  t.equal((await h.admin('GET', '/admin/v1/posture', 'kga_nope')).status, 401, 'a bad token is refused');
  const all = await posture();
  t.equal(all.status, 200, all.text);
  const report = all.json as unknown as PostureReport;
  t.same(
    report.bots.map((b) => b.bot),
    [h.botId],
  );
  const one = await posture(`?bot=${h.botId}`);
  t.equal(one.status, 200);
  t.equal((one.json as unknown as PostureReport).bots.length, 1);
  t.equal((await posture('?bot=nobody')).status, 404);
  t.equal((await posture('?bot=a%20b')).status, 400);

  const b = report.bots[0]!;
  const status = Object.fromEntries(b.checks.map((c) => [c.id, c.status]));
  t.match(
    status,
    {
      'bot-secret': 'pass',
      'credential-age': 'pass',
      'key-provider': 'pass', // custom upstream on loopback, not production
      'admin-totp': 'fail', // alice has no TOTP yet
      'order-limits': 'pass',
      'market-orders': 'fail', // policy-open allows market
      'trading-window': 'fail',
      'window-shadow': 'pass',
      'trusted-sources': 'pass',
      'new-sources': 'pass',
      'visible-sources': 'pass',
      'audit-durability': 'pass',
      'audit-verify': 'fail', // never run
      'upstream-tls': 'pass',
      'listen-address': 'pass',
      'broker-token-exposure': 'pass',
    },
    b.checks.map((c) => `${c.id} ${c.status}: ${c.explanation.en}`).join('\n'),
  );
  t.equal(b.score, 100 - 8 - 6 - 6 - 4);
  t.same(
    b.recommendations.map((r) => r.check),
    ['admin-totp', 'market-orders', 'trading-window', 'audit-verify'],
    'most impact first',
  );
  t.match(check(b, 'new-sources').explanation.en, '127.0.0.1');
});

t.test('the answer matches its OpenAPI schema', async (t) => {
  const doc = (await h.admin('GET', '/admin/v1/openapi.json', viewer)).json as any;
  const op = doc.paths['/admin/v1/posture'].get;
  t.equal(op['x-kguard-role'], 'viewer');
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const validate = ajv.compile(op.responses['200'].content['application/json'].schema);
  t.ok(validate((await posture()).json), JSON.stringify(validate.errors?.slice(0, 3)));
  t.notOk(validate({ generatedAt: 'x', bots: [] }), 'the schema has teeth');
});

t.test('fixing a finding raises the score: TOTP enrolment for the admin', async (t) => {
  const enrolled = await h.admin('POST', '/admin/v1/approvers', admin, { name: 'alice', roles: ['admin'] });
  t.equal(enrolled.status, 201, enrolled.text);
  const b = (await posture(`?bot=${h.botId}`)).json.bots as BotPosture[];
  t.equal(check(b[0]!, 'admin-totp').status, 'pass', check(b[0]!, 'admin-totp').explanation.en);
});

t.test('kguard audit verify records the verify that doctor judges by', async (t) => {
  // A log no signature covers yet does not verify (review-audit-verify-unsigned): sign what is there first.
  await h.sidecar.parts.auditor.checkpointNow();
  const r = await kguardInProcess(['audit', 'verify', '--data-dir', h.dataDir]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^VERIFIED /);
  const marker = await readAuditVerify(h.dataDir);
  t.match(marker, { v: 1, ok: true, target: path.join(h.dataDir, 'audit') });
  t.ok(marker!.records! > 0, `${marker!.records} records`);
  const b = ((await posture(`?bot=${h.botId}`)).json.bots as BotPosture[])[0]!;
  t.equal(check(b, 'audit-verify').status, 'pass', check(b, 'audit-verify').explanation.en);
  t.equal(b.score, 100 - 6 - 6, 'market orders and the trading window are left');
});

t.test('kguard doctor --json prints the admin API answer; the text is the same data', async (t) => {
  const flags = ['--admin-url', `${h.adminUrl}/admin/v1`, '--token-file', viewerFile];
  const api = (await posture()).json as unknown as PostureReport;
  const json = await kguard(['doctor', '--json', ...flags]);
  t.equal(json.code, 0, json.stderr);
  const cli = JSON.parse(json.stdout) as PostureReport;
  t.same(cli.bots, api.bots, 'the same report as GET /admin/v1/posture');

  const en = await kguardInProcess(['doctor', '--lang', 'en', '--bot', h.botId, ...flags]);
  t.equal(en.code, 0, en.stderr);
  const b = cli.bots[0]!;
  t.match(en.stdout, `${h.botId} (owner alice): ${b.score}/100`);
  for (const c of b.checks) {
    const line = en.stdout.split('\n').find((l) => new RegExp(`^  (PASS|FAIL) +${c.weight}  ${c.id} `).test(l));
    t.ok(line, `a line for ${c.id}`);
    t.match(line, `${c.status === 'pass' ? 'PASS' : 'FAIL'}`, `${c.id}: ${c.status}`);
    t.match(line, c.explanation.en, `${c.id}: its explanation`);
  }
  b.recommendations.forEach((r, i) => {
    t.match(en.stdout, `${i + 1}. [${r.weight}] ${r.check}: ${r.en}`, `recommendation ${i + 1}`);
    t.match(en.stdout, `-> ${r.link.en}`);
  });

  const ko = await kguardInProcess(['doctor', ...flags]);
  t.equal(ko.code, 0, ko.stderr);
  t.match(ko.stdout, '보안 점검', 'Korean by default (the configured language)');
  t.match(ko.stdout, `${h.botId} (담당 alice): ${b.score}/100`);
  for (const r of b.recommendations) t.match(ko.stdout, `-> ${r.link.ko}`);

  const missing = await kguardInProcess(['doctor', '--bot', 'nobody', ...flags]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, 'HTTP 404');
  const noToken = await kguardInProcess(['doctor', '--admin-url', `${h.adminUrl}/admin/v1`]);
  t.equal(noToken.code, 2, 'no token file: a usage error');
});

t.test("a call through a mesh sidecar's inbound address (Istio's 127.0.0.6) fails visible-sources, naming it", async (t) => {
  const mesh = new Agent({ localAddress: '127.0.0.6' });
  t.teardown(() => mesh.close());
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { dispatcher: mesh })).json.return_code, 0, 'a quote from 127.0.0.6');
  // Learning runs after the answer: wait for the baseline to hold the address.
  await waitFor(
    async () => (await gatherSnapshots(sources(), h.botId))[0]!.sources.seen.some((s) => s.address === '127.0.0.6'),
    15_000,
    'the baseline to learn 127.0.0.6',
  );
  const b = ((await posture(`?bot=${h.botId}`)).json as unknown as PostureReport).bots[0]!;
  t.equal(check(b, 'visible-sources').status, 'fail');
  t.match(check(b, 'visible-sources').explanation.en, /127\.0\.0\.6, the address a service mesh's sidecar \(Istio\) connects from/);
  t.ok(
    b.recommendations.some((r) => r.check === 'visible-sources' && r.link.en === 'docs/security-guide.en.md#visible-sources'),
    'recommended, with its guide section',
  );
});
