// The report around the checks: the gatherer over stand-in parts (policy
// missing, changed on disk or unreadable; an unknown bot; a corrupt baseline),
// the audit verify marker, and the text rendering of the same data.
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import t from 'tap';
import { scoreBot } from '../../proxy/admin/posture-checks.js';
import { gatherSnapshots, postureReport, type PostureSources } from '../../proxy/admin/posture-gather.js';
import { auditVerifyMarkerFile, readAuditVerify, recordAuditVerify, verifiedOneOf } from '../../proxy/admin/posture-marker.js';
import { renderPosture } from '../../proxy/admin/posture-text.js';
import { defaultConfig } from '../../proxy/common/config.js';
import { NOW, withSnapshot } from './snapshot.js';

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kguard-posture-'));
  await chmod(dir, 0o700);
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

const BOT = {
  id: 'trend-bot',
  owner: 'alice',
  account: '5012345678',
  allowed: ['kind:query', 'kt10000'],
  enabled: true,
  createdAt: new Date(NOW - 5 * 86_400_000).toISOString(),
  secret: { alg: 'scrypt', N: 16384, r: 8, p: 1, salt: Buffer.alloc(16).toString('base64'), hash: Buffer.alloc(32).toString('base64') },
};

function fakeSources(over: Partial<PostureSources> = {}, store: Record<string, string> = {}): PostureSources {
  const config = { ...defaultConfig(), dataDir: dir, risk: { location: { allowedCidrs: ['10.0.0.0/8'] } } };
  return {
    config,
    bots: { list: () => [{ id: BOT.id }], get: (id) => (id === BOT.id ? BOT : undefined) },
    vault: { describe: async () => undefined, provider: { id: 'local' } },
    approvals: { approvers: async () => [] },
    policy: { current: () => ({ version: 'v1', file: '/policies/p.yaml' }) },
    loadPolicy: async () => ({ version: 'v1', doc: { name: 'p', rules: [{ id: 'size', type: 'order-size', when: { kinds: ['order'] } }] } }),
    store: { get: async (k: string) => store[k] ?? null },
    brokerSessions: { list: async () => [] },
    registry: new Registry(),
    now: () => NOW,
    ...over,
  };
}

t.test('the gatherer over stand-in parts', async (t) => {
  const [s] = await gatherSnapshots(
    fakeSources({}, { 'risk:baseline:trend-bot': JSON.stringify({ sources: { '10.1.1.1': NOW - 1000 }, firstSeen: NOW - 9e8 }) }),
  );
  t.equal(s!.now, NOW);
  t.ok(s!.bot.canOrder, 'kt10000 is an order api-id');
  t.same(s!.sources, {
    trustedCidrs: ['10.0.0.0/8'],
    seen: [{ address: '10.1.1.1', lastSeenAt: new Date(NOW - 1000).toISOString() }],
    since: new Date(NOW - 9e8).toISOString(),
  });
  t.match(s!.policy, { state: 'loaded', name: 'p', rules: [{ id: 'size', type: 'order-size', mode: 'enforce', kinds: ['order'] }] });
  t.notOk(s!.credential, 'no credential record');
  t.same(s!.brokerTokens, { idleRevokeMs: 0, sessions: [], liveSecondsTotal: 0 });
  t.same(s!.upstream, { target: 'sim', allowInsecureHttp: false }, 'the simulator has no fixed URL');

  const corrupt = (await gatherSnapshots(fakeSources({}, { 'risk:baseline:trend-bot': '{nope' })))[0]!;
  t.same(corrupt.sources.seen, [], 'a corrupt baseline: nothing seen');

  const queryOnly = (
    await gatherSnapshots(fakeSources({ bots: { list: () => [{ id: 'q' }], get: () => ({ ...BOT, id: 'q', allowed: ['kind:query'] }) } }))
  )[0]!;
  t.notOk(queryOnly.bot.canOrder);
});

t.test('the policy in force: missing, changed on disk, unreadable', async (t) => {
  const policyOf = async (over: Partial<PostureSources>) => (await gatherSnapshots(fakeSources(over)))[0]!.policy;
  t.match(await policyOf({ policy: { current: () => undefined } }), { state: 'missing' });
  t.match(await policyOf({ loadPolicy: async () => ({ version: 'v2', doc: { rules: [] } }) }), { state: 'changed', detail: 'in force v1, on disk v2' });
  t.match(
    await policyOf({
      loadPolicy: async () => {
        throw new Error('cannot read the file (ENOENT)');
      },
    }),
    { state: 'unreadable', detail: /ENOENT/ },
  );
  const report = await postureReport(fakeSources({ loadPolicy: async () => ({ version: 'v2', doc: { rules: [] } }) }));
  const limits = report.bots[0]!.checks.find((c) => c.id === 'order-limits')!;
  t.equal(limits.status, 'fail', 'a policy that cannot be judged fails its checks');
  t.match(limits.explanation.en, 'not the policy in force');
});

t.test('an unknown bot is KG1009; the report is stamped with the snapshot time', async (t) => {
  await t.rejects(gatherSnapshots(fakeSources(), 'nobody'), { code: 'KG1009' });
  const report = await postureReport(fakeSources(), 'trend-bot');
  t.equal(report.generatedAt, new Date(NOW).toISOString());
  t.equal(report.bots.length, 1);
});

t.test('the audit verify marker: recorded, read back, only for the configured log', async (t) => {
  t.equal(await readAuditVerify(dir), undefined, 'none yet');
  const logDir = path.join(dir, 'audit');
  await recordAuditVerify(dir, { ok: true, target: logDir, records: 12, lastSeq: 12, at: new Date(NOW) });
  t.same(await readAuditVerify(dir), { v: 1, at: new Date(NOW).toISOString(), ok: true, target: logDir, records: 12, lastSeq: 12 });
  t.equal((await stat(auditVerifyMarkerFile(dir))).mode & 0o777, 0o600, 'private like the rest of the data directory');

  const s = (await gatherSnapshots(fakeSources()))[0]!;
  t.match(s.audit.lastVerify, { ok: true, records: 12 }, 'the default file sink is <dataDir>/audit');

  t.ok(verifiedOneOf(logDir, [logDir]));
  t.ok(verifiedOneOf(path.join(logDir, 'audit-000001.log'), [logDir]), 'a file in the log directory');
  t.notOk(verifiedOneOf('/elsewhere/audit', [logDir]));
  await recordAuditVerify(dir, { ok: true, target: '/elsewhere/audit', at: new Date(NOW) });
  t.notOk((await gatherSnapshots(fakeSources()))[0]!.audit.lastVerify, 'a copy verified elsewhere does not count');

  await writeFile(auditVerifyMarkerFile(dir), '{"v":1,"at":"yesterday","ok":true,"target":"/x"}');
  t.equal(await readAuditVerify(dir), undefined, 'a malformed marker is none');
  await writeFile(auditVerifyMarkerFile(dir), 'not json');
  t.equal(await readAuditVerify(dir), undefined);
});

t.test('the text report is the JSON data in one language', async (t) => {
  const b = scoreBot(
    withSnapshot((s) => {
      s.listen.bot.host = '0.0.0.0';
      delete s.audit.lastVerify;
    }),
  );
  const report = { generatedAt: new Date(NOW).toISOString(), bots: [b] };
  for (const lang of ['ko', 'en'] as const) {
    const text = renderPosture(report, lang);
    t.match(text, `trend-bot (${lang === 'ko' ? '담당' : 'owner'} alice): ${b.score}/100`);
    for (const c of b.checks) t.match(text, `${c.status === 'pass' ? 'PASS' : 'FAIL'} ${String(c.weight).padStart(3)}  ${c.id}`, `${lang}: ${c.id}`);
    for (const c of b.checks) t.match(text, c.explanation[lang]);
    t.match(text, `1. [6] listen-address: ${b.recommendations[0]![lang]}`);
    t.match(text, `-> docs/security-guide.${lang}.md#listen-loopback`);
    t.match(text, `2. [4] audit-verify`);
  }
  t.match(renderPosture({ generatedAt: report.generatedAt, bots: [] }, 'en'), 'no bots are registered');
  t.match(renderPosture({ generatedAt: report.generatedAt, bots: [scoreBot(withSnapshot(() => undefined))] }, 'en'), 'no recommendations: every check passed');
});
