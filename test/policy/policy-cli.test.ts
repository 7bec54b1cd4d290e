// kguard policy check | test | explain | diff | schema, as security staff run them.
// Every shipped example policy must pass its own cases here.
import t from 'tap';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { P, runPolicy, writeMarketMakerCall } from '../helpers/policy-cli.js';
import { POLICY_SCHEMA } from '../../proxy/policy/index.js';

const run = runPolicy;

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kg-policy-cli-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('check: OK with version; problems with file:line:column and exit 1', async (t) => {
  const ok = await run('check', '--lang', 'en', P('default.yaml'));
  t.equal(ok.code, 0);
  t.match(ok.out, /default\.yaml: OK \(\d+ rules, version [0-9a-f]{16}\)/);
  const bad = path.join(dir, 'bad.yaml');
  await writeFile(bad, 'version: 1\nrules:\n  - id: x\n    type: markets\n    allow: [KRX]\n    alow: [NXT]\n');
  const r = await run('check', '--lang', 'en', P('default.yaml'), bad);
  t.equal(r.code, 1);
  t.match(r.err, `${bad}:6:5: rules[0].alow: unknown key 'alow'`);
  const json = await run('check', '--json', bad);
  t.match(JSON.parse(json.out), [{ file: bad, ok: false, issues: [{ line: 6, column: 5 }] }]);
});

t.test('test: every shipped policy passes its cases', async (t) => {
  const pairs: [string, string][] = [[P('default.yaml'), P('default.cases.yaml')]];
  for (const f of await readdir(P('examples'))) {
    if (f.endsWith('.cases.yaml')) pairs.push([P(`examples/${f.replace('.cases.yaml', '.yaml')}`), P(`examples/${f}`)]);
  }
  t.ok(pairs.length >= 5, 'default + four examples');
  for (const [policy, cases] of pairs) {
    const r = await run('test', policy, cases);
    t.equal(r.code, 0, `${path.basename(cases)}\n${r.out}${r.err}`);
    t.match(r.out, /통과 \d+건, 실패 0건/);
  }
});

t.test('test: a failing case is reported with what differed', async (t) => {
  const cases = path.join(dir, 'c.yaml');
  await writeFile(
    cases,
    `cases:
  - name: expects the wrong thing
    call: { apiId: kt10000, body: { dmst_stex_tp: KRX, stk_cd: "005930", ord_qty: "5000", ord_uv: "1", trde_tp: "0" } }
    market: { referencePrice: 1 }
    expect: { decision: allow }
  - name: right
    call: { apiId: ka10001, body: { stk_cd: "005930" } }
    expect: { decision: allow }
`,
  );
  const r = await run('test', '--lang', 'en', P('default.yaml'), cases);
  t.equal(r.code, 1);
  t.match(r.out, /FAIL {2}expects the wrong thing\n\s+expected allow, got deny by order-size/);
  t.match(r.out, /1 passed, 1 failed/);
  const badCases = path.join(dir, 'bad-cases.yaml');
  await writeFile(badCases, 'cases:\n  - name: x\n    call: { apiId: kt10000 }\n    expect: { decison: allow }\n');
  const b = await run('test', P('default.yaml'), badCases);
  t.equal(b.code, 1);
  t.match(b.err, /bad-cases\.yaml:4:\d+: cases\[0\]\.expect/);
});

t.test('explain: every rule considered, with its verdict', async (t) => {
  const call = await writeMarketMakerCall(dir);
  const r = await run('explain', P('examples/market-maker.yaml'), '--call', call, '--lang', 'en');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /decision: DENY by collar — price 80,000 is 14\.29% away/);
  t.match(r.out, /over\s+order-size \[order-size\] — replaced by an override/);
  t.match(r.out, /pass\s+order-size-alpha/);
  t.match(r.out, /pass\s+order-burst \[rate-limit\]/, 'counters are shown without being charged');
  t.match(r.out, /cancel-ratio \[cancel-ratio\] — other api kinds/);
  const json = JSON.parse((await run('explain', P('examples/market-maker.yaml'), '--call', call, '--json')).out);
  t.equal(json.decision.ruleId, 'collar');
  t.ok(json.trace.length >= 5);
  const bare = path.join(dir, 'bare.yaml');
  await writeFile(bare, 'apiId: ka10001\nbody: { stk_cd: "005930" }\n');
  t.match((await run('explain', P('examples/read-only-bot.yaml'), '--call', bare)).out, /판정: 허용 \(allow\)/);
});

const SIDED = `version: 1
language: en
rules:
  - { id: buy-size, type: order-size, maxNotional: 1000000, when: { sides: [buy] } }
`;
const BUY_BODY = '{ dmst_stex_tp: KRX, stk_cd: "005930", ord_qty: "10", ord_uv: "50000", trde_tp: "0" }';
const MODIFY_BODY = (orig: string) => `{ dmst_stex_tp: KRX, orig_ord_no: "${orig}", stk_cd: "005930", mdfy_qty: "10", mdfy_uv: "150000" }`;

t.test('test and explain: a modify takes the side of an order a `before` call placed under `orderNo`, and show it', async (t) => {
  const policy = path.join(dir, 'sided.yaml');
  await writeFile(policy, SIDED);
  const cases = path.join(dir, 'sided.cases.yaml');
  await writeFile(
    cases,
    `cases:
  - name: a buy re-priced past the buy rule
    before: [{ apiId: kt10000, body: ${BUY_BODY}, orderNo: "0000001" }]
    call: { apiId: kt10002, body: ${MODIFY_BODY('0000001')} }
    expect: { decision: deny, rule: buy-size }
  - name: a sell re-priced is no buy
    before: [{ apiId: kt10001, body: ${BUY_BODY}, orderNo: "0000001" }]
    call: { apiId: kt10002, body: ${MODIFY_BODY('0000001')} }
    expect: { decision: allow }
  - name: an order never placed is of unknown side (expected wrongly, to see the side reported)
    call: { apiId: kt10002, body: ${MODIFY_BODY('0000777')} }
    expect: { decision: allow }
`,
  );
  const r = await run('test', policy, cases);
  t.equal(r.code, 1, r.err);
  t.match(r.out, /PASS {2}a buy re-priced past the buy rule\nPASS {2}a sell re-priced is no buy\n/);
  t.match(
    r.out,
    /FAIL {2}an order never placed[^\n]*\n\s+expected allow, got deny by buy-size .*\n\s+side: unknown \(no order 0000777 was placed in this case/,
  );
  const json = JSON.parse((await run('test', '--json', policy, cases)).out);
  t.same(
    json.results.map((x: { side?: string }) => x.side),
    ['buy', 'sell', 'unknown'],
  );

  const call = path.join(dir, 'modify.yaml');
  await writeFile(call, `before: [{ apiId: kt10000, body: ${BUY_BODY}, orderNo: "0000001" }]\ncall: { apiId: kt10002, body: ${MODIFY_BODY('0000001')} }\n`);
  const known = await run('explain', policy, '--call', call);
  t.equal(known.code, 0, known.err);
  t.match(known.out, /^call: kt10002 \(modify, buy: the side of order 0000001\)/);
  t.match(known.out, /decision: DENY by buy-size/);
  t.equal(JSON.parse((await run('explain', policy, '--call', call, '--json')).out).side, 'buy');
  await writeFile(call, `call: { apiId: kt10002, body: ${MODIFY_BODY('0000777')} }\n`);
  const unknown = await run('explain', policy, '--call', call);
  t.match(
    unknown.out,
    /^call: kt10002 \(modify, side unknown: no order 0000777 was placed in this case \(a before call places one with orderNo: "0000777"\); the rules for buys and for sells both apply\)/,
  );
  t.match(unknown.out, /DENY\s+buy-size \[order-size\] — .*the side of order 0000777 is not known/);
});

t.test('test: the before calls of a `refused` case give back what the daily caps charged them, as the sidecar does', async (t) => {
  const policy = path.join(dir, 'capped.yaml');
  await writeFile(policy, 'version: 1\nlanguage: en\nrules:\n  - { id: cap, type: daily-cap, maxBuyNotional: 1000000 }\n');
  const buy = (price: number) => `{ apiId: kt10000, body: { dmst_stex_tp: KRX, stk_cd: "005930", ord_qty: "10", ord_uv: "${price}", trde_tp: "0" } }`;
  const cases = path.join(dir, 'capped.cases.yaml');
  await writeFile(
    cases,
    `cases:
  - name: a buy Kiwoom refused leaves the cap
    refused: true
    before: [${buy(70000)}]
    call: ${buy(70001)}
    expect: { decision: allow }
  - name: a buy whose outcome is not given stays charged (it may have been placed)
    before: [${buy(70000)}]
    call: ${buy(70001)}
    expect: { decision: deny, rule: cap, reasonContains: "used KRW 700,000" }
  - name: a buy the broker accepted stays charged
    succeeded: true
    before: [${buy(70000)}]
    call: ${buy(70001)}
    expect: { decision: deny, rule: cap }
`,
  );
  const r = await run('test', policy, cases);
  t.equal(r.code, 0, `${r.out}${r.err}`);
  t.match(r.out, /3 passed, 0 failed/);
  const both = path.join(dir, 'both.cases.yaml');
  await writeFile(both, `cases:\n  - name: both\n    refused: true\n    succeeded: true\n    call: ${buy(70000)}\n    expect: { decision: allow }\n`);
  const bad = await run('test', policy, both);
  t.not(bad.code, 0, 'a case cannot be both refused and succeeded');
  t.match(`${bad.out}${bad.err}`, /either succeeded or refused/);
});

t.test('diff: loosening and tightening, and --fail-on-loosen for CI', async (t) => {
  const a = path.join(dir, 'a.yaml');
  const b = path.join(dir, 'b.yaml');
  await writeFile(
    a,
    `version: 1
rules:
  - { id: size, type: order-size, maxQuantity: 100 }
  - { id: venues, type: markets, allow: [KRX] }
  - { id: hours, type: trading-window, windows: [{ start: "09:00", end: "15:30" }] }
  - { id: gone, type: deny-symbols, symbols: ["035720"] }
`,
  );
  await writeFile(
    b,
    `version: 1
riskThresholds: { approval: 0.95 }
rules:
  - { id: size, type: order-size, maxQuantity: 50, mode: shadow }
  - { id: venues, type: markets, allow: [KRX, NXT] }
  - { id: hours, type: trading-window, windows: [{ start: "08:00", end: "15:30" }] }
  - { id: dup, type: duplicate-guard, windowSeconds: 2 }
`,
  );
  const r = await run('diff', '--lang', 'en', a, b);
  t.equal(r.code, 0);
  t.match(r.out, /loosens {2}size: mode enforce → shadow/);
  t.match(r.out, /tightens size: maxQuantity 100 → 50/);
  t.match(r.out, /loosens {2}venues: allow allows more: NXT/);
  t.match(r.out, /loosens {2}hours: windows now open \(KST\): mon 08:00-09:00, tue 08:00-09:00, wed 08:00-09:00, thu 08:00-09:00, fri 08:00-09:00\n/);
  t.match(r.out, /loosens {2}gone: rule removed \(deny-symbols\)/);
  t.match(r.out, /tightens dup: rule added \(duplicate-guard\)/);
  t.match(r.out, /loosens {2}riskThresholds\.approval 0\.9 → 0\.95/);
  t.equal((await run('diff', '--lang', 'en', a, b, '--fail-on-loosen')).code, 3);
  t.equal((await run('diff', '--lang', 'en', b, b, '--fail-on-loosen')).code, 0);
  t.match((await run('diff', '--lang', 'en', a, a)).out, /no rule changes/);
});

t.test('diff: an added override is judged against the rule it replaces; countModifies is reported', async (t) => {
  const a = path.join(dir, 'ov-a.yaml');
  const b = path.join(dir, 'ov-b.yaml');
  await writeFile(
    a,
    `version: 1
rules:
  - { id: size, type: order-size, maxQuantity: 100 }
  - { id: ratio, type: cancel-ratio, maxCancelsPerOrder: 2 }
`,
  );
  await writeFile(
    b,
    `version: 1
rules:
  - { id: size, type: order-size, maxQuantity: 100 }
  - { id: size-x, type: order-size, maxQuantity: 1000000, overrides: size, when: { bots: [x] } }
  - { id: ratio, type: cancel-ratio, maxCancelsPerOrder: 2, countModifies: false }
`,
  );
  const r = await run('diff', '--lang', 'en', a, b);
  t.match(r.out, /loosens {2}size-x: rule added \(order-size\)/, r.out);
  t.match(r.out, /loosens {2}ratio: countModifies true → false/, r.out);
  t.equal((await run('diff', '--lang', 'en', a, b, '--fail-on-loosen')).code, 3, 'a CI gate on loosening catches both');
  const tight = path.join(dir, 'ov-c.yaml');
  await writeFile(
    tight,
    `version: 1
rules:
  - { id: size, type: order-size, maxQuantity: 100 }
  - { id: size-x, type: order-size, maxQuantity: 10, overrides: size, when: { bots: [x] } }
  - { id: ratio, type: cancel-ratio, maxCancelsPerOrder: 2 }
`,
  );
  t.match((await run('diff', '--lang', 'en', a, tight)).out, /tightens size-x: rule added \(order-size\)/, 'a stricter override still tightens');
  t.match((await run('diff', '--lang', 'en', tight, b)).out, /loosens {2}size-x: maxQuantity 10 → 1000000/);
  const wider = path.join(dir, 'ov-d.yaml');
  await writeFile(wider, (await readFile(b, 'utf8')).replace('bots: [x]', 'bots: [x, y]'));
  t.match(
    (await run('diff', '--lang', 'en', b, wider)).out,
    /loosens {2}size-x: applies to: bots \+y/,
    'the looser override now replaces the default for one more bot',
  );
});

t.test('test and explain give the reasons the sidecar gives: Korean unless the policy, --lang or the configuration says', async (t) => {
  // The sidecar speaks Korean by default: a case written against what the bot reads must pass offline, and
  // explain must show the bot's text, not an English one the bot never sees.
  const call = path.join(dir, 'lang-call.json');
  const order = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '10', ord_uv: '80000', trde_tp: '0' };
  await writeFile(call, JSON.stringify({ call: { bot: 'mm-alpha', apiId: 'kt10000', body: order }, market: { referencePrice: 70000 } }));
  const ko = await run('explain', P('examples/market-maker.yaml'), '--call', call);
  t.equal(ko.code, 0, ko.err);
  t.match(ko.out, /판정: 거부 \(deny\), 규칙 collar — 주문단가 80,000원이 기준가 70,000원에서 14\.29% 벗어났습니다 \(한도 /);
  t.match((await run('explain', P('examples/market-maker.yaml'), '--call', call, '--lang', 'en')).out, /DENY by collar — price 80,000 is 14\.29% away/);
  const en = path.join(dir, 'kguard-en.yaml');
  await writeFile(en, 'language: en\n');
  t.match((await run('explain', P('examples/market-maker.yaml'), '--call', call, '--config', en)).out, /DENY by collar — price 80,000 is 14\.29% away/);

  const cases = path.join(dir, 'lang.cases.yaml');
  await writeFile(
    cases,
    `cases:
  - name: the collar's reason as the bot reads it
    call: { bot: mm-alpha, apiId: kt10000, body: ${JSON.stringify(order)} }
    market: { referencePrice: 70000 }
    expect: { decision: deny, rule: collar, reasonContains: "벗어났습니다" }
`,
  );
  const passed = await run('test', P('examples/market-maker.yaml'), cases);
  t.equal(passed.code, 0, passed.out);
  t.equal((await run('test', P('examples/market-maker.yaml'), cases, '--lang', 'en')).code, 1, 'in English the Korean text is not found');
  // The shipped examples' cases hold for the sidecar's default language.
  const dayTrader = await run('test', P('examples/day-trader.yaml'), P('examples/day-trader.cases.yaml'));
  t.equal(dayTrader.code, 0, dayTrader.out);
});

t.test('schema prints the published schema; usage errors exit 2', async (t) => {
  t.same(JSON.parse((await run('schema')).out), JSON.parse(JSON.stringify(POLICY_SCHEMA)));
  for (const args of [
    [],
    ['nope'],
    ['check'],
    ['test', 'only-one'],
    ['explain', 'f.yaml'],
    ['diff', 'a'],
    ['check', '--lang', 'fr', 'x'],
    ['check', '--wat', 'x'],
  ]) {
    const r = await run(...args);
    t.equal(r.code, 2, args.join(' '));
  }
});
