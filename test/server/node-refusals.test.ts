// Requests Node's HTTP layer would answer by itself (an HTTP/1.1 request
// without Host, an Expect the server does not meet, an Upgrade on a REST
// path) get a Kiwoom-shaped error naming a KG code like every other refusal,
// not Node's empty 400/417/404; and headers Node keeps only the first of
// (Host, Authorization, Content-Type) are refused when sent twice instead of read
// first-wins, a reading a front proxy may not share. Nothing reaches the
// simulator.
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
const quote = (lines: string, host = 'Host: x\r\n') =>
  `POST /api/dostk/stkinfo HTTP/1.1\r\n${host}api-id: ka10001\r\ncontent-type: application/json\r\n${lines}Content-Length: ${body.length}\r\n\r\n${body}`;
const auth = () => `authorization: Bearer ${token}\r\n`;

const cases: Record<string, { build: () => string; code: RegExp }> = {
  'HTTP/1.1 without Host': { build: () => quote(`${auth()}Connection: close\r\n`, ''), code: /KG1003/ },
  'an Expect other than 100-continue': { build: () => quote(`${auth()}Expect: x-custom\r\nConnection: close\r\n`), code: /KG1007/ },
  'an Upgrade on a REST path': { build: () => quote(`${auth()}Connection: upgrade\r\nUpgrade: websocket\r\n`), code: /KG1009/ },
  'Host twice': { build: () => quote(`${auth()}Host: y\r\nConnection: close\r\n`), code: /KG1003/ },
  'Authorization twice (first valid)': { build: () => quote(`${auth()}authorization: Bearer a.b.c\r\nConnection: close\r\n`), code: /KG1003/ },
  'Content-Type twice': { build: () => quote(`${auth()}content-type: text/plain\r\nConnection: close\r\n`), code: /KG1003/ },
};

for (const [name, { build, code }] of Object.entries(cases)) {
  t.test(name, async (t) => {
    await h.waitNoLiveTokens();
    const before = h.sim.stats().requests;
    const out = await raw(build());
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1]);
    t.ok(status >= 400 && status < 500, `refused with 4xx (got ${status}): ${out.split('\r\n')[0]}`);
    t.match(out, /"return_code":\d+/, 'Kiwoom-shaped body');
    t.match(out, code, `names ${code.source}`);
    t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
  });
}

t.test('a second Authorization past the header count Node keeps is refused, not dropped unseen', async (t) => {
  await h.waitNoLiveTokens();
  const before = h.sim.stats().requests;
  // Node keeps at most maxHeadersCount headers and drops the rest without a word: the duplicate checks never see them.
  const filler = 'x-f: 1\r\n'.repeat(1995);
  const out = await raw(quote(`${auth()}Connection: close\r\n${filler}authorization: Bearer a.b.c\r\n`));
  t.match(out, /^HTTP\/1\.1 431 /, out.split('\r\n')[0]);
  t.match(out, /"return_code":\d+/, 'Kiwoom-shaped body');
  t.match(out, /KG1012/, 'names KG1012');
  t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
});

t.test('HTTP/1.0 without Host and Expect: 100-continue still work', async (t) => {
  const ok = await raw(
    `POST /api/dostk/stkinfo HTTP/1.0\r\napi-id: ka10001\r\ncontent-type: application/json\r\n${auth()}Content-Length: ${body.length}\r\n\r\n${body}`,
  );
  t.match(ok, /^HTTP\/1\.1 200/, ok.split('\r\n')[0]);
  const cont = await raw(quote(`${auth()}Expect: 100-continue\r\nConnection: close\r\n`));
  t.match(cont, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/, cont.split('\r\n')[0]);
});
