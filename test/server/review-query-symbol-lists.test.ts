// Review regression (parser differential): a quote such as ka10095
// (관심종목정보) takes several codes in one stk_cd, separated by '|', and
// Kiwoom answers for each. The policy read stk_cd as one code: a deny-symbols
// rule on quotes never matched "005930|035720", and an allow-symbols rule read
// "005930_AL|035720" as 005930 (everything from the first '_' is a venue
// suffix to baseCode), so the restricted or unlisted stock's data came back.
// Every code is judged now. An inquiry's stk_cd is also held to the form
// Kiwoom accepts (blank, a code, or codes joined by '|'): " 035720" or
// "035720\u0000" was judged as some other code while a broker that strips or
// folds it answers for the restricted one.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHarness, type Harness } from '../helpers/harness.js';

const POLICY = `version: 1
name: quote-symbols
rules:
  - id: least-privilege
    type: allow-apis
    kinds: [query, account, order, modify, cancel]
  - id: no-kakao-quotes
    type: deny-symbols
    when: { kinds: [query], bots: [bot-e2e] }
    symbols: ['035720']
  - id: junior-quote-universe
    type: allow-symbols
    when: { kinds: [query], bots: [junior-q] }
    symbols: ['005930', '000660']
`;

let h: Harness;
let dir: string;
let token: string;
let junior: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kguard-quote-symbols-'));
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(policyFile, POLICY);
  h = await startHarness({ policyFile });
  token = await h.token();
  junior = await h.addBot('junior-q', ['kind:query', 'kind:account']);
});
t.teardown(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

async function refused(t: Test, who: string, apiId: string, stkCd: string, code: RegExp): Promise<void> {
  const before = h.sim.stats().requests;
  const r = await h.call(apiId, { stk_cd: stkCd }, { token: who === 'junior-q' ? junior : token });
  const what = `${who} ${apiId} ${JSON.stringify(stkCd)}`;
  t.not(r.status, 200, `${what}: refused: ${r.text}`);
  t.match(String(r.json.return_msg), code, `${what}: ${r.text}`);
  t.equal(h.sim.stats().requests, before, `${what}: nothing reached the broker`);
}

async function sent(t: Test, who: string, apiId: string, body: Record<string, unknown>): Promise<void> {
  const before = h.sim.stats().requests;
  const r = await h.call(apiId, body, { token: who === 'junior-q' ? junior : token });
  const what = `${who} ${apiId} ${JSON.stringify(body)}`;
  t.equal(r.status, 200, `${what}: ${r.text}`);
  t.ok(h.sim.stats().requests > before, `${what}: went to the broker`);
}

t.test('a restricted code anywhere in a list of codes is refused by the deny-symbols rule', async (t) => {
  for (const list of ['005930|035720', '035720|005930', '000660|005930|035720_NX', '005930|A035720'])
    await refused(t, 'bot-e2e', 'ka10095', list, /\[KG3001:rule=no-kakao-quotes .*035720/);
});

t.test('a code off the allow-list anywhere in a list is refused, whatever venue suffix comes first', async (t) => {
  for (const list of ['005930_AL|035720', '005930|035720', '005930_NX|000660|035420'])
    await refused(t, 'junior-q', 'ka10095', list, /\[KG3001:rule=junior-quote-universe /);
});

t.test("an inquiry's stk_cd in a form Kiwoom does not document is refused before the policy reads it", async (t) => {
  for (const odd of ['035720\u0000', ' 035720', '035720 ', '035720\t', 'a035720', '005930||035720', '005930|', 'KRX:035720', '035720,005930'])
    await refused(t, 'bot-e2e', 'ka10001', odd, /\[KG1015:stk_cd must be a stock code/);
});

t.test('lists and codes the policy allows still go out', async (t) => {
  await sent(t, 'bot-e2e', 'ka10095', { stk_cd: '005930|000660' });
  await sent(t, 'junior-q', 'ka10095', { stk_cd: '005930_AL|000660' });
  await sent(t, 'junior-q', 'ka10001', { stk_cd: '005930' });
  await sent(t, 'bot-e2e', 'ka10001', { stk_cd: 'A005930' });
  await sent(t, 'bot-e2e', 'ka10075', { all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' });
});
