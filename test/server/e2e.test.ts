// Bot -> sidecar -> simulator over real sockets: token exchange, a buy, a
// cancel, a paged query; after each call the simulator holds no live broker
// token and the bot never sees a broker token or key.
import t from 'tap';
import { startHarness, CANARY, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ sim: { pageSize: 5 } });
});
t.teardown(() => h.close());

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '10', ord_uv: '70000', trde_tp: '0', cond_uv: '' };

t.test('token exchange answers in Kiwoom shape with a sidecar JWT', async (t) => {
  const r = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.equal(r.status, 200);
  t.equal(r.json.return_code, 0);
  t.equal(r.json.token_type, 'bearer');
  t.match(r.json.expires_dt, /^\d{14}$/);
  t.match(r.json.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  t.equal(h.sim.stats().tokensIssued, 0, 'no broker token is issued for a bot token');
});

t.test('a buy order is forwarded with a just-in-time broker token that is revoked after', async (t) => {
  const before = h.sim.stats();
  const r = await h.call('kt10000', BUY);
  t.equal(r.status, 200, r.text);
  t.equal(r.json.return_code, 0, r.text);
  t.match(r.json.ord_no, /^\d{7}$/);
  t.equal(r.headers['api-id'], 'kt10000');
  await h.waitNoLiveTokens();
  const after = h.sim.stats();
  t.equal(after.tokensIssued - before.tokensIssued, 1, 'one broker token for one call');
  t.equal(after.tokensRevoked - before.tokensRevoked, 1, 'and it was revoked');
  t.notMatch(r.text, CANARY.appKey);
  t.notMatch(r.text, CANARY.secretKey);
  t.notOk(r.headers.authorization, 'no authorization header comes back');
  const orders = h.sim.orders(CANARY.account);
  t.ok(
    orders.some((o) => o.ordNo === r.json.ord_no && o.status === 'open'),
    'the simulator holds the order',
  );
});

t.test('a cancel removes the open order', async (t) => {
  const buy = await h.call('kt10000', BUY);
  const ordNo = String(buy.json.ord_no);
  const cancel = await h.call('kt10003', { dmst_stex_tp: 'KRX', orig_ord_no: ordNo, stk_cd: '005930', cncl_qty: '0' });
  t.equal(cancel.json.return_code, 0, cancel.text);
  t.equal(cancel.json.base_orig_ord_no ?? ordNo, ordNo);
  await h.waitNoLiveTokens();
  const o = h.sim.orders(CANARY.account).find((x) => x.ordNo === ordNo);
  t.equal(o?.status, 'cancelled');
});

t.test('paging works through cont-yn / next-key headers', async (t) => {
  for (let i = 0; i < 7; i++) await h.call('kt10000', { ...BUY, ord_uv: String(69000 - i * 100) });
  const body = { all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' };
  const token = await h.token();
  const first = await h.call('ka10075', body, { token });
  t.equal(first.json.return_code, 0, first.text);
  t.equal(first.headers['cont-yn'], 'Y');
  t.ok(first.headers['next-key'], 'next-key comes back');
  const rows1 = first.json.oso as unknown[];
  t.equal(rows1.length, 5);
  const second = await h.call('ka10075', body, { token, headers: { 'cont-yn': 'Y', 'next-key': String(first.headers['next-key']) } });
  t.equal(second.json.return_code, 0);
  t.ok((second.json.oso as unknown[]).length > 0, 'second page has rows');
  t.notSame(second.json.oso, rows1, 'a different page');
  await h.waitNoLiveTokens();
});

t.test('account and quote queries pass through', async (t) => {
  const bal = await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' });
  t.equal(bal.json.return_code, 0, bal.text);
  t.ok(Array.isArray(bal.json.acnt_evlt_remn_indv_tot));
  // The bot's own complete balance inquiry becomes the damage-assessment baseline (no extra broker call).
  let baseline: { holdings: { stkCd: string; qty: number }[] } | undefined;
  await waitFor(
    async () => {
      const raw = await h.sidecar.parts.store.get(`response:holdings:${CANARY.account}`);
      baseline = raw ? JSON.parse(raw) : undefined;
      return baseline !== undefined;
    },
    3000,
    'holdings baseline',
  );
  t.same(
    baseline!.holdings.map((x) => [x.stkCd, x.qty]),
    [['005930', 1000]],
    'holdings baseline recorded from the balance',
  );
  const q = await h.call('ka10001', { stk_cd: '005930' });
  t.equal(q.json.return_code, 0, q.text);
  t.ok(q.json.cur_prc);
  await h.waitNoLiveTokens();
});

t.test('revoked sidecar token is refused', async (t) => {
  const token = await h.token();
  const rv = await h.post('/oauth2/revoke', JSON.stringify({ appkey: h.botId, secretkey: h.botSecret, token }));
  t.equal(rv.json.return_code, 0, rv.text);
  const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(r.status, 401);
  t.match(r.json.return_msg, /KG2004/);
});

t.test('a bot whose record allows only queries cannot order (least privilege)', async (t) => {
  const { secret } = await h.sidecar.parts.bots.add({ id: 'reader', owner: 'bob', account: CANARY.account });
  const tok = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: 'reader', secretkey: secret.toString('latin1') }));
  t.equal(tok.json.return_code, 0, tok.text);
  const before = h.sim.stats().requests;
  const r = await h.call('kt10000', BUY, { token: String(tok.json.token) });
  t.equal(r.status, 403);
  t.match(r.json.return_msg, /KG3002/);
  t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
});
