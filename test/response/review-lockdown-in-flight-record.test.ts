// What was in flight when a lockdown landed: each replica ends the locked
// bot's calls it holds (held for approval, queued for a slot or the key's
// token, realtime sessions), but only its log said so; the incident, which the
// responder reads, named late and lost orders and nothing of the calls cut
// off, so "was anything about to go out, and where?" had no answer there.
// Each replica now records what it stopped beside the incident, and the
// report (JSON and Markdown) shows it per replica. Two sidecars in this
// process, one real redis-server, one simulator.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FIXTURES, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `lockdown-in-flight-record-${process.pid}.yaml`);
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
  approval: { mode: 'hold', holdSeconds: 60 },
  response: { damage: { deadlineMs: 1_000 } },
});

const A: Harness = await startHarness({ policyFile, config: replica('replica-a') });
const B: Harness = await startHarness({ policyFile, config: replica('replica-b'), replicaOf: A });
t.teardown(async () => {
  await B.close();
  await A.close();
});

interface Stopped {
  replica: string;
  ended: number;
  refused: number;
}

t.test('the incident says what each replica had in flight and stopped', async (t) => {
  const admin = await A.adminToken('sec-lead', 'admin');
  const token = await B.token();
  const held = B.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' }, { token });
  await waitFor(
    async () => ((await A.admin('GET', '/admin/v1/approvals?status=pending', admin)).json.approvals as unknown[]).length === 1,
    10_000,
    'the order held for approval on replica B',
  );
  const lock = await A.admin('POST', '/admin/v1/lockdown', admin, { bot: A.botId, reason: 'bot credential leaked' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  const id = String(lock.json.id);
  t.match(String((await held).json.return_msg), /KG3008/, 'the held order was ended by the lockdown');

  const report = async () => (await A.admin('GET', `/admin/v1/incidents/${id}`, admin)).json;
  const stoppedOn = async (name: string) => ((await report()).stopped as Stopped[] | undefined)?.find((s) => s.replica === name);
  await waitFor(async () => (await stoppedOn('replica-b')) !== undefined && (await stoppedOn('replica-a')) !== undefined, 10_000, 'both replicas recorded');
  t.match(await stoppedOn('replica-b'), { ended: 1, refused: 0 }, 'replica B ended the held order');
  t.match(await stoppedOn('replica-a'), { ended: 0 }, 'replica A had nothing in flight');
  const events = (await report()).timeline as { event: string; detail?: string }[];
  t.ok(
    events.some((e) => e.event === 'calls in flight stopped' && /replica-b: 1 call/.test(e.detail ?? '')),
    'the timeline names the replica and what it stopped',
  );
  const md = (await A.admin('GET', `/admin/v1/incidents/${id}?format=md`, admin)).text;
  t.match(md, /replica-b: 1 call/, 'and so does the report');
});
