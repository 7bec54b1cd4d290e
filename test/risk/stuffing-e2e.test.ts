// Credential stuffing end to end (issue 17): through the real sidecar over
// real sockets against the simulator, one source address presents wrong
// secrets for several bots, then a bot's correct secret. That call is stepped
// up (or, where the operator made stuffing a lockdown detector, refused with
// the detector named); the audit trail the sidecar wrote carries the stuffing
// contribution; a bot calling from another address is not affected; and the
// wrong secrets appear nowhere: not in the audit files, logs or responses.
import t from 'tap';
import type { Test } from 'tap';
import { Agent } from 'undici';
import { parseAuditConfig } from '../../proxy/audit/index.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { allFileBytes, containsSecret } from '../helpers/vault-fixtures.js';
import { CANARY, startHarness, waitFor, type CallResult, type Harness } from '../helpers/harness.js';
import { readAuditRecords, waitForRequestRecords } from '../helpers/audit-sidecar-log.js';

const code = (r: CallResult): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];
const NOW = seoulToEpoch('2026-01-06', 10, 30); // Tuesday 10:30 Seoul: in session
const STUFFED = 6; // bots whose secrets fail from the attacker's address
// risk.stuffing.minBots, stated in each test's config: at the threshold the detector scores 0.9 (a step-up
// on its own), at twice the threshold 1 (what a lockdown detector needs).
const AT_THRESHOLD = STUFFED;
const HALF = STUFFED / 2;
const ATTACKER = '127.0.0.2';
const ELSEWHERE = '127.0.0.3';
const OTHER = { appKey: 'OTHERappKEY0f1e2d3c4b5a', secretKey: 'OTHERsecretKEY9a8b7c6d5e4f3a2b1c', account: '7777000022' };
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

/** Wrong secrets an attacker tries, each a canary that must never be written or echoed. */
const wrongSecret = (i: number): string => `STUFFcanaryWRONGsecret${i}x${'7c3e9a1f'.repeat(4)}`;

interface World {
  h: Harness;
  auditDir: string;
  attacker: Agent;
  elsewhere: Agent;
  otherBot: string;
  otherSecret: string;
  responses: string[];
}

async function world(t: Test, risk: Record<string, unknown>): Promise<World> {
  const h = await startHarness({ clock: () => NOW, config: { approval: { mode: 'pending' }, risk } });
  const attacker = new Agent({ localAddress: ATTACKER });
  const elsewhere = new Agent({ localAddress: ELSEWHERE });
  t.teardown(async () => {
    await attacker.close();
    await elsewhere.close();
    await h.close();
  });
  // The victims of the stuffing: bots that exist, whose secrets the attacker does not have.
  for (let i = 0; i < STUFFED; i++) await h.sidecar.parts.bots.add({ id: `victim-${i}`, owner: `owner-${i}`, account: `66660000${10 + i}` });
  // Another tenant with its own Kiwoom key, trading from its own address.
  h.sim.registerApp({ appKey: OTHER.appKey, secretKey: OTHER.secretKey, accountNo: OTHER.account, cash: 100_000_000 });
  const { secret } = await h.sidecar.parts.bots.add({ id: 'bot-other', owner: 'carol', account: OTHER.account, allowed: ['kind:query', 'kind:order'] });
  await h.sidecar.parts.vault.importCredentials({
    botId: 'bot-other',
    account: OTHER.account,
    appKey: Buffer.from(OTHER.appKey),
    secretKey: Buffer.from(OTHER.secretKey),
  });
  const auditDir = parseAuditConfig({}, h.dataDir).sinks.find((s) => s.type === 'file')!.dir;
  return { h, auditDir, attacker, elsewhere, otherBot: 'bot-other', otherSecret: secret.toString('latin1'), responses: [] };
}

/** The attacker's wrong secrets, one per victim, all from ATTACKER: each refused as Kiwoom refuses a bad key. */
async function stuff(t: Test, w: World): Promise<void> {
  for (let i = 0; i < STUFFED; i++) {
    const body = JSON.stringify({ grant_type: 'client_credentials', appkey: `victim-${i}`, secretkey: wrongSecret(i) });
    const r = await w.h.post('/oauth2/token', body, {}, w.attacker);
    w.responses.push(r.text, JSON.stringify(r.headers));
    t.equal(code(r), 'KG2005', `victim-${i}: wrong secret refused`);
    t.not(r.json.return_code, 0);
  }
}

/** The other tenant, from its own address, places an order: untouched by the stuffing elsewhere. */
async function otherTenantUnaffected(t: Test, w: World): Promise<void> {
  const tok = await w.h.post(
    '/oauth2/token',
    JSON.stringify({ grant_type: 'client_credentials', appkey: w.otherBot, secretkey: w.otherSecret }),
    {},
    w.elsewhere,
  );
  t.equal(tok.json.return_code, 0, `the other bot's token exchange: ${tok.text}`);
  const r = await w.h.call('kt10000', BUY, { token: String(tok.json.token), dispatcher: w.elsewhere });
  w.responses.push(r.text);
  t.equal(r.json.return_code, 0, `the other bot's order goes through: ${r.text}`);
  t.ok(
    w.h.sim.orders(OTHER.account).some((o) => o.side === 'buy'),
    'and reaches the simulator',
  );
  const id = String(r.headers['x-kguard-request-id']);
  const recs = await waitForRequestRecords(w.auditDir, [id], (rs) => rs.some((x) => x.type === 'call.intent'));
  const intent = recs.find((x) => x.type === 'call.intent' && x.data.requestId === id)!;
  const detectors = ((intent.data.risk as { contributions?: { detector: string }[] } | undefined)?.contributions ?? []).map((c) => c.detector);
  t.notOk(detectors.includes('stuffing'), `no stuffing contribution for the other address (${detectors.join(', ') || 'none'})`);
}

/** No wrong secret (UTF-8, UTF-16, base64 or hex) in any file under the data dir, the logs or any response. */
async function noCanary(t: Test, w: World): Promise<void> {
  // A temp file of an atomic write may vanish mid-scan: scan again until one pass reads every file.
  let files: Buffer | undefined;
  await waitFor(
    async () => {
      files = await allFileBytes(w.h.dataDir).catch(() => undefined);
      return files !== undefined;
    },
    10_000,
    'a full scan of the data dir',
  );
  const audit = await allFileBytes(w.auditDir);
  t.ok(audit.length > 0 && audit.includes(Buffer.from('victim')) === false, 'audit files were written (a failed exchange is not an audit record)');
  const places: [string, string | Buffer][] = [
    ['logs', w.h.logs()],
    ['responses', w.responses.join('\n')],
    ['data dir files', files!],
  ];
  let leaks = 0;
  for (let i = 0; i < STUFFED; i++) {
    const s = wrongSecret(i);
    for (const [place, text] of places)
      if (containsSecret(text, s) || containsSecret(text, Buffer.from(s).toString('hex')) || text.includes('STUFFcanary')) {
        leaks++;
        t.fail(`wrong secret ${i} leaked into ${place}`);
      }
  }
  t.equal(leaks, 0, `no wrong secret in the logs, the responses or the ${files!.length} bytes under the data dir`);
  t.equal((w.h.logs().match(/"code":"KG2005"/g) ?? []).length, STUFFED, 'the logs were captured: one KG2005 line per wrong secret');
}

t.test('stuffing from one address: the next correct secret from it is stepped up; the detector is in the approval and the audit', async (t) => {
  const w = await world(t, { stuffing: { minBots: AT_THRESHOLD } });
  await stuff(t, w);

  // The attacker now presents a bot's real secret from the same address: the exchange itself succeeds...
  const token = await w.h.token(w.attacker);
  const r = await w.h.call('kt10000', BUY, { token, dispatcher: w.attacker });
  w.responses.push(r.text, JSON.stringify(r.headers));
  // ...but the order is held for a step-up approval, in Kiwoom's error shape.
  t.equal(r.status, 202, r.text);
  t.equal(code(r), 'KG3004', 'pending approval');
  t.equal(r.json.return_code, 2, 'Kiwoom-shaped: a non-zero return_code');
  t.match(String(r.json.return_msg), /^승인 대기 중입니다\[KG3004:[0-9a-f-]{36}\]$/, 'Korean message, code in brackets');
  t.equal(w.h.sim.orders(CANARY.account).filter((o) => o.side === 'buy').length, 0, 'nothing reached the simulator');

  // What the approver sees names the detector and the evidence.
  const admin = await w.h.adminToken('sec-lead', 'admin');
  const approval = await w.h.admin('GET', `/admin/v1/approvals/${String(r.headers['x-kguard-approval-id'])}`, admin);
  t.equal(approval.status, 200);
  t.equal(approval.json.level, 'step_up');
  t.match(
    JSON.stringify(approval.json.reasons),
    new RegExp(`출발지 ${ATTACKER.replace(/\./g, '\\.')}에서 10분 안에 봇 ${STUFFED}개의 시크릿 인증 실패 \\(기준 ${AT_THRESHOLD}개\\)`),
  );

  // The audit file the sidecar wrote: the call's intent record carries the stuffing contribution.
  const id = String(r.headers['x-kguard-request-id']);
  const recs = await waitForRequestRecords(w.auditDir, [id], (rs) => rs.some((x) => x.type === 'call.intent'));
  const intent = recs.find((x) => x.type === 'call.intent' && x.data.requestId === id)!;
  t.equal(intent.data.sourceIp, ATTACKER);
  t.equal((intent.data.decision as { outcome: string }).outcome, 'step-up');
  const risk = intent.data.risk as {
    score: number;
    level: string;
    contributions: { detector: string; score: number; weight: number; contribution: number; reason: string }[];
  };
  const stuffing = risk.contributions.find((c) => c.detector === 'stuffing');
  t.ok(stuffing, `stuffing contributed (${risk.contributions.map((c) => c.detector).join(', ')})`);
  t.same({ score: stuffing!.score, weight: stuffing!.weight, contribution: stuffing!.contribution }, { score: 0.9, weight: 0.8, contribution: 0.72 });
  t.ok(risk.score > 0.7, `score ${risk.score} above step-up`);
  t.equal(risk.level, 'step_up');

  // The same bot from its own address (the owner, not the attacker): its secret never failed, nothing is held.
  const home = await w.h.call('kt10000', BUY);
  w.responses.push(home.text);
  t.equal(home.json.return_code, 0, `the bot from 127.0.0.1 is not held: ${home.text}`);

  await otherTenantUnaffected(t, w);
  await noCanary(t, w);
});

t.test('stuffing as a lockdown detector: the call is refused with KG3008 naming stuffing, and the lockdown is audited', async (t) => {
  const w = await world(t, { stuffing: { minBots: HALF }, lockdownDetectors: ['stuffing'] });
  await stuff(t, w);
  const token = await w.h.token(w.attacker);
  const r = await w.h.call('kt10000', BUY, { token, dispatcher: w.attacker });
  w.responses.push(r.text, JSON.stringify(r.headers));
  t.equal(r.status, 423, r.text);
  t.equal(code(r), 'KG3008', 'automatic lockdown');
  t.match(String(r.json.return_msg), /^긴급 잠금 상태입니다\[KG3008:automatic lockdown: risk 0\.\d+ \(stuffing\)\]$/, 'Kiwoom-shaped, naming the detector');
  t.equal(w.h.sim.orders(CANARY.account).filter((o) => o.side === 'buy').length, 0, 'nothing reached the simulator');

  const id = String(r.headers['x-kguard-request-id']);
  let engaged: Record<string, unknown> | undefined;
  await waitFor(
    async () => {
      engaged = (await readAuditRecords(w.auditDir)).find(
        (x) => x.type === 'lockdown' && (x.data.trigger as { requestId?: string } | undefined)?.requestId === id,
      )?.data;
      return engaged !== undefined;
    },
    10_000,
    'the lockdown record',
  );
  t.match(engaged, { action: 'issued', automatic: true, actor: 'risk-engine', bots: ['bot-e2e'] });
  const trigger = engaged!.trigger as { contributions: { detector: string; score: number; reason: string }[] };
  t.match(
    trigger.contributions.find((c) => c.detector === 'stuffing'),
    { score: 1, reason: /10분 안에 봇 6개의 시크릿 인증 실패 \(기준 3개\)/ },
  );

  await otherTenantUnaffected(t, w);
  await noCanary(t, w);
});
