// The audit trail through the whole running sidecar: every forwarded, denied
// or rejected call leaves its records (keyed by the request id the bot sees),
// the log verifies, a forwarded order's receipt checks against the signed
// checkpoint, and an audit sink that breaks mid-run stops orders (fail closed)
// until it recovers.
import t from 'tap';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { keyedFingerprint } from '../../proxy/common/secret.js';
import { loadPublicKey, verifyReceipt, type AuditRecord, type Receipt } from '../../proxy/audit/index.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { startHarness, waitFor, CANARY, FIXTURES, type CallResult, type Harness } from '../helpers/harness.js';
import { auditLogText, has, readAuditRecords, recordsFor, waitForRequestRecords } from '../helpers/audit-sidecar-log.js';

const HMAC = /^hmac:[0-9a-f]{64}$/;

function requestIdOf(r: CallResult): string {
  const id = r.headers['x-kguard-request-id'];
  if (typeof id !== 'string' || id.length === 0) throw new Error(`no x-kguard-request-id on a ${r.status} reply`);
  return id;
}

const one = (records: AuditRecord[], type: string): AuditRecord | undefined => records.find((r) => r.type === type);
const _count = (records: AuditRecord[], type: string): number => records.filter((r) => r.type === type).length;

async function readyz(h: Harness): Promise<{ status: number; body: { ready: boolean; checks: Record<string, { ok: boolean; reason?: string }> } }> {
  const res = await request(`${h.adminUrl}/readyz`);
  return { status: res.statusCode, body: (await res.body.json()) as never };
}

t.test('every forwarded, denied and rejected call has its records; the log verifies', async (t) => {
  const brokerTokens: string[] = [];
  const h = await startHarness({
    policyFile: path.join(FIXTURES, 'policy-strict.yaml'),
    sim: {
      onTokenIssued: (tok) => {
        brokerTokens.push(tok.toString('utf8'));
        tok.fill(0);
      },
    },
  });
  t.teardown(() => h.close());
  h.sim.setQuote('005930', 70_000);
  const auditDir = path.join(h.dataDir, 'audit');
  const accountHash = h.sidecar.parts.auditor.fingerprint(Buffer.from(CANARY.account));
  const token = await h.token();

  // Forwarded: a query, an account query, a buy and its cancel.
  const query = await h.call('ka10001', { stk_cd: '005930' }, { token });
  const account = await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token });
  const buy = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' }, { token });
  t.equal(buy.json.return_code, 0, buy.text);
  const cancel = await h.call('kt10003', { dmst_stex_tp: 'KRX', orig_ord_no: String(buy.json.ord_no), stk_cd: '005930', cncl_qty: '0' }, { token });
  const forwarded = { query, account, buy, cancel };
  for (const [name, r] of Object.entries(forwarded)) t.equal(r.json.return_code, 0, `${name} forwarded: ${r.text}`);

  // Denied by policy: each names its rule; nothing reaches the simulator.
  await new Promise((r) => setTimeout(r, 1100)); // the strict policy's order rate window clears
  const ordersBefore = h.sim.requestLog().filter((x) => x.apiId === 'kt10000').length;
  const tooBig = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '101', ord_uv: '69900', trde_tp: '0' }, { token });
  const restricted = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '035720', ord_qty: '1', ord_uv: '50000', trde_tp: '0' }, { token });
  const denied = { 'order-size': tooBig, 'restricted-list': restricted };
  for (const [rule, r] of Object.entries(denied)) t.match(String(r.json.return_msg), new RegExp(`\\[KG3001:rule=${rule}`), `denied by ${rule}`);
  t.equal(h.sim.requestLog().filter((x) => x.apiId === 'kt10000').length, ordersBefore, 'no denied order reached the simulator');

  // Rejected before a decision: auth failures and input errors.
  const rejected: Record<string, { r: CallResult; code: string }> = {
    'no bearer': { r: await h.post('/api/dostk/stkinfo', '{"stk_cd":"005930"}', { 'api-id': 'ka10001' }), code: 'KG2001' },
    'forged bearer': { r: await h.call('ka10001', { stk_cd: '005930' }, { token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' }), code: 'KG2002' },
    'wrong bot secret': {
      r: await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: 'not-the-secret' })),
      code: 'KG2005',
    },
    'unknown api-id': { r: await h.call('kt99999', { stk_cd: '005930' }, { token, path: '/api/dostk/stkinfo' }), code: 'KG1004' },
    'bad json': { r: await h.call('ka10001', '{"stk_cd":', { token }), code: 'KG1001' },
    'missing field': { r: await h.call('ka10001', { other: 1 }, { token }), code: 'KG1010' },
  };
  for (const [name, { r, code }] of Object.entries(rejected)) t.match(String(r.json.return_msg), `[${code}`, `${name} → ${code}`);

  await h.waitNoLiveTokens();
  const ids = {
    forwarded: Object.values(forwarded).map(requestIdOf),
    denied: Object.values(denied).map(requestIdOf),
    rejected: Object.values(rejected).map(({ r }) => requestIdOf(r)),
  };
  // One broker token per app key serves overlapping calls, so its issue and revoke records carry the
  // request that issued or last released it: they are matched by token fingerprint, not per request.
  const tokensSettled = (recs: AuditRecord[]) => {
    const revoked = new Set(recs.filter((x) => x.type === 'broker_token.revoked').map((x) => x.data.fingerprint));
    return recs.filter((x) => x.type === 'broker_token.issued').every((x) => revoked.has(x.data.fingerprint));
  };
  await waitForRequestRecords(auditDir, [...ids.forwarded, ...ids.denied, ...ids.rejected], (recs) => has(recs, 'call.outcome'));
  await waitFor(async () => tokensSettled(await readAuditRecords(auditDir)), 20_000, 'every issued broker token has its revoke record');
  const all = await readAuditRecords(auditDir);

  t.test('forwarded: intent (allow, policy version), decrypt, broker token issued and revoked, outcome ok', async (t) => {
    for (const [name, r] of Object.entries(forwarded)) {
      const recs = recordsFor(all, requestIdOf(r));
      const intent = one(recs, 'call.intent');
      t.ok(intent, `${name}: intent`);
      t.equal((intent?.data.decision as Record<string, unknown>)?.outcome, 'allow', `${name}: decision allow`);
      t.match((intent?.data.decision as Record<string, unknown>)?.policyVersion, /\S/, `${name}: policy version recorded`);
      t.equal(intent?.data.account, accountHash, `${name}: account only as its keyed hash`);
      t.ok(
        recs.filter((x) => x.type === 'decrypt').every((x) => x.data.outcome === 'ok'),
        `${name}: decrypts succeeded`,
      );
      const outcome = one(recs, 'call.outcome');
      t.equal(outcome?.data.ok, true, `${name}: outcome ok`);
      t.equal(outcome?.data.upstreamStatus, 200);
      // The intent is durable before the call is forwarded: a token this call issued comes after it.
      t.ok(
        recs.filter((x) => x.type === 'broker_token.issued').every((x) => x.seq > intent!.seq),
        `${name}: any token it issued was issued after the intent`,
      );
      t.ok(outcome!.seq > intent!.seq, `${name}: outcome after intent`);
    }
    const issued = all.filter((x) => x.type === 'broker_token.issued');
    t.ok(issued.length >= 1, 'broker tokens were issued (with a decrypt) for the key');
    t.ok(tokensSettled(all), 'every broker token issued was revoked');
    t.ok(
      issued.every((x) => x.data.key && /^[0-9a-f]{32}$/.test(String(x.data.key))),
      'issue records name the app key by keyed fingerprint',
    );
    const buyOutcome = one(recordsFor(all, requestIdOf(buy)), 'call.outcome');
    t.equal(buyOutcome?.data.orderNo, buy.json.ord_no, 'the order number is in the buy outcome');
  });

  t.test('denied: intent names decision deny and the rule, outcome says so, no decrypt and no broker token', async (t) => {
    for (const [rule, r] of Object.entries(denied)) {
      const recs = recordsFor(all, requestIdOf(r));
      const intent = one(recs, 'call.intent');
      const decision = intent?.data.decision as Record<string, unknown> | undefined;
      t.equal(decision?.outcome, 'deny', `${rule}: decision deny`);
      t.equal(decision?.ruleId, rule, `${rule}: rule id`);
      t.match(decision?.policyVersion, /\S/);
      const outcome = one(recs, 'call.outcome');
      t.equal(outcome?.data.ok, false);
      t.equal(outcome?.data.code, 'KG3001');
      t.equal((outcome?.data.decision as Record<string, unknown>)?.ruleId, rule);
      t.same(
        recs.filter((x) => x.type === 'decrypt' || x.type.startsWith('broker_token')),
        [],
        `${rule}: no decrypt, no broker token`,
      );
    }
  });

  t.test('rejected before a decision: an outcome with the error code, and no intent', async (t) => {
    for (const [name, { r, code }] of Object.entries(rejected)) {
      const recs = recordsFor(all, requestIdOf(r));
      t.equal(one(recs, 'call.outcome')?.data.code, code, `${name}: outcome with ${code}`);
      t.equal(one(recs, 'call.outcome')?.data.ok, false);
      t.notOk(has(recs, 'call.intent'), `${name}: no intent`);
      t.notOk(
        recs.some((x) => x.type === 'decrypt' || x.type.startsWith('broker_token')),
        `${name}: no decrypt, no broker token`,
      );
    }
  });

  t.test('no account number, key or broker token in the log; accounts only as keyed hashes', async (t) => {
    const text = await auditLogText(auditDir);
    for (const [what, secret] of Object.entries(CANARY)) t.notOk(text.includes(secret), `no ${what} in the audit log`);
    t.ok(brokerTokens.length >= 1, `the simulator issued ${brokerTokens.length} broker tokens (one per key while calls overlap)`);
    t.same(
      brokerTokens.filter((tok) => text.includes(tok)),
      [],
      'no broker token in the audit log',
    );
    const accountFields = all.flatMap((r) =>
      Object.entries(r.data)
        .filter(([k]) => k === 'account')
        .map(([, v]) => v),
    );
    t.ok(accountFields.length > 0 && accountFields.every((v) => typeof v === 'string' && HMAC.test(v)), 'every account field is an hmac');
    // Broker tokens appear only as keyed fingerprints (HMAC under the audit key), so an investigator holding a token can find it.
    const key = h.sidecar.parts.auditor.fingerprintKey;
    const expected = new Set(brokerTokens.map((tok) => keyedFingerprint(key, Buffer.from(tok))));
    key.fill(0);
    const issued = all.filter((r) => r.type === 'broker_token.issued');
    t.ok(
      issued.length === brokerTokens.length && issued.every((r) => expected.has(String(r.data.fingerprint))),
      'each issued record names a real token by its keyed fingerprint',
    );
  });

  t.test('the sidecar log verifies, and a forwarded order has a receipt from the admin API', async (t) => {
    // A log no signature covers yet does not verify (review-audit-verify-unsigned): sign what is there first.
    await h.sidecar.parts.auditor.checkpointNow();
    const report = await verifyLog(auditDir, { publicKeyFile: path.join(h.dataDir, 'audit-signing.pub') });
    t.ok(report.ok, `verify: ${report.failure?.reason ?? 'ok'}`);
    t.equal(report.firstSeq, 1);
    t.equal(report.records, report.lastSeq, 'no gaps');

    const intent = one(recordsFor(all, requestIdOf(buy)), 'call.intent')!;
    const adminToken = await AdminTokens.forDataDir(h.dataDir).create('auditor', 'viewer');
    const res = await request(`${h.adminUrl}/admin/v1/audit/receipts/${intent.seq}`, { headers: { authorization: `Bearer ${adminToken.toString('latin1')}` } });
    adminToken.fill(0);
    t.equal(res.statusCode, 200);
    const receipt = (await res.body.json()) as Receipt;
    t.equal(receipt.seq, intent.seq);
    t.equal(receipt.recordHash, intent.hash, 'the receipt is for the order intent on disk');
    t.equal(receipt.record?.data.requestId, requestIdOf(buy));
    const key = await loadPublicKey(path.join(h.dataDir, 'audit-signing.pub'));
    t.same(verifyReceipt(receipt, key), { ok: true }, 'receipt verifies against the signed checkpoint');
    t.notOk(verifyReceipt({ ...receipt, recordHash: one(recordsFor(all, requestIdOf(cancel)), 'call.intent')!.hash }, key).ok, 'and not for another record');

    const unauth = await request(`${h.adminUrl}/admin/v1/audit/receipts/${intent.seq}`);
    t.equal(unauth.statusCode, 401, 'receipts need an admin token');
    await unauth.body.dump();
  });
});

t.test('fail closed through the sidecar: a broken audit sink stops orders, /readyz names it, recovery lets calls flow', async (t) => {
  // Rotation every second makes the sink reopen its directory, which is what we break.
  const h = await startHarness({ config: { audit: { sinks: [{ type: 'file', rotateMs: 1000 }], sinkRetryMs: 100 } } });
  t.teardown(() => h.close());
  const auditDir = path.join(h.dataDir, 'audit');
  const order = (price: number) => ({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: String(price), trde_tp: '0' });
  const token = await h.token();
  const first = await h.call('kt10000', order(70_000), { token });
  t.equal(first.json.return_code, 0, first.text);
  await h.waitNoLiveTokens();
  await waitForRequestRecords(auditDir, [requestIdOf(first)], (recs) => has(recs, 'call.outcome') && has(recs, 'broker_token.revoked'));
  t.equal((await readyz(h)).status, 200, 'ready before the break');

  // Break: the log directory disappears (kept aside) and a plain file takes its name.
  const aside = await mkdtemp(path.join(tmpdir(), 'kguard-audit-aside-'));
  const moved = path.join(aside, 'audit');
  await new Promise((r) => setTimeout(r, 1100)); // the next batch rotates to a new file
  await rename(auditDir, moved);
  await writeFile(auditDir, 'not a directory\n');
  t.teardown(() => rm(aside, { recursive: true, force: true }));

  const ordersBefore = h.sim.requestLog().filter((x) => x.apiId === 'kt10000').length;
  const tokensBefore = h.sim.stats().tokensIssued;
  const refused = await h.call('kt10000', order(69_900), { token });
  t.equal(refused.status, 503, refused.text);
  t.match(String(refused.json.return_msg), /\[KG6001/, 'the order is refused with KG6001');
  const again = await h.call('kt10000', order(69_800), { token });
  t.match(String(again.json.return_msg), /\[KG6001/, 'and so is the next one');
  t.equal(h.sim.requestLog().filter((x) => x.apiId === 'kt10000').length, ordersBefore, 'the simulator received no order');
  t.equal(h.sim.stats().tokensIssued, tokensBefore, 'no broker token was even issued');

  const down = await readyz(h);
  t.equal(down.status, 503, '/readyz is red');
  t.equal(down.body.checks.audit?.ok, false);
  t.match(down.body.checks.audit?.reason, /KG6001.*file/, `/readyz names the audit sink: ${down.body.checks.audit?.reason}`);
  const metrics = await (await request(`${h.adminUrl}/metrics`)).body.text();
  t.match(metrics, /kguard_audit_healthy 0/, 'the health metric says so');
  t.match(h.logs(), /audit sink down/, 'and a log line says why');

  // Recover: the directory comes back.
  await rm(auditDir);
  await rename(moved, auditDir);
  await waitFor(async () => (await readyz(h)).status === 200, 20_000, '/readyz green after recovery');
  const after = await h.call('kt10000', order(69_700), { token });
  t.equal(after.json.return_code, 0, `calls flow again: ${after.text}`);
  t.equal(h.sim.requestLog().filter((x) => x.apiId === 'kt10000').length, ordersBefore + 1, 'exactly the post-recovery order reached the simulator');
  await h.waitNoLiveTokens();
  await waitForRequestRecords(auditDir, [requestIdOf(after)], (recs) => has(recs, 'call.outcome') && has(recs, 'broker_token.revoked'));

  const records = await readAuditRecords(auditDir);
  t.ok(
    records.some((r) => r.type === 'recovery' && r.data.reason === 'sink-resumed'),
    'the outage is marked in the chain',
  );
  t.notOk(
    records.some((r) => r.data.requestId === requestIdOf(refused) && r.type === 'call.intent'),
    'the refused order has no intent (nothing could be written)',
  );
  await h.sidecar.parts.auditor.checkpointNow();
  const report = await verifyLog(auditDir, { publicKeyFile: path.join(h.dataDir, 'audit-signing.pub') });
  t.ok(report.ok, `verify after the outage: ${report.failure?.reason ?? 'ok'}`);
  t.equal(report.records, report.lastSeq, 'no gaps across the outage');
  t.ok(report.files > 1, `chain continues across ${report.files} rotated files`);
});
