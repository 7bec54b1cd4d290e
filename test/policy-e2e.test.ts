// Through the real sidecar and simulator over sockets: a denied call comes
// back in Kiwoom's shape naming the rule, and the simulator receives nothing
// (no broker token issued, so no key was unwrapped). Also: rate limits as
// KG3005 with retry-after, the reference price fetched through the sidecar,
// hot reload under live traffic, and no valid policy → refuse.
import t from 'tap';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHarness, waitFor, type Harness } from './helpers/harness.js';

const BUY = (qty: string, price = '70000') => ({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: qty, ord_uv: price, trde_tp: '0', cond_uv: '' });

const POLICY = (maxQuantity: number) => `version: 1
rules:
  - { id: least-privilege, type: allow-apis, kinds: [query, account, order, modify, cancel] }
  - { id: size, type: order-size, maxQuantity: ${maxQuantity} }
  - { id: burst, type: rate-limit, when: { kinds: [order] }, limits: [{ max: 3, per: 1m }] }
  - { id: collar, type: price-collar, maxDeviationPercent: 5, when: { apiIds: [kt10001] } }
`;

let dir: string;
let file: string;
let h: Harness;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kg-policy-e2e-'));
  file = path.join(dir, 'policy.yaml');
  await writeFile(file, POLICY(10));
  h = await startHarness({ policyFile: file, config: { policy: { file, reloadDebounceMs: 20 } } });
});
t.teardown(async () => { await h.close(); await rm(dir, { recursive: true, force: true }); });

async function simCounts() {
  const s = h.sim.stats();
  return { requests: s.requests, tokens: s.tokensIssued };
}

t.test('a denied order never reaches the simulator and names the rule', async (t) => {
  const token = await h.token();
  const before = await simCounts();
  const r = await h.call('kt10000', BUY('11'), { token });
  t.equal(r.status, 403);
  t.equal(r.json.return_code, 2);
  t.match(String(r.json.return_msg), /\[KG3001:rule=size /);
  t.match(String(r.json.return_msg), /주문수량 11주가 한도 10주를 초과합니다/, 'Korean reason by default');
  t.same(await simCounts(), before, 'no request and no broker token upstream');
});

t.test('an allowed order goes through; the rate limit answers 429 KG3005 with retry-after', async (t) => {
  const token = await h.token();
  const ok = await h.call('kt10000', BUY('1'), { token });
  t.equal(ok.json.return_code, 0, ok.text);
  await h.call('kt10000', BUY('2'), { token });
  await h.call('kt10000', BUY('3'), { token });
  await h.waitNoLiveTokens();
  const before = await simCounts();
  const limited = await h.call('kt10000', BUY('4'), { token });
  t.equal(limited.status, 429);
  t.equal(limited.json.return_code, 5);
  t.match(String(limited.json.return_msg), /KG3005:rule=burst/);
  t.ok(Number(limited.headers['retry-after']) >= 1, 'retry-after header');
  t.same(await simCounts(), before, 'nothing sent upstream');
});

t.test('the price collar uses a quote fetched through the sidecar; only the quote goes upstream', async (t) => {
  const token = await h.token();
  const quote = await h.call('ka10001', { stk_cd: '005930' }, { token });
  const ref = Math.abs(Number(String(quote.json.cur_prc).replace(/[^0-9-]/g, '')));
  t.ok(ref > 0, 'the simulator quotes a price');
  await h.waitNoLiveTokens();
  const before = h.sim.requestLog().length;
  const far = await h.call('kt10001', { ...BUY('1', String(Math.round(ref * 1.5))) }, { token });
  t.equal(far.status, 403, far.text);
  t.match(String(far.json.return_msg), /KG3001:rule=collar/);
  await h.waitNoLiveTokens();
  const upstream = h.sim.requestLog().slice(before).map((r) => r.apiId).filter(Boolean);
  t.notOk(upstream.includes('kt10001'), 'the sell was not forwarded');
});

t.test('hot reload under traffic: a looser file takes effect, a broken one is ignored', async (t) => {
  const policy = h.sidecar.parts.policy;
  const v1 = policy.current()!.version;
  await writeFile(`${file}.tmp`, POLICY(50).replace('max: 3, per: 1m', 'max: 100, per: 1m'));
  await rename(`${file}.tmp`, file);
  await waitFor(() => policy.current()!.version !== v1, 5000, 'reload');
  const token = await h.token();
  const r = await h.call('kt10000', BUY('20'), { token });
  t.equal(r.json.return_code, 0, r.text);
  const v2 = policy.current()!.version;
  await writeFile(`${file}.tmp`, 'version: 1\nrules:\n  - { id: size, type: order-size }\n');
  await rename(`${file}.tmp`, file);
  await waitFor(() => policy.lastError() !== undefined, 5000, 'the broken file to be seen');
  t.equal(policy.current()!.version, v2);
  const still = await h.call('kt10000', BUY('51'), { token });
  t.match(String(still.json.return_msg), /KG3001:rule=size/, 'the last good policy still enforces');
  await h.waitNoLiveTokens();
});

t.test('a sidecar whose policy was never valid refuses calls (fail closed)', async (t) => {
  const bad = path.join(dir, 'bad.yaml');
  await writeFile(bad, 'version: 1\nrules: [\n');
  const h2 = await startHarness({ policyFile: bad, config: { policy: { file: bad } } });
  t.teardown(() => h2.close());
  const token = await h2.token();
  const before = h2.sim.stats().requests;
  const r = await h2.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(r.status, 503);
  t.match(String(r.json.return_msg), /KG3003/);
  t.equal(h2.sim.stats().requests, before);
});
