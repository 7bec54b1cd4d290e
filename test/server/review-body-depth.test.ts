// Kiwoom's request bodies are flat objects of strings. One nested thousands of levels deep fits in the body limit
// (64 KiB holds 30,000 brackets) and JSON.parse reads it, but JSON.stringify and the approval's canonical encoder
// recurse and run out of stack: the call was judged, counted and audited, then answered "internal error" (KG9001,
// HTTP 500) with a stack trace in the operator's error log, from any bot at will. A body nested deeper than
// limits.maxBodyDepth is refused as malformed input (KG1001) before anything judges it; nothing reaches the broker.
import t from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let token: string;
t.before(async () => {
  h = await startHarness({ allowed: ['kind:query', 'kind:account'] });
  token = await h.token();
});
t.teardown(() => h.close());

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

t.test('a body nested thousands of levels deep is refused as malformed input, not an internal error', async (t) => {
  await h.waitNoLiveTokens();
  const before = h.sim.stats().requests;
  for (const [apiId, path, fields] of [
    ['ka10001', '/api/dostk/stkinfo', '"stk_cd":"005930"'],
    ['ka01690', '/api/dostk/acnt', '"qry_dt":"20261204"'],
  ] as const) {
    const r = await h.post(path, `{${fields},"x":${nested(10_000)}}`, { 'api-id': apiId, authorization: `Bearer ${token}` });
    t.equal(r.status, 400, `${apiId}: 400 (${r.text})`);
    t.match(String(r.json.return_msg), /KG1001/, `${apiId}: names KG1001`);
    t.match(String(r.json.return_msg), /deep/, `${apiId}: says it nests too deep`);
  }
  t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
  t.notMatch(h.logs(), /internal error/, 'no internal error logged');
});

t.test('a body within the depth still goes out', async (t) => {
  const r = await h.call('ka10001', { stk_cd: '005930', x: [[['a']]] }, { token });
  t.equal(r.json.return_code, 0, r.text);
});

t.test('limits.maxBodyDepth is the knob', async (t) => {
  const tight = await startHarness({ config: { limits: { maxBodyDepth: 2 } } });
  t.teardown(() => tight.close());
  const r = await tight.call('ka10001', { stk_cd: '005930', x: [['a']] }, { token: await tight.token() });
  t.match(String(r.json.return_msg), /KG1001/, r.text);
});
