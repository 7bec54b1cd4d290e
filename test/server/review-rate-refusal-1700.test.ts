// Review regression (a bot author's): the sidecar's own rate refusals (a policy rate limit, KG3005; no governor slot
// for the key within the wait, KG5006) carried return_code 5 and no Kiwoom detail code, while Kiwoom's own read
// `[1700:...]`. Kiwoom's clients back off and retry on [1700] (RATE_LIMIT_CODES = {1700}); a bare return_code 5 reads
// as a refusal for good, so a bot that changed only its base URL gave up on calls it would have retried. Now those
// refusals carry `[1700:허용된 요청 개수를 초과하였습니다]` before the sidecar code, with retry-after; a daily cap's
// refusal does not (retrying cannot help today).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startHarness } from '../helpers/harness.js';

const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

t.test("a policy rate limit's refusal carries [1700] and retry-after; a daily cap's does not", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-1700-'));
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(
    policyFile,
    `version: 1
rules:
  - { id: least-privilege, type: allow-apis, kinds: [query, account, order] }
  - { id: query-rate, type: rate-limit, when: { kinds: [query] }, limits: [{ max: 2, per: 1m }] }
  - { id: order-cap, type: daily-cap, maxOrders: 1 }
`,
  );
  const h = await startHarness({ policyFile, config: { risk: { enabled: false } } });
  t.teardown(() => h.close());
  const token = await h.token();
  const quotes = [];
  for (let i = 0; i < 3; i++) quotes.push(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  t.same(
    quotes.map((q) => q.json.return_code),
    [0, 0, 5],
    'two quotes a minute, the third refused',
  );
  t.match(
    quotes[2]!.json.return_msg,
    /^허용된 요청 개수를 초과하였습니다\[1700:허용된 요청 개수를 초과하였습니다\]\[KG3005:rule=query-rate /,
    "Kiwoom's [1700] before the sidecar code, which stays last",
  );
  t.ok(Number(quotes[2]!.headers['retry-after']) >= 1, 'with retry-after');

  t.equal((await h.call('kt10000', ORDER, { token })).json.return_code, 0, 'the first order');
  const capped = await h.call('kt10000', ORDER, { token });
  t.equal(capped.json.return_code, 5);
  t.match(capped.json.return_msg, /\[KG3005:rule=order-cap /, "the daily cap's refusal");
  t.notMatch(capped.json.return_msg, /\[1700/, 'carries no [1700]: retrying cannot help today');
});

t.test('no governor slot for the key within the wait (KG5006) carries [1700] too', async (t) => {
  const h = await startHarness({ config: { risk: { enabled: false }, upstream: { limits: { queryMaxWaitMs: 1 } } } });
  t.teardown(() => h.close());
  const token = await h.token();
  const burst = await Promise.all(Array.from({ length: 30 }, () => h.call('ka10001', { stk_cd: '005930' }, { token })));
  const refused = burst.filter((r) => String(r.json.return_msg).includes('[KG5006'));
  t.ok(refused.length > 0, `some of a burst of 30 on one key wait past queryMaxWaitMs (${refused.length})`);
  t.ok(
    refused.every((r) =>
      /^증권사 호출 한도에 도달했습니다\. 잠시 후 다시 시도하십시오\[1700:허용된 요청 개수를 초과하였습니다\]\[KG5006:/.test(String(r.json.return_msg)),
    ),
    'each with [1700] before KG5006',
  );
  t.equal(h.sim.stats().refusals[1700], 0, 'and Kiwoom itself refused nothing');
});
