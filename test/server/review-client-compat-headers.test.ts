// Request shapes of public Kiwoom clients that changed only their base URL: headers they always send and bodies
// they leave out. Each is what the client sends to Kiwoom itself.
//  - dongbin300/KiwoomRestApi.Net (C#, KiwoomRestApiClient.PostKiwoomRestApiAsync): `cont-yn` and `next-key` on every
//    call from ContYn/NextKey, both "" until a paged answer sets them; BaseClient.CreateRequest gives a POST no content
//    at all when the TR has no inputs (kt00013, kt00017: an empty HttpParameterMap), so .NET sends Content-Length: 0
//    and no Content-Type.
//  - gong-yeongbin/nest-wrapper-kiwoom (NestJS, BaseApiService.baseHeaders): `cont-yn: N` and `next-key: N` always.
import t from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';
import { rawHttp } from '../helpers/raw-http.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ sim: { pageSize: 1 } });
});
t.teardown(() => h.close());

const OPEN_ORDERS = { all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' };

t.test('KiwoomRestApi.Net: an empty cont-yn and next-key on a first call are no continuation, as Kiwoom reads them', async (t) => {
  const token = await h.token();
  for (let i = 0; i < 2; i++) {
    const buy = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: String(61_000 + i * 100), trde_tp: '0' }, { token });
    t.equal(buy.json.return_code, 0, buy.text);
  }
  const quote = await h.call('ka10001', { stk_cd: '005930' }, { token, headers: { 'cont-yn': '', 'next-key': '' } });
  t.equal(quote.status, 200, quote.text);
  t.equal(quote.json.return_code, 0, 'a quote with both headers empty is answered');
  // The client's paging: ContYn/NextKey start "", then carry what each answer said.
  let headers: Record<string, string> = { 'cont-yn': '', 'next-key': '' };
  let rows = 0;
  for (let page = 0; page < 10; page++) {
    const r = await h.call('ka10075', OPEN_ORDERS, { token, headers });
    t.equal(r.json.return_code, 0, `page ${page}: ${r.text}`);
    rows += ((r.json.oso as unknown[]) ?? []).length;
    if (r.headers['cont-yn'] !== 'Y') break;
    headers = { 'cont-yn': String(r.headers['cont-yn']), 'next-key': String(r.headers['next-key']) };
  }
  t.equal(rows, 2, 'both open orders, one a page');
  const bad = await h.call('ka10001', { stk_cd: '005930' }, { token, headers: { 'cont-yn': 'maybe' } });
  t.equal(bad.status, 400, 'a cont-yn that is neither empty, Y nor N is still refused');
  t.match(String(bad.json.return_msg), /\[KG1007:cont-yn\]/);
});

t.test('nest-wrapper-kiwoom: cont-yn N with next-key N on every call', async (t) => {
  const r = await h.call('ka10001', { stk_cd: '005930' }, { headers: { 'cont-yn': 'N', 'next-key': 'N' } });
  t.equal(r.json.return_code, 0, r.text);
});

/** A TR call as .NET's HttpClient sends a POST without content: Content-Length 0, no Content-Type. */
async function bodiless(apiId: string, path: string, token: string, extra = ''): Promise<{ status: number; json: Record<string, unknown> }> {
  const port = new URL(h.url).port;
  const raw = await rawHttp(
    h.url,
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\napi-id: ${apiId}\r\nauthorization: Bearer ${token}\r\ncont-yn: \r\nnext-key: \r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`,
    20_000,
  );
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), json: JSON.parse(Buffer.from(body || '{}', 'latin1').toString('utf8')) as Record<string, unknown> };
}

t.test('KiwoomRestApi.Net: a TR without inputs sent with no body and no Content-Type is read as {}', async (t) => {
  const token = await h.token();
  const before = h.sim.requestLog().length;
  for (const [apiId, path] of [
    ['kt00017', '/api/dostk/acnt'],
    ['ka00001', '/api/dostk/acnt'],
  ] as const) {
    const r = await bodiless(apiId, path, token);
    t.equal(r.status, 200, `${apiId}: ${JSON.stringify(r.json)}`);
    t.equal(r.json.return_code, 0, `${apiId} answered by Kiwoom`);
  }
  const forwarded = h.sim
    .requestLog()
    .slice(before)
    .filter((x) => x.apiId === 'kt00017' || x.apiId === 'ka00001');
  t.equal(forwarded.length, 2, 'both went to Kiwoom');
  // What is refused stays refused: a body with no type, a type that is not JSON.
  const typed = await bodiless('kt00017', '/api/dostk/acnt', token, 'Content-Type: text/plain\r\n');
  t.equal(typed.status, 415, 'an empty body declared as something else than JSON is still refused');
  const port = new URL(h.url).port;
  const raw = await rawHttp(
    h.url,
    `POST /api/dostk/acnt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\napi-id: kt00017\r\nauthorization: Bearer ${token}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
    20_000,
  );
  t.match(raw, /^HTTP\/1\.1 415 /, 'a body without a Content-Type is still refused');
  t.match(raw, /KG1011/);
});
