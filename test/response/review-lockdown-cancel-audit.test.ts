// A lockdown's cancel-all cancelled the bot's open orders, but the audit chain
// said only "lockdown issued" and "incident opened" with counts: which orders
// the sidecar itself cancelled, and Kiwoom's answers, lived only in the
// incident record in the Store (lost on restart with in-memory state, neither
// hash-chained nor signed). An officer asking "what happened to order X" found
// the bot's order in the chain and nothing after it. Now each cancel the
// sidecar sends during a lockdown (its own cancel-all, the retries, the run
// again for a late order) is one record in the chain, found by the order
// number; the account masked as the audit masks a call's. Through the real
// sidecar over HTTP against the simulator, then `kguard audit verify`.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import type { TrRequest, TrResponse } from '../../proxy/kiwoom/client.js';
import { kguardInProcess } from '../cli/run-cli.js';
import { orderPlacedDuringLockdown, RESTING_ORDER } from '../helpers/lockdown-steps.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({
    config: { response: { damage: { deadlineMs: 1_000 }, cancel: { maxOrders: 2, confirmRounds: 1, retryIntervalMs: 300, followLeaseMs: 30_000 } } },
  });
});
t.teardown(() => h.close());

interface Line {
  type: string;
  replica: string;
  seq: number;
  data: Record<string, unknown>;
}

async function auditLines(): Promise<{ text: string; lines: Line[] }> {
  const dir = path.join(h.dataDir, 'audit');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).sort();
  const text = (await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')))).join('');
  return {
    text,
    lines: text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line),
  };
}

const cancelsOf = async (id: string) =>
  (await auditLines()).lines.filter((l) => l.type === 'lockdown' && l.data.action === 'cancel' && l.data.incidentId === id);
const statusOf = (ordNo: string) => h.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo)?.status;

async function place(price: string, token?: string): Promise<string> {
  const placed = await h.call('kt10000', { ...RESTING_ORDER, ord_uv: price }, token ? { token } : {});
  if (placed.json.return_code !== 0) throw new Error(`not placed: ${placed.text}`);
  return String(placed.json.ord_no);
}

t.test('every cancel of the lockdown and its retries is a record in the chain, found by order number, and verifies', async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  const ordNos = [await place('60000'), await place('60100'), await place('60200')];
  // Kiwoom refuses the cancel of the first order once: its record carries Kiwoom's answer.
  const kiwoom = h.sidecar.parts.kiwoom;
  const call = kiwoom.call.bind(kiwoom);
  let refused = false;
  kiwoom.call = async (req: TrRequest): Promise<TrResponse> => {
    if (req.apiId === 'kt10003' && !refused && JSON.parse(req.body.toString()).orig_ord_no === ordNos[0]) {
      refused = true;
      return { status: 200, apiId: 'kt10003', body: Buffer.from(JSON.stringify({ return_code: 2, return_msg: '[2000](RC4033:모의) 취소 거부' })) };
    }
    return call(req);
  };
  t.teardown(() => {
    kiwoom.call = call;
  });

  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'compromised bot host' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  const id = String(lock.json.id);
  await waitFor(() => ordNos.every((o) => statusOf(o) === 'cancelled'), 30_000, 'every order cancelled (by the retries too)');
  await waitFor(async () => (await cancelsOf(id)).filter((l) => l.data.accepted === true).length === 3, 15_000, 'three accepted cancels recorded');
  const recs = await cancelsOf(id);
  const runs = new Set(recs.map((l) => l.data.run));
  t.ok(runs.has('lockdown') && runs.has('retry'), `the lockdown's own cancels and the retries' are recorded: ${[...runs].join(', ')}`);
  for (const ordNo of ordNos)
    t.match(
      recs.find((l) => l.data.orderNo === ordNo && l.data.accepted === true)?.data,
      { incidentId: id, viaBot: h.botId, stkCd: '005930', side: 'buy', qty: 1, returnCode: 0, attempts: 1 },
      `order ${ordNo}: its cancel, accepted by Kiwoom`,
    );
  t.match(
    recs.find((l) => l.data.orderNo === ordNos[0] && l.data.accepted === false)?.data,
    { run: 'lockdown', returnCode: 2, returnMsg: /취소 거부/ },
    "the refused cancel is recorded with Kiwoom's answer",
  );
  t.ok(
    recs.every((l) => l.replica === recs[0]!.replica && l.replica.length > 0),
    'each names the replica that sent it',
  );

  // The account is masked as the audit masks a call's: the officer's `kguard audit hash` finds it.
  const hashed = await kguardInProcess(['audit', 'hash', '--data-dir', h.dataDir], { stdin: CANARY.account });
  t.equal(hashed.code, 0, hashed.stderr);
  const accountHash = hashed.stdout.trim();
  t.match(accountHash, /^hmac:[0-9a-f]{64}$/);
  t.ok(
    recs.every((l) => l.data.account === accountHash),
    'every record carries the account as its keyed hash',
  );
  const { text } = await auditLines();
  for (const secret of [CANARY.account, CANARY.appKey, CANARY.secretKey]) t.notOk(text.includes(secret), 'no raw account or key in the chain');

  await h.sidecar.parts.auditor.checkpointNow();
  const v = await kguardInProcess(['audit', 'verify', '--lang', 'en', '--data-dir', h.dataDir]);
  t.equal(v.code, 0, v.stderr || v.stdout);
  t.match(v.stdout, /^VERIFIED /);
});

t.test("the late order's cancel is recorded too", async (t) => {
  const admin = await h.adminToken('sec-late', 'admin');
  const token = await h.addBot('bot-late', ['kind:query', 'kind:order']);
  const { incidentId: id, ordNo } = await orderPlacedDuringLockdown(t, h, { admin, bot: 'bot-late', order: { ...RESTING_ORDER, ord_uv: '61000' }, token });
  await waitFor(() => statusOf(ordNo) === 'cancelled', 20_000, 'the late order cancelled');
  await waitFor(async () => (await cancelsOf(id)).some((l) => l.data.orderNo === ordNo), 15_000, 'its cancel recorded');
  t.match((await cancelsOf(id)).find((l) => l.data.orderNo === ordNo)?.data, {
    run: 'late-order',
    viaBot: 'bot-late',
    accepted: true,
    returnCode: 0,
    account: /^hmac:/,
  });
});

t.test('an audit sink refusing the cancel records never holds the cancels back; the incident says so', async (t) => {
  const admin = await h.adminToken('sec-down', 'admin');
  const token = await h.addBot('bot-down', ['kind:query', 'kind:order']);
  const ordNos = [await place('62000', token), await place('62100', token)];
  const auditor = h.sidecar.parts.auditor;
  const append = auditor.append.bind(auditor);
  auditor.append = async (event, options) => {
    if (event.type === 'lockdown' && event.action === 'cancel') throw new Error('sink down (test)');
    return append(event, options);
  };
  t.teardown(() => {
    auditor.append = append;
  });
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: 'bot-down', reason: 'audit down' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  const id = String(lock.json.id);
  t.ok(
    ordNos.every((o) => statusOf(o) === 'cancelled'),
    'both orders cancelled',
  );
  const report = (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json;
  const events = (report.timeline as { event: string; detail?: string }[]).filter((e) => e.event === 'audit');
  t.match(events[0]?.detail, /2 of 2 cancel record\(s\) \(lockdown, .* via bot-down\) not in the audit chain: audit failed: sink down/, JSON.stringify(events));
});
