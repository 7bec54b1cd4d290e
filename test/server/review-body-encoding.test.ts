// Review regression (parser differential): a bot's body is read as UTF-8 and
// sent on as UTF-8. Bytes that are not UTF-8 were read as U+FFFD, so the
// sidecar judged, audited and sent on a character the bot never wrote (a key
// "ord_qty\xc0\x80" became "ord_qty\ufffd\ufffd"), where another reader drops
// such bytes, stops at them, or reads them in the bot's code page; and a body
// declared in another charset (EUC-KR, UTF-16) was read as UTF-8 all the
// same. Both are refused now, naming the reason, and nothing reaches Kiwoom.
// UTF-8, with or without a BOM and with the charset spelt as clients spell it,
// goes out as before. A realtime text frame that is not UTF-8 ends the socket
// (ws's own check) before anything of it is read.
import t from 'tap';
import path from 'node:path';
import { FIXTURES, startHarness, type Harness } from '../helpers/harness.js';
import { connectBot } from '../realtime/ws-client.js';

let h: Harness;
let token: string;
t.before(async () => {
  h = await startHarness({
    allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  });
  token = await h.token();
});
t.teardown(() => h.close());

const ORDER = '"dmst_stex_tp":"KRX","stk_cd":"005930","ord_qty":"1","ord_uv":"70000","trde_tp":"0"';
const bytes = (...parts: (string | number[])[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

async function order(body: Buffer, contentType = 'application/json;charset=UTF-8') {
  return h.post('/api/dostk/ordr', body, { 'api-id': 'kt10000', authorization: `Bearer ${token}`, 'content-type': contentType });
}

t.test('bytes that are not UTF-8, anywhere in the body, are refused (KG1001) and nothing reaches the broker', async (t) => {
  const bad: [string, Buffer][] = [
    ['a stray byte in an extra value', bytes(`{${ORDER},"memo":"`, [0xff], '"}')],
    ['an overlong NUL in a key', bytes(`{${ORDER},"ord_qty`, [0xc0, 0x80], '":"1000"}')],
    ['an EUC-KR word in a value', bytes(`{${ORDER},"memo":"`, [0xb8, 0xc5, 0xbc, 0xf6], '"}')],
    ['a UTF-8-encoded surrogate (CESU-8)', bytes(`{${ORDER},"memo":"`, [0xed, 0xa0, 0x80], '"}')],
    ['a truncated sequence at the end of a value', bytes(`{${ORDER},"memo":"`, [0xe4, 0xb8], '"}')],
  ];
  for (const [what, body] of bad) {
    const before = h.sim.stats().requests;
    const r = await order(body);
    t.equal(r.status, 400, `${what}: ${r.text}`);
    t.match(String(r.json.return_msg), /\[KG1001:the body is not UTF-8\]/, `${what}: KG1001 naming the encoding`);
    t.equal(h.sim.stats().requests, before, `${what}: nothing reached the broker`);
  }
});

t.test('a body declared in another charset is refused (KG1011) and nothing reaches the broker', async (t) => {
  for (const ct of [
    'application/json; charset=EUC-KR',
    'application/json;charset=utf-16',
    'application/json; charset="ISO-8859-1"',
    'application/json;charset=UTF-8;charset=EUC-KR',
  ]) {
    const before = h.sim.stats().requests;
    const r = await order(bytes(`{${ORDER}}`), ct);
    t.equal(r.status, 415, `${ct}: ${r.text}`);
    t.match(String(r.json.return_msg), /\[KG1011:the charset must be UTF-8\]/, `${ct}: KG1011 naming the charset`);
    t.equal(h.sim.stats().requests, before, `${ct}: nothing reached the broker`);
  }
});

t.test('UTF-8 as clients send it still goes out', async (t) => {
  const cases: [string, Buffer][] = [
    ['application/json;charset=UTF-8', bytes(`{${ORDER}}`)],
    ['application/json', bytes(`{${ORDER},"memo":"삼성전자"}`)],
    ['application/json; charset="utf-8"', bytes(`{${ORDER}}`)],
    ['application/json;charset=utf8', bytes(`{${ORDER}}`)],
    ['application/json;charset=UTF-8', bytes([0xef, 0xbb, 0xbf], `{${ORDER}}`)],
  ];
  for (const [ct, body] of cases) {
    const r = await order(body, ct);
    t.equal(r.json.return_code, 0, `${ct}${body[0] === 0xef ? ' with a BOM' : ''}: ${r.text}`);
  }
});

t.test('a realtime text frame that is not UTF-8 ends the socket; nothing of it is registered', async (t) => {
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  t.equal((await s.login(token)).return_code, 0, 'logged in');
  const registered = h.sim.stats().ws.registrations;
  s.ws.send(bytes('{"trnm":"REG","grp_no":"1","refresh":"1","data":[{"item":["005930', [0xc0, 0x80], '"],"type":["0B"]}]}'), { binary: false });
  const closed = await s.closed;
  t.equal(closed.code, 1007, `closed as invalid frame payload data: ${JSON.stringify(closed)}`);
  t.equal(h.sim.stats().ws.registrations, registered, 'nothing registered upstream');
});
