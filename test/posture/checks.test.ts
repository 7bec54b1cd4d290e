// The posture checks one by one, each over hand-made snapshots: a good
// snapshot passes everything; one changed fact fails exactly the check it
// concerns, with the numbers in both languages. Then the score and the
// ranking of recommendations.
import t, { type Test } from 'tap';
import { POSTURE_CHECKS, runCheck, scoreBot, scoreOf } from '../../proxy/admin/posture-checks.js';
import type { PostureCheck } from '../../proxy/admin/posture-kit.js';
import type { PostureSnapshot } from '../../proxy/admin/posture-types.js';
import { daysAgo, goodSnapshot, GOOD_RULES, withRules, withSnapshot } from './snapshot.js';

const byId = (id: string): PostureCheck => {
  const c = POSTURE_CHECKS.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
};
const run = (id: string, s: PostureSnapshot) => runCheck(byId(id), s);

/** Asserts the verdict and that both languages say something containing each expected fragment. */
function expect(t: Test, id: string, s: PostureSnapshot, status: 'pass' | 'fail', en: (string | RegExp)[] = [], ko: (string | RegExp)[] = []) {
  const r = run(id, s);
  t.equal(r.status, status, `${id}: ${r.explanation.en}`);
  for (const f of en) t.match(r.explanation.en, f, `${id} (en) says ${f}`);
  for (const f of ko) t.match(r.explanation.ko, f, `${id} (ko) says ${f}`);
  t.ok(r.explanation.ko.length > 0 && r.explanation.en.length > 0, `${id}: explained in Korean and English`);
  return r;
}

t.test('the list: unique ids and anchors, weights add up to 100, bilingual titles and recommendations', async (t) => {
  t.equal(new Set(POSTURE_CHECKS.map((c) => c.id)).size, POSTURE_CHECKS.length, 'ids are unique');
  t.equal(new Set(POSTURE_CHECKS.map((c) => c.recommendation.anchor)).size, POSTURE_CHECKS.length, 'one guide section per check');
  t.equal(
    POSTURE_CHECKS.reduce((n, c) => n + c.weight, 0),
    100,
    'weights add up to 100',
  );
  for (const c of POSTURE_CHECKS) {
    t.ok(c.weight > 0 && Number.isInteger(c.weight), `${c.id}: positive integer weight`);
    t.match(c.recommendation.anchor, /^[a-z0-9-]+$/, `${c.id}: anchor is an id`);
    t.match(c.recommendation.ko, /[가-힣]/, `${c.id}: Korean recommendation`);
    t.notMatch(c.recommendation.en, /[가-힣]/, `${c.id}: English recommendation`);
    t.match(c.title.ko, /[가-힣]/, `${c.id}: Korean title`);
  }
});

t.test('a good setup passes every check and scores 100', async (t) => {
  const b = scoreBot(goodSnapshot());
  t.same(
    b.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.explanation.en}`),
    [],
  );
  t.equal(b.score, 100);
  t.same(b.recommendations, []);
  t.equal(b.bot, 'trend-bot');
  t.equal(b.owner, 'alice');
});

t.test('bot-secret: age and hash strength', async (t) => {
  expect(t, 'bot-secret', goodSnapshot(), 'pass', ['10 days old', 'scrypt N=16384 r=8'], ['10일']);
  expect(
    t,
    'bot-secret',
    withSnapshot((s) => void (s.bot.createdAt = daysAgo(91))),
    'fail',
    ['91 days old', 'limit 90'],
    ['91일'],
  );
  expect(
    t,
    'bot-secret',
    withSnapshot((s) => void (s.bot.createdAt = daysAgo(90))),
    'pass',
    ['90 days old'],
  );
  expect(
    t,
    'bot-secret',
    withSnapshot((s) => void (s.bot.secret.N = 1024)),
    'fail',
    ['N=1024<16384'],
  );
  expect(
    t,
    'bot-secret',
    withSnapshot((s) => void (s.bot.secret.alg = 'md5')),
    'fail',
    ['alg=md5'],
  );
  // A generated bot secret is 256 random bits: a salted SHA-256 of it is not weak (no work factor needed).
  expect(
    t,
    'bot-secret',
    withSnapshot((s) => void Object.assign(s.bot.secret, { alg: 'sha256', N: 0, r: 0, p: 0 })),
    'pass',
    ['salted SHA-256'],
  );
  expect(
    t,
    'bot-secret',
    withSnapshot((s) => void (s.bot.secret.saltBytes = 8)),
    'fail',
    ['salt 8B<16B'],
  );
  expect(
    t,
    'bot-secret',
    withSnapshot((s) => void (s.bot.createdAt = 'garbage')),
    'fail',
    ['unreadable'],
  );
});

t.test('credential-age: age of the current key version and the last rotation', async (t) => {
  expect(t, 'credential-age', goodSnapshot(), 'pass', ['20 days old', 'last rotated', 'key version 2'], ['마지막 교체']);
  expect(
    t,
    'credential-age',
    withSnapshot((s) => Object.assign(s.credential!, { keyVersion: 1, createdAt: daysAgo(120) })),
    'fail',
    ['120 days old', 'never rotated since import'],
  );
  expect(
    t,
    'credential-age',
    withSnapshot((s) => void delete s.credential),
    'pass',
    ['no Kiwoom keys are stored'],
  );
  expect(
    t,
    'credential-age',
    withSnapshot((s) => void (s.credential!.createdAt = '')),
    'fail',
    ['unreadable'],
  );
});

t.test('key-provider: a local keyring is a finding only in production', async (t) => {
  expect(t, 'key-provider', goodSnapshot(), 'pass', ['aws-kms']);
  const local = withSnapshot((s) => {
    s.keyProvider = 'local';
    s.credential!.provider = 'local';
  });
  expect(t, 'key-provider', local, 'fail', ['production', 'local keyring'], ['로컬 키링']);
  expect(
    t,
    'key-provider',
    withSnapshot((s) => void (s.credential!.provider = 'local')),
    'fail',
    ['record still wrapped under local; primary aws-kms'],
  );
  const mock = withSnapshot((s) => {
    s.keyProvider = 'local';
    s.credential!.provider = 'local';
    s.upstream = { target: 'mock', url: 'https://mockapi.kiwoom.com', allowInsecureHttp: false };
  });
  expect(t, 'key-provider', mock, 'pass', ['mock (not production)']);
});

t.test('admin-totp: admins and approvers need a TOTP enrolment; viewers do not', async (t) => {
  expect(t, 'admin-totp', goodSnapshot(), 'pass', ['all 1 admins']);
  const r = expect(
    t,
    'admin-totp',
    withSnapshot((s) => {
      s.admins.push({ name: 'bob', role: 'admin', totp: false }, { name: 'carol', role: 'approver', totp: false });
    }),
    'fail',
    ['bob (admin), carol (approver)'],
    ['bob (admin)'],
  );
  t.equal(r.weight, 8);
  expect(
    t,
    'admin-totp',
    withSnapshot((s) => void (s.admins = [])),
    'pass',
    ['no admin or approver tokens'],
  );
});

t.test('order-limits: an enforced order-size and rate-limit rule selecting every order of the bot', async (t) => {
  const rules = (f: (r: typeof GOOD_RULES) => typeof GOOD_RULES) => withRules(f(GOOD_RULES));
  expect(t, 'order-limits', goodSnapshot(), 'pass', ['order-size', 'order-rate']);
  expect(
    t,
    'order-limits',
    rules((r) => r.filter((x) => x.type !== 'order-size')),
    'fail',
    ['order-size'],
  );
  expect(
    t,
    'order-limits',
    rules((r) => r.filter((x) => x.type !== 'rate-limit')),
    'fail',
    ['rate-limit'],
  );
  expect(
    t,
    'order-limits',
    rules((r) => r.map((x) => (x.type === 'order-size' ? { ...x, mode: 'shadow' as const } : x))),
    'fail',
    ['order-size (shadow only: order-size)'],
  );
  expect(
    t,
    'order-limits',
    rules((r) => r.map((x) => (x.type === 'rate-limit' ? { ...x, kinds: ['query'] } : x))),
    'fail',
    ['rate-limit'],
    [],
  );
  expect(
    t,
    'order-limits',
    rules((r) => r.map((x) => (x.type === 'order-size' ? { ...x, bots: ['other-bot'] } : x))),
    'fail',
    ['order-size'],
  );
  expect(
    t,
    'order-limits',
    rules((r) => r.map((x) => (x.type === 'order-size' ? { ...x, sides: ['buy'] } : x))),
    'fail',
    ['some orders only'],
  );
  expect(
    t,
    'order-limits',
    rules((r) => r.map((x) => (x.type === 'order-size' ? { ...x, bots: ['trend-bot'], accounts: ['5012345678'] } : x))),
    'pass',
  );
  expect(
    t,
    'order-limits',
    rules((r) => r.map((x) => (x.type === 'order-size' ? { ...x, accounts: ['999'] } : x))),
    'fail',
    ['order-size'],
  );
  expect(t, 'order-limits', { ...withRules([]), bot: { ...goodSnapshot().bot, canOrder: false } }, 'pass', ['cannot place orders']);
  expect(
    t,
    'order-limits',
    withSnapshot((s) => void (s.policy = { state: 'missing', detail: 'no policy' })),
    'fail',
    ['no valid policy is in force'],
  );
  expect(
    t,
    'order-limits',
    withSnapshot((s) => void (s.policy = { state: 'changed', detail: 'in force a, on disk b' })),
    'fail',
    ['not the policy in force'],
  );
});

t.test('market-orders: refused only when every market order type is excluded for the bot', async (t) => {
  const tradeTypes = (extra: Partial<(typeof GOOD_RULES)[number]>) =>
    withRules([...GOOD_RULES.filter((r) => r.type !== 'trade-types'), { id: 'tt', type: 'trade-types', mode: 'enforce', ...extra }]);
  expect(t, 'market-orders', goodSnapshot(), 'pass', ['refused']);
  expect(t, 'market-orders', tradeTypes({ allow: ['limit', 'market', 'best'] }), 'fail', ['market orders are allowed (market)'], ['시장가']);
  expect(t, 'market-orders', tradeTypes({ allow: ['0', '3'] }), 'fail', ['(market)'], []);
  expect(t, 'market-orders', tradeTypes({ deny: ['market'] }), 'fail', ['market-ioc, market-fok']);
  expect(t, 'market-orders', tradeTypes({ deny: ['market', '13', 'market-fok'] }), 'pass');
  expect(t, 'market-orders', tradeTypes({ allow: ['limit'], mode: 'shadow' }), 'fail', ['market, market-ioc, market-fok']);
  expect(t, 'market-orders', tradeTypes({ allow: ['limit'], bots: ['other'] }), 'fail');
  expect(
    t,
    'market-orders',
    withSnapshot((s) => void (s.bot.canOrder = false)),
    'pass',
    ['cannot place orders'],
  );
});

t.test('trading-window and window-shadow: a window exists, and it is enforced', async (t) => {
  const window = (extra: Partial<(typeof GOOD_RULES)[number]> | undefined) =>
    withRules([
      ...GOOD_RULES.filter((r) => r.type !== 'trading-window'),
      ...(extra ? [{ id: 'hours', type: 'trading-window', mode: 'enforce' as const, ...extra }] : []),
    ]);
  expect(t, 'trading-window', goodSnapshot(), 'pass', ['krx-hours']);
  expect(t, 'window-shadow', goodSnapshot(), 'pass', ['enforced: krx-hours']);
  expect(t, 'trading-window', window(undefined), 'fail', ['no rule limits'], ['시간']);
  expect(t, 'window-shadow', window(undefined), 'pass', ['no trading-window rule']);
  expect(t, 'trading-window', window({ mode: 'shadow' }), 'pass', ['hours']);
  const shadow = expect(t, 'window-shadow', window({ mode: 'shadow' }), 'fail', ['shadow mode only (hours)'], ['섀도']);
  t.equal(shadow.recommendation.anchor, 'window-enforce');
  expect(t, 'trading-window', window({ kinds: ['query'] }), 'fail');
});

t.test('trusted-sources and new-sources: pinned ranges, and where the bot called from lately', async (t) => {
  expect(t, 'trusted-sources', goodSnapshot(), 'pass', ['10.1.2.0/24']);
  expect(
    t,
    'trusted-sources',
    withSnapshot((s) => void (s.sources.trustedCidrs = [])),
    'fail',
    ['any machine'],
  );
  expect(t, 'new-sources', goodSnapshot(), 'pass', ['all 1 addresses']);
  const outside = withSnapshot((s) => void s.sources.seen.push({ address: '203.0.113.9', lastSeenAt: daysAgo(1) }));
  expect(t, 'new-sources', outside, 'fail', ['outside the trusted ranges', '203.0.113.9'], ['203.0.113.9']);
  const old = withSnapshot((s) => void s.sources.seen.push({ address: '203.0.113.9', lastSeenAt: daysAgo(8) }));
  expect(t, 'new-sources', old, 'pass', ['(2 seen in all)']);
  const mapped = withSnapshot((s) => void s.sources.seen.push({ address: '::ffff:10.1.2.77', lastSeenAt: daysAgo(1) }));
  expect(t, 'new-sources', mapped, 'pass', [], []);
  const v6 = withSnapshot((s) => {
    s.sources.trustedCidrs = ['2001:db8::/32', 'not-a-cidr', '10.0.0.0/99'];
    s.sources.seen = [{ address: '2001:db8::5', lastSeenAt: daysAgo(0) }];
  });
  expect(t, 'new-sources', v6, 'pass');
  const unpinned = (addresses: string[]) =>
    withSnapshot((s) => {
      s.sources.trustedCidrs = [];
      s.sources.seen = addresses.map((address) => ({ address, lastSeenAt: daysAgo(1) }));
    });
  expect(t, 'new-sources', unpinned(['10.0.0.1']), 'pass', ['one place']);
  expect(t, 'new-sources', unpinned(['10.0.0.1', '198.51.100.4']), 'fail', ['2 places', '198.51.100.4']);
  expect(t, 'new-sources', unpinned([]), 'pass', ['no calls']);
});

t.test("visible-sources: a mesh or a local proxy hiding the bot's address", async (t) => {
  const seenFrom = (host: string, addresses: string[], ago = 1) =>
    withSnapshot((s) => {
      s.listen.bot.host = host;
      s.sources.seen = addresses.map((address) => ({ address, lastSeenAt: daysAgo(ago) }));
    });
  expect(t, 'visible-sources', goodSnapshot(), 'pass', ['runs on this machine']);
  expect(t, 'visible-sources', seenFrom('0.0.0.0', ['10.1.2.3']), 'pass', ['visible: 10.1.2.3']);
  expect(t, 'visible-sources', seenFrom('0.0.0.0', []), 'pass', ['no calls']);
  // Istio's inbound passthrough address, whatever the listener, and as an IPv4-mapped address.
  expect(t, 'visible-sources', seenFrom('0.0.0.0', ['10.1.2.3', '127.0.0.6']), 'fail', ['127.0.0.6', 'service mesh'], ['127.0.0.6', 'Istio']);
  expect(t, 'visible-sources', seenFrom('127.0.0.1', ['::FFFF:127.0.0.6']), 'fail', ['service mesh']);
  expect(t, 'visible-sources', seenFrom('0.0.0.0', ['127.0.0.6'], 8), 'pass', ['no calls'], []);
  // A port open to other machines whose calls all arrive from loopback: a forwarder on this machine.
  expect(
    t,
    'visible-sources',
    seenFrom('0.0.0.0', ['127.0.0.1', '::1']),
    'fail',
    ['listens on 0.0.0.0 for other machines', 'loopback (127.0.0.1, ::1)'],
    ['루프백'],
  );
  expect(t, 'visible-sources', seenFrom('0.0.0.0', ['127.0.0.1', '10.1.2.3']), 'pass', ['10.1.2.3']);
  expect(t, 'visible-sources', seenFrom('127.0.0.1', ['127.0.0.1']), 'pass', ['loopback']);
});

t.test('audit-durability: a sink that survives a crash', async (t) => {
  expect(t, 'audit-durability', goodSnapshot(), 'pass', ['with a copy elsewhere']);
  expect(
    t,
    'audit-durability',
    withSnapshot((s) => void (s.audit.sinks = [{ type: 'stdout', id: 'stdout' }])),
    'fail',
    ['no audit sink survives'],
  );
  expect(
    t,
    'audit-durability',
    withSnapshot((s) => void (s.audit.sinks = [{ type: 'file', id: 'f', fsync: 'none', dir: '/x' }])),
    'fail',
    ['fsync none'],
  );
  expect(
    t,
    'audit-durability',
    withSnapshot((s) => void (s.audit.sinks = [{ type: 'file', id: 'f', fsync: 'always', dir: '/x' }])),
    'pass',
    ['no copy elsewhere'],
  );
});

t.test('audit-verify: recorded, successful and recent', async (t) => {
  expect(t, 'audit-verify', goodSnapshot(), 'pass', ['2 days ago', '1234 records']);
  expect(
    t,
    'audit-verify',
    withSnapshot((s) => void delete s.audit.lastVerify),
    'fail',
    ['never been recorded'],
  );
  expect(
    t,
    'audit-verify',
    withSnapshot((s) => void (s.audit.lastVerify!.at = daysAgo(8))),
    'fail',
    ['8 days ago', 'limit 7'],
  );
  expect(
    t,
    'audit-verify',
    withSnapshot((s) => void (s.audit.lastVerify!.ok = false)),
    'fail',
    ['FAILED'],
    ['실패'],
  );
  expect(
    t,
    'audit-verify',
    withSnapshot((s) => void (s.audit.sinks = [{ type: 'redis-stream', id: 'r' }])),
    'fail',
    ['no file audit sink'],
  );
});

t.test('upstream-tls: https, loopback or the simulator', async (t) => {
  expect(t, 'upstream-tls', goodSnapshot(), 'pass', ['https://api.kiwoom.com']);
  const up = (url: string | undefined) =>
    withSnapshot((s) => void (s.upstream = { target: url ? 'custom' : 'sim', ...(url ? { url } : {}), allowInsecureHttp: true }));
  expect(t, 'upstream-tls', up(undefined), 'pass', ['simulator']);
  expect(t, 'upstream-tls', up('http://127.0.0.1:18080'), 'pass', ['loopback']);
  expect(t, 'upstream-tls', up('http://gateway.internal:8080'), 'fail', ['plain HTTP'], ['평문']);
  expect(t, 'upstream-tls', up('::nonsense'), 'fail', ['cannot be parsed']);
});

t.test('listen-address: the bot port on loopback, or over TLS', async (t) => {
  expect(t, 'listen-address', goodSnapshot(), 'pass', ['loopback (127.0.0.1)']);
  const host = (h: string, tls = false) => withSnapshot((s) => void (s.listen.bot = { host: h, port: 8080, tls }));
  expect(t, 'listen-address', host('::1'), 'pass');
  expect(t, 'listen-address', host('localhost'), 'pass');
  expect(t, 'listen-address', host('0.0.0.0'), 'fail', ['0.0.0.0 without TLS']);
  expect(t, 'listen-address', host('0.0.0.0', true), 'pass', ['over TLS']);
  const admin = withSnapshot((s) => void (s.listen.admin.host = '0.0.0.0'));
  expect(t, 'listen-address', admin, 'pass', ['admin port 0.0.0.0:9090 is reachable too (no TLS)']);
});

t.test('broker-token-exposure: tokens live only while calls use them', async (t) => {
  expect(t, 'broker-token-exposure', goodSnapshot(), 'pass', ['42 s', '0 live session']);
  expect(
    t,
    'broker-token-exposure',
    withSnapshot((s) => void (s.brokerTokens.idleRevokeMs = 300_000)),
    'fail',
    ['kept 300 s', 'limit 60 s'],
  );
  const stuck = withSnapshot((s) => void (s.brokerTokens.sessions = [{ state: 'live', leases: 0, ageMs: 600_000 }]));
  expect(t, 'broker-token-exposure', stuck, 'fail', ['live 600 s with no call'], ['600초']);
  const busy = withSnapshot((s) => void (s.brokerTokens.sessions = [{ state: 'live', leases: 3, ageMs: 600_000 }]));
  expect(t, 'broker-token-exposure', busy, 'pass', ['1 live session']);
  const fresh = withSnapshot((s) => void (s.brokerTokens.sessions = [{ state: 'live', leases: 0, ageMs: 1_000 }]));
  expect(t, 'broker-token-exposure', fresh, 'pass');
});

t.test('the score is the passing weight; recommendations are the failures, most impact first', async (t) => {
  const s = withSnapshot((x) => {
    x.listen.bot.host = '0.0.0.0'; // listen-address, 6
    x.keyProvider = 'local'; // key-provider, 10
    delete x.audit.lastVerify; // audit-verify, 4
    x.admins.push({ name: 'bob', role: 'admin', totp: false }); // admin-totp, 8
  });
  const b = scoreBot(s);
  t.equal(b.score, 100 - 6 - 10 - 4 - 8);
  t.same(
    b.recommendations.map((r) => [r.check, r.weight]),
    [
      ['key-provider', 10],
      ['admin-totp', 8],
      ['listen-address', 6],
      ['audit-verify', 4],
    ],
  );
  for (const r of b.recommendations) {
    t.equal(r.link.en, `docs/security-guide.en.md#${r.anchor}`);
    t.equal(r.link.ko, `docs/security-guide.ko.md#${r.anchor}`);
  }
  t.equal(scoreOf([]), 100, 'no checks: nothing to lose');
  const weighted = [
    { ...b.checks[0]!, weight: 1, status: 'pass' as const },
    { ...b.checks[1]!, weight: 2, status: 'fail' as const },
  ];
  t.equal(scoreOf(weighted), 33, 'rounded down');
});

t.test('a check that throws fails instead of passing silently', async (t) => {
  const broken: PostureCheck = {
    ...POSTURE_CHECKS[0]!,
    run: () => {
      throw new Error('boom');
    },
  };
  const r = runCheck(broken, goodSnapshot());
  t.equal(r.status, 'fail');
  t.match(r.explanation.en, 'the check could not run: boom');
  const b = scoreBot(goodSnapshot(), [broken, POSTURE_CHECKS[1]!]);
  t.equal(b.score, Math.floor((100 * POSTURE_CHECKS[1]!.weight) / (POSTURE_CHECKS[0]!.weight + POSTURE_CHECKS[1]!.weight)));
});
