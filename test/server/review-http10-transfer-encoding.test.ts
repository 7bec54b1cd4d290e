// Transfer-Encoding is HTTP/1.1's: an HTTP/1.0 message that carries it has faulty framing (RFC 9112 6.1). A front
// proxy that speaks HTTP/1.0 reads its body to the end of the connection, so the chunked body's end and any request
// after it are one body there, while a reader that decodes the chunks sees a second request: a smuggled call the
// front never judged. Such a request is refused (KG1003) and its connection closed; nothing reaches the broker.
// HTTP/1.0 with a Content-Length still works.
import t from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';
import { rawHttp } from '../helpers/raw-http.js';

let h: Harness;
let token: string;
t.before(async () => {
  h = await startHarness();
  token = await h.token();
});
t.teardown(() => h.close());

const body = '{"stk_cd":"005930"}';
const head = (version: string) =>
  `POST /api/dostk/stkinfo HTTP/${version}\r\nHost: x\r\napi-id: ka10001\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\n`;
const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;

t.test('HTTP/1.0 with Transfer-Encoding is refused as faulty framing; nothing reaches the simulator', async (t) => {
  await h.waitNoLiveTokens();
  const before = h.sim.stats().requests;
  const out = await rawHttp(h.url, `${head('1.0')}Transfer-Encoding: chunked\r\n\r\n${chunked}`);
  t.match(out, /^HTTP\/1\.1 400 /, out.split('\r\n')[0]);
  t.match(out, /"return_code":\d+/, 'Kiwoom-shaped body');
  t.match(out, /KG1003/, 'names KG1003');
  t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
});

t.test('a request pipelined behind it on a kept-alive HTTP/1.0 connection is never processed', async (t) => {
  await h.waitNoLiveTokens();
  const before = h.sim.stats().requests;
  const second = `${head('1.1')}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
  const out = await rawHttp(h.url, `${head('1.0')}Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}${second}`);
  t.equal((out.match(/HTTP\/1\.1 \d{3} /g) ?? []).length, 1, `exactly one response: ${out.split('\r\n')[0]}`);
  t.match(out, /connection: close/i, 'the connection is closed');
  t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
});

t.test('HTTP/1.0 with a Content-Length still goes out', async (t) => {
  const out = await rawHttp(h.url, `${head('1.0')}Content-Length: ${body.length}\r\n\r\n${body}`);
  t.match(out, /^HTTP\/1\.1 200 /, out.split('\r\n')[0]);
  t.match(out, /"return_code":0/);
});
