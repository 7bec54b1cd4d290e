// Request smuggling regressions over a raw TCP socket: ambiguous framing is
// refused with a 400 and the connection closed; nothing reaches the simulator.
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

const raw = (bytes: string): Promise<string> => rawHttp(h.url, bytes);

const body = '{"stk_cd":"005930"}';
const head = () => `POST /api/dostk/stkinfo HTTP/1.1\r\nHost: x\r\napi-id: ka10001\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\n`;

const cases: Record<string, () => string> = {
  'Transfer-Encoding and Content-Length together': () =>
    `${head()}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${(body.length).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
  'duplicate Content-Length (different)': () => `${head()}Content-Length: ${body.length}\r\nContent-Length: 5\r\n\r\n${body}`,
  'duplicate Content-Length (same)': () => `${head()}Content-Length: ${body.length}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  'obs-fold Transfer-Encoding': () => `${head()}Transfer-Encoding:\r\n chunked\r\n\r\n${(body.length).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
  'odd Transfer-Encoding': () => `${head()}Transfer-Encoding: xchunked\r\n\r\n${(body.length).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
  'Transfer-Encoding list': () => `${head()}Transfer-Encoding: chunked, identity\r\n\r\n${(body.length).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
  'two Transfer-Encoding headers': () =>
    `${head()}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n${(body.length).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
  'bare LF header lines': () =>
    `POST /api/dostk/stkinfo HTTP/1.1\nHost: x\napi-id: ka10001\nauthorization: Bearer ${token}\ncontent-type: application/json\nContent-Length: ${body.length}\n\n${body}`,
  'CR inside a header value': () => `${head()}next-key: a\rb\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  'absolute-form target': () =>
    `POST http://evil.example/api/dostk/stkinfo HTTP/1.1\r\nHost: x\r\napi-id: ka10001\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
};

for (const [name, build] of Object.entries(cases)) {
  t.test(name, async (t) => {
    await h.waitNoLiveTokens();
    const before = h.sim.stats().requests;
    const out = await raw(build());
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1]);
    t.ok(status >= 400 && status < 500, `refused with 4xx (got ${status}): ${out.split('\r\n')[0]}`);
    t.match(out, /"return_code":\d+/, 'Kiwoom-shaped body');
    t.match(out, /KG1\d{3}/, 'names an input error code');
    t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
  });
}

t.test('a smuggled second request after a refused one is never processed', async (t) => {
  await h.waitNoLiveTokens();
  const before = h.sim.stats().requests;
  const smuggled = `POST /api/dostk/ordr HTTP/1.1\r\nHost: x\r\napi-id: kt10000\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
  const out = await raw(`${head()}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`);
  t.equal((out.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'exactly one response, then the connection closes');
  t.equal(h.sim.stats().requests, before);
});

t.test('a well-formed chunked request still works', async (t) => {
  const out = await raw(`${head()}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${(body.length).toString(16)}\r\n${body}\r\n0\r\n\r\n`);
  t.match(out, /^HTTP\/1\.1 200/);
  t.match(out, /"return_code":0/);
});
