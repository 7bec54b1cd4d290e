// Kiwoom writes return_code as a JSON number or, depending on the endpoint, as a numeric string ("0", "0000",
// "8005"): Kiwoom's own Python client (Kiwoom-Securities/Kiwoom-REST-API, kiwoom/core/errors.py
// normalize_return_code) and kenshin579/kiwoom-go (internal/wire/code.go) both read either. The sidecar reads
// Kiwoom's answers too (its token issue, the market data a policy asks for, whether an order was accepted, rate
// refusals): a "0000" read as a failure would refuse every call a bot makes. The simulator writes text codes here.
import t from 'tap';
import path from 'node:path';
import { returnCodeOf } from '../../proxy/kiwoom/protocol/index.js';
import { verdictOf } from '../../proxy/kiwoom/upstream.js';
import type { TrResponse } from '../../proxy/kiwoom/client.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { CANARY, FIXTURES, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { startHostileUpstream } from '../helpers/hostile-upstream.js';
import { startSimulator } from '../../proxy/sim/index.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ sim: { textReturnCodes: true }, policyFile: path.join(FIXTURES, 'policy-strict.yaml') });
});
t.teardown(() => h.close());

t.test('a quote goes through when Kiwoom writes its codes as text (the broker token issued on "0000")', async (t) => {
  const r = await h.call('ka10001', { stk_cd: '005930' });
  t.equal(r.status, 200, r.text);
  t.equal(r.json.return_code, '0000', "Kiwoom's answer reaches the bot as Kiwoom wrote it");
  t.equal(r.json.stk_nm, '삼성전자');
});

t.test('an order judged against the reference price goes out and is recorded as accepted', async (t) => {
  // price-collar asks for ka10001's price through the sidecar's own session: a "0000" answer must count as one.
  const r = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '74000', trde_tp: '0' });
  t.equal(r.status, 200, r.text);
  t.equal(Number(r.json.return_code), 0, 'accepted by Kiwoom');
  t.equal(h.sim.orders(CANARY.account).length, 1, 'the order reached the book');
  const requestId = String(r.headers['x-kguard-request-id']);
  let outcome: Record<string, unknown> | undefined;
  await waitFor(
    async () => {
      const records = await readAuditRecords(path.join(h.dataDir, 'audit'));
      outcome = records.find((x) => x.type === 'call.outcome' && x.data.requestId === requestId)?.data;
      return outcome !== undefined;
    },
    20_000,
    "the order's outcome record",
  );
  t.equal(outcome?.ok, true, 'the outcome record says accepted');
  t.equal(outcome?.orderNo, r.json.ord_no);
});

t.test('a rate refusal written as "5" is retried like one written 5', async (t) => {
  h.sim.faults.set({ rateLimitNext: 1 });
  const r = await h.call('ka10001', { stk_cd: '005930' });
  t.equal(r.status, 200, r.text);
  t.equal(Number(r.json.return_code), 0, 'the query was tried again after the refusal and answered');
  t.match(
    h.sim
      .requestLog()
      .map((x) => x.detail ?? '')
      .join(','),
    /1700/,
    'Kiwoom did refuse one for rate',
  );
});

t.test('return_code read as a number from either spelling, anything else never OK', async (t) => {
  for (const [v, want] of [
    [0, 0],
    ['0', 0],
    ['0000', 0],
    [' 8005 ', 8005],
    ['5', 5],
    [-1, -1],
  ] as const)
    t.equal(returnCodeOf(v), want, JSON.stringify(v));
  for (const v of ['', ' ', '0x0', '1e3', '0.0', 1.5, true, null, undefined, {}, [0]]) t.equal(returnCodeOf(v), undefined, JSON.stringify(v));
  const answer = (body: string): TrResponse => ({ status: 200, body: Buffer.from(body) });
  t.equal(verdictOf(answer('{"return_code":"0005","return_msg":"[1700:허용된 요청 개수를 초과하였습니다]"}')).verdict, 'rate');
  t.equal(verdictOf(answer('{"return_code":"3","return_msg":"인증에 실패했습니다[8005:Token이 유효하지 않습니다]"}')).verdict, 'invalid-token');
  t.equal(verdictOf(answer('{"return_code":8005,"return_msg":"Token이 유효하지 않습니다"}')).verdict, 'invalid-token', 'the code itself as return_code');
  t.equal(verdictOf(answer('{"return_code":"8010","return_msg":"IP가 다릅니다"}')).verdict, 'bound-elsewhere');
});

t.test('a broker token Kiwoom refuses with return_code 8005 itself, no bracket, is issued afresh and the call tried again', async (t) => {
  // Kiwoom's own Python client logs in again on return_code 8005 (kiwoom/core/client.py: `in (8005, 8031, 8103)`), as
  // on [8005:...] under the generic 3; the sidecar does this for its bots, which never see Kiwoom's token.
  const sim = await startSimulator();
  t.teardown(() => sim.close());
  const up = await startHostileUpstream(sim.url);
  t.teardown(() => up.close());
  const w = await startHarness({ simulator: sim, config: { upstream: { url: up.url } } });
  t.teardown(() => w.close());
  const token = await w.token();
  let refused = 0;
  up.answer = async (req, _body, res) => {
    if (!req.url?.startsWith('/api/dostk/') || refused > 0) return false;
    refused++;
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', 'cont-yn': 'N', 'next-key': '' });
    res.end(JSON.stringify({ return_code: 8005, return_msg: 'Token이 유효하지 않습니다' }));
    return true;
  };
  const r = await w.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(refused, 1, 'Kiwoom refused the token once');
  t.equal(r.status, 200, r.text);
  t.equal(r.json.return_code, 0, 'the bot has its quote: a fresh broker token, the call sent again');
  t.equal(r.json.stk_nm, '삼성전자');
});
