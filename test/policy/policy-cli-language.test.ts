// kguard policy check | test | explain as a Korean security team runs them: every printed line in the reader's
// language (Korean by default, English by --lang or the configuration), places, codes and rule ids unchanged,
// --json untranslated, and every problem of a file in one pass.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { P, runPolicy, writeMarketMakerCall } from '../helpers/policy-cli.js';
import { ISSUE_CODES, ISSUE_CODES_KO } from '../../proxy/policy/issue-text.js';

const HANGUL = /[\uac00-\ud7a3]/;

const run = runPolicy;

/** Lines with English words outside the parts that are never translated (paths, ids, YAML values, quoted input). */
function englishLines(text: string, allowed: RegExp[]): string[] {
  return text
    .split('\n')
    .map((l) => allowed.reduce((s, re) => s.replace(re, ''), l))
    .filter((l) => /\b(expected|problem|passed|failed|unknown|must|rule|decision|PASS|FAIL|not|call|version)\b/.test(l));
}

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kg-policy-lang-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

// Schema problems (rules[0], rules[4]) and semantic ones (rules[2], rules[3], rules[5], the holiday) in one file.
const BROKEN = [
  'version: 1', // 1
  'calendar: { holidays: ["2026-02-30"] }', // 2  not a real date (semantic)
  'rules:', // 3
  '  - id: my rule', // 4  id pattern (schema)
  '    type: order-size', // 5
  '    maxQuantity: 0', // 6  minimum (schema)
  '  - { id: venues, type: markets, allow: [KRX] }', // 7
  '  - { id: venues, type: markets, allow: [NXT] }', // 8  duplicate id (semantic)
  '  - id: late', // 9
  '    type: trading-window', // 10
  '    windows: [{ start: "16:00", end: "09:00" }]', // 11 end before start (semantic)
  '  - id: junior', // 12
  '    type: order-size', // 13
  '    maxQuantty: 10', // 14 unknown key (schema); its override is not judged
  '    overrides: nothing-here', // 15
  '  - { id: q, type: order-size, maxQuantity: 5, when: { kinds: [query] } }', // 16 never applies (semantic)
  '',
].join('\n');

t.test('check: schema and semantic problems of one file in one pass, each at its line', async (t) => {
  const file = path.join(dir, 'broken.yaml');
  await writeFile(file, BROKEN);
  const r = await run('check', '--lang', 'en', file);
  t.equal(r.code, 1);
  const lines = r.err.trim().split('\n');
  t.same(
    lines.slice(0, -1).map((l) => l.slice(file.length + 1).split(':')[0]),
    ['2', '4', '6', '8', '11', '12', '14', '16'],
    r.err,
  );
  t.match(r.err, /:2:\d+: calendar\.holidays\[0\]: 2026-02-30 is not a real date/);
  t.match(r.err, /:8:\d+: rules\[2\]\.id: duplicate rule id 'venues'/);
  t.match(r.err, /:11:\d+: rules\[3\]\.windows\[0\]\.end: end 09:00 must be after start 16:00/);
  t.match(r.err, /:16:\d+: rules\[5\]\.when\.kinds: a rule of type order-size judges none of these kinds/);
  t.notMatch(r.err, /nothing-here/, 'a schema-invalid rule is left out of the checks that read it');
  t.match(lines.at(-1), `${file}: 8 problem(s)`);
});

t.test('check: Korean by default, English by --lang or the configuration; places and rule ids the same', async (t) => {
  const file = path.join(dir, 'broken.yaml');
  await writeFile(file, BROKEN);
  const ko = await run('check', file, P('default.yaml'));
  t.equal(ko.code, 1);
  t.match(ko.out, /default\.yaml: 정상 \(규칙 \d+개, 버전 [0-9a-f]{16}\)/);
  t.match(ko.err, `${file}: 문제 8건`);
  t.match(ko.err, /:4:9: rules\[0\]\.id: "my rule"은\(는\) 올바르지 않습니다 \(영문자, 숫자, 점, 대시, 밑줄로 64자까지/);
  t.match(ko.err, /:6:\d+: rules\[0\]\.maxQuantity: 1 이상이어야 합니다 \(입력값 0\) \[규칙 "my rule"\]/);
  t.match(ko.err, /:14:5: rules\[4\]\.maxQuantty: 알 수 없는 키 'maxQuantty' \("maxQuantity"의 오타인가요\?\)/);
  t.match(ko.err, /:8:\d+: rules\[2\]\.id: 규칙 id가 중복됩니다: 'venues' \(처음 사용: rules\[1\]\) \[규칙 "venues"\]/);
  t.same(englishLines(ko.err, [/^[^ ]+: /, /\[규칙 "[^"]*"\]/, /'[^']*'/g, /"[^"]*"/g, /\([^)]*policy\.[a-zA-Z]+\)/]), [], 'no English sentence left');
  const en = await run('check', '--lang', 'en', file);
  const places = (s: string) => s.split('\n').map((l) => /^([^ ]+:\d+:\d+: [^ ]+:)/.exec(l)?.[1]);
  t.same(places(ko.err), places(en.err), 'file:line:column: path the same in both');
  t.notMatch(en.err, HANGUL);
  t.match(en.err, /"my rule" is not valid here \(letters, digits, dot, dash, underscore; up to 64 characters/, 'the id says how to write it');
  const config = path.join(dir, 'kguard-en.yaml');
  await writeFile(config, 'language: en\n');
  t.equal((await run('check', '--config', config, file)).err, en.err, 'the configured language');
});

t.test('check --json is the same whatever the language', async (t) => {
  const file = path.join(dir, 'broken.yaml');
  await writeFile(file, BROKEN);
  const ko = await run('check', '--json', file);
  const en = await run('check', '--json', '--lang', 'en', file);
  t.equal(ko.out, en.out);
  t.notMatch(ko.out, HANGUL);
  const issues = JSON.parse(ko.out)[0].issues as { code: string; line: number; message: string }[];
  t.match(issues[0], { code: 'not-a-date', line: 2, message: '2026-02-30 is not a real date' });
});

const CASES = `cases:
  - name: a small quote
    call: { apiId: ka10001, body: { stk_cd: "005930" } }
    expect: { decision: allow }
  - name: expects the wrong thing
    call: { apiId: kt10000, body: { dmst_stex_tp: KRX, stk_cd: "005930", ord_qty: "5000", ord_uv: "1", trde_tp: "0" } }
    market: { referencePrice: 1 }
    expect: { decision: allow, rule: nothing }
`;

t.test('test: labels, differences and the summary in Korean by default, English by --lang; --json in English', async (t) => {
  const cases = path.join(dir, 'c.cases.yaml');
  await writeFile(cases, CASES);
  const ko = await run('test', P('default.yaml'), cases);
  t.equal(ko.code, 1);
  t.match(ko.out, /^통과 {2}a small quote\n실패 {2}expects the wrong thing\n {6}기대한 판정 allow, 실제 deny \(규칙 order-size\) — /m);
  t.match(ko.out, /\n {6}기대한 규칙 nothing, 실제 order-size\n/);
  t.match(ko.out, /\n통과 1건, 실패 1건 \(.*default\.yaml, 버전 [0-9a-f]{16}\)\n$/);
  t.same(englishLines(ko.out, [/\(규칙 [^)]*\)/g, /a small quote|expects the wrong thing/g, /\(.*default\.yaml, 버전 [0-9a-f]{16}\)/]), []);
  const en = await run('test', '--lang', 'en', P('default.yaml'), cases);
  t.match(en.out, /^PASS {2}a small quote\nFAIL {2}expects the wrong thing\n {6}expected allow, got deny by order-size \(/m);
  t.match(en.out, /1 passed, 1 failed/);
  // The reasons in --json are the bot's (in the policy's language, else --lang); the words around them are not translated.
  const json = JSON.parse((await run('test', '--json', P('default.yaml'), cases)).out);
  t.match(json.results[1].problems, [/^expected allow, got deny by order-size \(주문수량 5000주가/, 'expected rule nothing, got order-size']);
  const bad = path.join(dir, 'bad.cases.yaml');
  await writeFile(bad, 'cases:\n  - name: x\n    call: { apiId: kt10000 }\n    expect: { decison: allow }\n');
  t.match(
    (await run('test', P('default.yaml'), bad)).err,
    /bad\.cases\.yaml:4:\d+: cases\[0\]\.expect\.decison: 알 수 없는 키 'decison' \("decision"의 오타인가요\?\)/,
  );
});

t.test("explain: labels in Korean by default; a policy's language: en prints English, --lang wins", async (t) => {
  const call = await writeMarketMakerCall(dir);
  const ko = await run('explain', P('examples/market-maker.yaml'), '--call', call);
  t.equal(ko.code, 0, ko.err);
  t.match(ko.out, /^요청: kt10000 \(order, buy\) 봇=mm-alpha 계좌=00000000\n판정: 거부 \(deny\), 규칙 collar — 주문단가/);
  t.match(ko.out, /\n정책 버전: [0-9a-f]{16}\n\n평가 순서대로 본 규칙:\n/);
  t.match(ko.out, /대체 +order-size \[order-size\] — 이 요청에는 override 규칙이 대신 적용됩니다/);
  t.match(ko.out, /\n이 요청에 해당하지 않는 규칙:\n {2}cancel-ratio \[cancel-ratio\] — 다른 종류의 요청 대상/);
  t.same(englishLines(ko.out, [/\[[a-z-]+\]/g, /\([a-z]+(, [a-z]+)?\)/g]), []);
  const english = path.join(dir, 'english.yaml');
  await writeFile(english, 'version: 1\nlanguage: en\nrules:\n  - { id: size, type: order-size, maxQuantity: 10 }\n');
  const en = await run('explain', english, '--call', call);
  t.match(en.out, /^call: kt10000 \(order, buy\) bot=mm-alpha account=00000000\ndecision: DENY by size — /, 'one language per screen: the reasons are English');
  t.notMatch(en.out, HANGUL);
  t.match((await run('explain', english, '--call', call, '--lang', 'ko')).out, /^요청: kt10000/);
});

t.test('explain: a call file without market data says why the price rules deny', async (t) => {
  const call = path.join(dir, 'bare-order.json');
  await writeFile(call, JSON.stringify({ apiId: 'kt10000', body: { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '10', ord_uv: '70000', trde_tp: '0' } }));
  const ko = await run('explain', P('examples/day-trader.yaml'), '--call', call);
  t.match(ko.out, /\n참고: 호출 파일에 market이 없어 다음 값을 알 수 없는 것으로 판단했습니다: 기준가, 미체결 주문 수\. /);
  const en = await run('explain', '--lang', 'en', P('examples/day-trader.yaml'), '--call', call);
  t.match(en.out, /\nnote: the call file gives no market, so the reference price, open-order count counted as unavailable\./);
  await writeFile(call, JSON.stringify({ call: JSON.parse(JSON.stringify({ apiId: 'kt10000', body: {} })), market: { referencePrice: 70000, openOrders: 0 } }));
  t.notMatch((await run('explain', P('examples/day-trader.yaml'), '--call', call)).out, /참고:/, 'not when market is given');
});

t.test('every problem a policy file can have is written in both languages', async (t) => {
  t.same([...ISSUE_CODES_KO].sort(), [...ISSUE_CODES].sort());
});

t.test("test: a case's time is Korea time on any machine, and a date that does not exist is refused at its line", async (t) => {
  const policy = path.join(dir, 'hours.yaml');
  await writeFile(
    policy,
    'version: 1\nlanguage: en\ncalendar: { holidays: ["2026-03-02"] }\nrules:\n  - { id: hours, type: trading-window, windows: [{ start: "09:00", end: "15:30" }] }\n',
  );
  const order = '{ dmst_stex_tp: KRX, stk_cd: "005930", ord_qty: "1", ord_uv: "70000", trde_tp: "0" }';
  const cases = path.join(dir, 'hours.cases.yaml');
  await writeFile(
    cases,
    `cases:
  - name: 10:00 written without an offset is 10:00 in Seoul
    call: { apiId: kt10000, at: "2026-03-03T10:00:00", body: ${order} }
    expect: { decision: allow }
  - name: 08:59 without an offset is before the window
    call: { apiId: kt10000, at: "2026-03-03T08:59", body: ${order} }
    expect: { decision: deny, rule: hours }
`,
  );
  const zone = process.env.TZ;
  process.env.TZ = 'UTC'; // a CI runner's zone: the old reading took 10:00 as 19:00 in Seoul
  try {
    const r = await run('test', '--lang', 'en', policy, cases);
    t.equal(r.code, 0, `${r.out}${r.err}`);
    t.match(r.out, /2 passed, 0 failed/);
  } finally {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  }
  await writeFile(
    cases,
    `cases:
  - name: the 30th of February
    call: { apiId: kt10000, at: "2026-02-30T10:00:00+09:00", body: ${order} }
    expect: { decision: allow }
  - name: a date alone
    call: { apiId: kt10000, body: ${order} }
    before: [{ apiId: kt10000, at: "2026-03-03", body: ${order} }]
    expect: { decision: allow }
`,
  );
  const bad = await run('test', '--lang', 'ko', policy, cases);
  t.equal(bad.code, 1);
  t.match(bad.err, /hours\.cases\.yaml:3:\d+: cases\[0\]\.call\.at: "2026-02-30T10:00:00\+09:00"은\(는\) 존재하지 않는 일시입니다/);
  t.match(bad.err, /hours\.cases\.yaml:7:\d+: cases\[1\]\.before\[0\]\.at: "2026-03-03"은\(는\) 올바르지 않습니다 \(일시는 2026-03-03T10:00:00\+09:00 형식/);
  const call = path.join(dir, 'feb30.json');
  await writeFile(call, JSON.stringify({ apiId: 'kt10000', at: '2026-02-30T10:00:00+09:00', body: {} }));
  t.match((await run('explain', '--lang', 'en', policy, '--call', call)).err, /feb30\.json:1:\d+: at: "2026-02-30T10:00:00\+09:00" is not a real date-time/);
});

t.test('check: a policy test file named with the policies (policies/examples/*.yaml) is checked as a test file', async (t) => {
  const r = await run('check', P('examples/day-trader.yaml'), P('examples/day-trader.cases.yaml'));
  t.equal(r.code, 0, r.err);
  t.match(r.out, /day-trader\.cases\.yaml: 정상 \(정책 테스트 파일, 케이스 \d+개; kguard policy test로 실행\)/);
  t.equal(r.err, '');
  const json = JSON.parse((await run('check', '--json', P('examples/day-trader.cases.yaml'))).out);
  t.match(json, [{ ok: true, kind: 'cases', cases: Number }]);
  const bad = path.join(dir, 'typo.cases.yaml');
  await writeFile(bad, 'cases:\n  - name: x\n    call: { apiId: kt10000 }\n    expect: { decison: allow }\n');
  const b = await run('check', '--lang', 'en', bad);
  t.equal(b.code, 1);
  t.match(b.err, /typo\.cases\.yaml:4:15: cases\[0\]\.expect\.decison: unknown key 'decison' \(did you mean "decision"\?\)/);
  t.notMatch(b.err, /missing required key 'version'/, 'not read as a policy');
});

t.test('test: a test file run against another policy than its policy: names says so before the failures', async (t) => {
  const other = await run('test', P('examples/market-maker.yaml'), P('examples/day-trader.cases.yaml'));
  t.equal(other.code, 1);
  t.match(other.err, /^주의: .*day-trader\.cases\.yaml: day-trader\.yaml용 테스트 파일입니다 \(policy:\)\. 실행한 정책: .*market-maker\.yaml\n/);
  const en = await run('test', '--lang', 'en', P('examples/market-maker.yaml'), P('examples/day-trader.cases.yaml'));
  t.match(en.err, /warning: .*day-trader\.cases\.yaml is written for day-trader\.yaml \(policy:\), but runs against/);
  const own = await run('test', P('examples/day-trader.yaml'), P('examples/day-trader.cases.yaml'));
  t.equal(own.code, 0);
  t.equal(own.err, '', 'no warning when it is the one named');
});
