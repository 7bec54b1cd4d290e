// A sell is scored against the position the bot last saw in its own balance
// inquiry: selling (nearly) all of it is what draining an account looks like,
// and the drain detector says so in the audit record, in the sidecar's language.
import path from 'node:path';
import t, { type Test } from 'tap';
import { startSimulator } from '../../proxy/sim/index.js';
import { CANARY, startHarness, waitFor } from '../helpers/harness.js';
import { readAuditRecords, recordsFor } from '../helpers/audit-sidecar-log.js';

async function sellEverything(t: Test, language?: 'en') {
  const h = await startHarness(language ? { config: { language } } : {});
  t.teardown(() => h.close());
  const token = await h.token();
  const bal = await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token });
  t.equal(bal.json.return_code, 0, bal.text);
  await waitFor(async () => (await h.sidecar.parts.responder.baselineHolding('8888000011', '005930'))?.qty === 1000, 20_000, 'baseline recorded');

  const sell = (qty: string) => h.call('kt10001', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: qty, ord_uv: '74000', trde_tp: '0' }, { token });
  const small = await sell('10');
  const all = await sell('1000');
  const dir = path.join(h.dataDir, 'audit');
  const reasonsOf = async (r: typeof small) => {
    const id = String(r.headers['x-kguard-request-id']);
    let intent: Record<string, unknown> | undefined;
    await waitFor(
      async () =>
        (intent = recordsFor(await readAuditRecords(dir), id).find((x) => x.type === 'call.intent')?.data as Record<string, unknown> | undefined) !== undefined,
      3000,
      'intent record',
    );
    const risk = intent!.risk as { contributions: { detector: string; reason: string }[] } | undefined;
    return (risk?.contributions ?? []).filter((c) => c.detector === 'drain').map((c) => c.reason);
  };
  t.same(await reasonsOf(small), [], 'a 1% sell is not draining');
  return (await reasonsOf(all)).join(' ');
}

t.test('selling the whole known position shows in the risk contributions', async (t) => {
  t.match(await sellEverything(t), /보유 수량의 100% 매도/, 'selling everything is named by the drain detector, in Korean by default');
});

t.test('with language: en the reason is English', async (t) => {
  t.match(await sellEverything(t, 'en'), /sells 100% of the position/);
});

t.test('an account read in pages: the whole is the position, once the bot has read the last page', async (t) => {
  const sim = await startSimulator({ pageSize: 1 });
  t.teardown(() => sim.close());
  sim.registerApp({
    appKey: CANARY.appKey,
    secretKey: CANARY.secretKey,
    accountNo: CANARY.account,
    holdings: [
      { stkCd: '005930', qty: 1000, avgPrice: 70_000 },
      { stkCd: '000660', qty: 30, avgPrice: 180_000 },
    ],
  });
  const h = await startHarness({ simulator: sim });
  t.teardown(() => h.close());
  const token = await h.token();
  const first = await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token });
  t.equal(first.headers['cont-yn'], 'Y', 'one name a page: more to come');
  const held = (code: string) => h.sidecar.parts.responder.baselineHolding(CANARY.account, code);
  // The first page alone is not recorded: it would say 000660 is not held.
  const second = await h.call(
    'kt00018',
    { qry_tp: '1', dmst_stex_tp: 'KRX' },
    { token, headers: { 'cont-yn': 'Y', 'next-key': String(first.headers['next-key']) } },
  );
  t.equal(second.json.return_code, 0, second.text);
  t.not(second.headers['cont-yn'], 'Y', 'the last page');
  await waitFor(async () => (await held('000660'))?.qty === 30, 20_000, 'the second page recorded with the first');
  t.match(await held('005930'), { qty: 1000 });
});
