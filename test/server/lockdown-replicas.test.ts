// A kill switch pressed on replica A takes effect on replica B at once, not
// only at B's next look at the lock flags: B's calls of the locked bot that are
// already past the lockdown stage (held for approval, queued for a governor
// slot or the key's token) end with the lockdown's error when A publishes the
// lockdown. Two sidecars in this process, one real redis-server, one simulator.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CANARY, FIXTURES, startHarness, waitFor, type CallResult, type Harness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `lockdown-replicas-${process.pid}.yaml`);
await mkdir(path.dirname(policyFile), { recursive: true });
// Orders of 5 or more wait for an approver.
await writeFile(
  policyFile,
  `${readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`,
);
t.teardown(() => rm(policyFile, { force: true }));

const replica = (name: string) => ({
  state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 2_000 } },
  audit: { replicaId: name, sinks: [{ type: 'file', dir: `audit-${name}` }] },
  risk: { enabled: false },
  // A held call waits long; queries queue for one slot a second (patiently).
  approval: { mode: 'hold', holdSeconds: 60 },
  upstream: { limits: { queriesPerSecond: 1, queryMaxWaitMs: 60_000 } },
});

const A: Harness = await startHarness({ policyFile, config: replica('A') });
const B: Harness = await startHarness({ policyFile, config: replica('B'), replicaOf: A });
t.teardown(async () => {
  await B.close();
  await A.close();
});
const admin = await A.adminToken('sec-lead', 'admin');
const codeOf = (r: CallResult) => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];

t.test('a call held for approval on B ends with the lockdown error when A locks its bot', async (t) => {
  const token = await B.token();
  const held = B.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' }, { token });
  let pending: Record<string, unknown>[] = [];
  await waitFor(
    async () => {
      pending = (await A.admin('GET', '/admin/v1/approvals?status=pending', admin)).json.approvals as Record<string, unknown>[];
      return pending.length === 1;
    },
    10_000,
    'the held call',
  );
  const lock = await A.admin('POST', '/admin/v1/lockdown', admin, { bot: A.botId, reason: 'replica hold drill' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  const r = await held;
  t.equal(codeOf(r), 'KG3008', `ended as locked down: ${r.text}`);
  t.match(String(r.json.return_msg), String(lock.json.id), 'naming the incident');
  const approval = (await A.admin('GET', `/admin/v1/approvals/${String(pending[0]!.id)}`, admin)).json;
  t.equal(approval.status, 'timeout', 'its approval closed: nobody can approve a call that will not go out');
  t.notOk(
    A.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'nothing reached the broker',
  );
});

t.test('queries queued on B for a governor slot end with the lockdown error when A locks their bot', async (t) => {
  const bot = 'bot-queued';
  const token = await A.addBot(bot, ['kind:query', 'kind:account', 'kind:order', 'kind:cancel']);
  await waitFor(() => B.sidecar.parts.bots.get(bot) !== undefined, 10_000, 'B sees the new bot');
  const quotes = () => A.sim.requestLog().filter((x) => x.apiId === 'ka10001').length;
  const before = quotes();
  const N = 8;
  let answered = 0;
  // Queries have no pre-send re-check: before this, B sent every queued one to Kiwoom after the lockdown.
  const calls = Array.from({ length: N }, () =>
    B.call('ka10001', { stk_cd: '005930' }, { token }).then((r) => {
      answered++;
      return r;
    }),
  );
  await waitFor(() => answered > 0, 10_000, 'the first query answered (the rest queue, one a second)');
  const lock = await A.admin('POST', '/admin/v1/lockdown', admin, { bot, reason: 'replica queue drill' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  const results = await Promise.all(calls);
  const ok = results.filter((r) => r.json.return_code === 0).length;
  const ended = results.filter((r) => codeOf(r) === 'KG3008' && String(r.json.return_msg).includes(String(lock.json.id)));
  t.equal(ok + ended.length, N, `each query went out before the lockdown or ended with it: ${results.map((r) => codeOf(r) ?? 'ok').join(' ')}`);
  t.ok(ended.length > 0, `queued queries ended on B with the lockdown's error (${ended.length} of ${N})`);
  t.equal(quotes() - before, ok, 'only the queries answered OK reached the broker');
});
