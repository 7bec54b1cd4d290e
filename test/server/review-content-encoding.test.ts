// A body declared content-encoded (Content-Encoding: gzip, deflate, br) was read as plain JSON all the same: bytes
// that are also plain JSON were judged and sent on as what the bot did not say it sent (a front proxy or WAF that
// decodes the declared coding judges something else), and a bot that really compressed its body was told its JSON
// was malformed (KG1001). The sidecar decodes no coding: such a body is refused naming the header (KG1011, 415, as
// RFC 9110 15.5.16 says for an unsupported content coding), and nothing reaches the broker. `identity` is no coding.
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let token: string;
t.before(async () => {
  h = await startHarness({ allowed: ['kind:query', 'kind:order'] });
  token = await h.token();
});
t.teardown(() => h.close());

const ORDER = JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' });
const order = (body: Buffer | string, encoding: string) =>
  h.post('/api/dostk/ordr', body, { 'api-id': 'kt10000', authorization: `Bearer ${token}`, 'content-encoding': encoding });

t.test('a content-encoded body is refused naming Content-Encoding; nothing reaches the broker', async (t) => {
  await h.waitNoLiveTokens();
  const before = h.sim.stats().requests;
  for (const [what, body, encoding] of [
    ['plain JSON declared gzip', ORDER, 'gzip'],
    ['gzip', gzipSync(ORDER), 'gzip'],
    ['plain JSON declared br', ORDER, 'br'],
    ['a list ending in identity', ORDER, 'gzip, identity'],
  ] as const) {
    const r = await order(body, encoding);
    t.equal(r.status, 415, `${what}: 415 (${r.text})`);
    t.match(String(r.json.return_msg), /KG1011.*Content-Encoding/i, `${what}: names KG1011 and the header`);
  }
  t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
});

t.test('identity is no coding: the call goes out', async (t) => {
  const r = await h.post('/api/dostk/stkinfo', '{"stk_cd":"005930"}', {
    'api-id': 'ka10001',
    authorization: `Bearer ${token}`,
    'content-encoding': 'identity',
  });
  t.equal(r.json.return_code, 0, r.text);
});
