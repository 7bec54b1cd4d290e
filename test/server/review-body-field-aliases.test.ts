// A body whose field names a lenient reader takes for one field is refused
// before anything judges it. Many Java/Spring JSON set-ups read names ignoring
// case; if Kiwoom's gateway is one, {"ord_qty":"1","ORD_QTY":"1000"} would be
// judged as 1 share and placed as 1000, and a lone "ORD_UV" would be judged as
// no limit price at all. So would full-width letters, the Kelvin sign, "ſ",
// "ı", spaces around a name, and zero-width characters inside one.
import t from 'tap';
import type { Test } from 'tap';
import { startHarness, type Harness, type CallResult } from '../helpers/harness.js';

let h: Harness;
let token: string;
t.before(async () => {
  h = await startHarness();
  token = await h.token();
});
t.teardown(() => h.close());

const ORDER = '"dmst_stex_tp":"KRX","stk_cd":"005930","ord_qty":"1","ord_uv":"70000","trde_tp":"0"';

async function refused(t: Test, apiId: string, path: string, body: string): Promise<CallResult> {
  await h.waitNoLiveTokens();
  const before = h.sim.stats().requests;
  const r = await h.post(path, body, { 'api-id': apiId, authorization: `Bearer ${token}` });
  t.equal(r.status, 400, `${body} -> ${r.text}`);
  t.match(String(r.json.return_msg), /\[KG1016/, `KG1016: ${body}`);
  t.equal(h.sim.stats().requests, before, `nothing reached the broker: ${body}`);
  return r;
}

t.test('two names for one field in an order: refused, naming both', async (t) => {
  const twins: [string, string, string][] = [
    [`{${ORDER},"ORD_QTY":"1000"}`, 'ord_qty', 'ORD_QTY'],
    [`{${ORDER},"Ord_Qty":"1000"}`, 'ord_qty', 'Ord_Qty'],
    [`{${ORDER},"STK_CD":"000660"}`, 'stk_cd', 'STK_CD'],
    [`{${ORDER},"ｏｒｄ＿ｑｔｙ":"1000"}`, 'ord_qty', 'ｏｒｄ＿ｑｔｙ'],
    [`{${ORDER},"st\u212a_cd":"000660"}`, 'stk_cd', 'st\u212a_cd'], // Kelvin sign: "K".toLowerCase() is "k"
    [`{${ORDER},"\u017ftk_cd":"000660"}`, 'stk_cd', '\u017ftk_cd'], // long s: "ſ".toUpperCase() is "S"
    [`{${ORDER},"trde_tp ":"3"}`, 'trde_tp', 'trde_tp '],
    [`{${ORDER},"ord\u200b_uv":"1"}`, 'ord_uv', 'ord\u200b_uv'],
  ];
  for (const [body, a, b] of twins) {
    const r = await refused(t, 'kt10000', '/api/dostk/ordr', body);
    t.match(String(r.json.return_msg), JSON.stringify(a), `names ${a}`);
    t.match(String(r.json.return_msg), JSON.stringify(b), `names ${JSON.stringify(b)}`);
  }
  // A modify and a cancel: the quantity a broker acts on is theirs too.
  await refused(
    t,
    'kt10002',
    '/api/dostk/ordr',
    '{"dmst_stex_tp":"KRX","orig_ord_no":"0000001","stk_cd":"005930","mdfy_qty":"1","mdfy_uv":"70000","MDFY_QTY":"900"}',
  );
  await refused(t, 'kt10003', '/api/dostk/ordr', '{"dmst_stex_tp":"KRX","orig_ord_no":"0000001","stk_cd":"005930","cncl_qty":"1","ORIG_ORD_NO":"0000002"}');
  // A dotless i: Java's equalsIgnoreCase("orıg_ord_no", "orig_ord_no") is true.
  await refused(
    t,
    'kt10003',
    '/api/dostk/ordr',
    '{"dmst_stex_tp":"KRX","orig_ord_no":"0000001","stk_cd":"005930","cncl_qty":"1","or\u0131g_ord_no":"0000002"}',
  );
});

t.test('one name a lenient reader takes for a field the policy reads: refused, naming the field', async (t) => {
  // ord_uv is optional: the policy judges no limit price while a broker ignoring case reads ORD_UV.
  for (const key of ['ORD_UV', ' ord_uv', 'ordUv', 'ｏｒｄ_ｕｖ']) {
    const r = await refused(
      t,
      'kt10000',
      '/api/dostk/ordr',
      `{"dmst_stex_tp":"KRX","stk_cd":"005930","ord_qty":"1","trde_tp":"3",${JSON.stringify(key)}:"999999"}`,
    );
    t.match(String(r.json.return_msg), /reads as ord_uv/, key);
  }
  const r = await refused(t, 'kt10000', '/api/dostk/ordr', `{"dmst_stex_tp":"KRX","stk_cd":"005930","ord_qty":"1","ord_uv":"","trde_tp":"3","Cond_Uv":"1"}`);
  t.match(String(r.json.return_msg), /reads as cond_uv/);
});

t.test('queries and nested objects too', async (t) => {
  await refused(t, 'ka10001', '/api/dostk/stkinfo', '{"stk_cd":"005930","Stk_Cd":"000660"}');
  await refused(t, 'ka10001', '/api/dostk/stkinfo', '{"stk_cd":"005930","x":[{"a":1,"A":2}]}');
});

t.test('bodies in the form Kiwoom documents still go out', async (t) => {
  const r = await h.post('/api/dostk/ordr', `{${ORDER}}`, { 'api-id': 'kt10000', authorization: `Bearer ${token}` });
  t.equal(r.json.return_code, 0, r.text);
  const q = await h.post('/api/dostk/stkinfo', '{"stk_cd":"005930","x":{"stk_cd":"1"}}', { 'api-id': 'ka10001', authorization: `Bearer ${token}` });
  t.equal(q.json.return_code, 0, `the same name in two objects is two fields: ${q.text}`);
});
