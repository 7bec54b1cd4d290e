// Loading policy files: positions in errors, unknown keys, bounded aliases and
// size, semantic checks, the published schema, and fuzzed YAML.
import t from 'tap';
import fc from 'fast-check';
import { readFile, readdir, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatIssues, loadPolicyFile, parsePolicySource, PolicyLoadError, POLICY_SCHEMA, type PolicyIssue } from '../../proxy/policy/index.js';
import { DEFAULT_LOAD_LIMITS } from '../../proxy/policy/load.js';
import { RULE_TYPES } from '../../proxy/policy/schema.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function issuesOf(src: string, limits?: Parameters<typeof parsePolicySource>[2]): PolicyIssue[] {
  try {
    parsePolicySource(src, 'p.yaml', limits);
  } catch (err) {
    if (err instanceof PolicyLoadError) return [...err.issues];
    throw err;
  }
  throw new Error('expected the policy to be rejected');
}

t.test('a valid policy loads with a content hash that changes with the bytes', async (t) => {
  const a = parsePolicySource('version: 1\nrules: []\n', 'a.yaml');
  const b = parsePolicySource('version: 1\nrules: []\n# comment\n', 'a.yaml');
  t.match(a.version, /^[0-9a-f]{16}$/);
  t.not(a.version, b.version);
  t.equal(parsePolicySource('version: 1\nrules: []\n', 'x.yaml').version, a.version);
});

t.test('errors carry file, line, column and what was expected', async (t) => {
  const src = [
    'version: 1', // 1
    'rules:', // 2
    '  - id: size', // 3
    '    type: order-size', // 4
    '    maxQty: 3', // 5  unknown key
    '  - id: venue', // 6
    '    type: markets', // 7
    '    allow: [KRX, XXX]', // 8  bad enum
    '  - id: typo', // 9
    '    type: order-sise', // 10 unknown type
    'extra: true', // 11 unknown top-level key
  ].join('\n');
  const issues = issuesOf(src);
  const at = (line: number) => issues.filter((i) => i.line === line);
  t.match(at(5)[0], { file: 'p.yaml', column: 5, path: 'rules[0].maxQty', message: /unknown key 'maxQty' \(expected one of: .*maxQuantity/ });
  t.match(at(3)[0], { path: 'rules[0]', message: 'give at least one of: maxQuantity, maxNotional' });
  t.match(at(8)[0], { column: 18, path: 'rules[1].allow[1]', message: /"XXX" is not allowed; expected one of: "KRX", "NXT", "SOR"/ });
  t.match(at(10)[0], { column: 11, message: /unknown rule type "order-sise" \(did you mean "order-size"\?\); expected one of: allow-apis/ });
  t.match(at(11)[0], { column: 1, message: /unknown key 'extra'/ });
  // Sorted by position so the first line printed is the first mistake in the file.
  t.same(
    issues.map((i) => i.line),
    [...issues.map((i) => i.line)].sort((a, b) => a - b),
  );
});

t.test('YAML syntax errors and duplicate keys are located', async (t) => {
  const [syntax] = issuesOf('version: 1\nrules:\n  - id: a\n    type: [markets\n');
  t.ok(syntax!.line >= 4, 'points at or after the broken line');
  const [dup] = issuesOf('version: 1\nversion: 1\nrules: []\n');
  t.equal(dup!.line, 2);
  t.match(dup!.message, /unique|duplicate/i);
});

t.test('semantic checks: duplicate ids, overrides, windows, thresholds, dates', async (t) => {
  const issues = issuesOf(`version: 1
riskThresholds: { stepUp: 0.95, approval: 0.9 }
calendar: { holidays: ["2026-02-30"] }
rules:
  - { id: a, type: markets, allow: [KRX] }
  - { id: a, type: markets, allow: [NXT] }
  - { id: b, type: order-size, maxQuantity: 1, overrides: a }
  - { id: c, type: markets, allow: [KRX], overrides: nobody }
  - { id: w, type: trading-window, windows: [{ start: "15:30", end: "09:00" }] }
  - { id: r, type: require-approval }
`);
  const messages = issues.map((i) => `${i.line}: ${i.message}`);
  t.match(messages, [
    /^2: stepUp must not be above approval/,
    /^3: 2026-02-30 is not a real date/,
    /^6: duplicate rule id 'a'/,
    /^7: overrides 'a' of type markets; an override must have the same type/,
    /^8: overrides 'nobody', but no rule has that id/,
    /^9: end 09:00 must be after start 15:30/,
    /^10: require-approval without/,
  ]);
});

t.test('anchors and aliases are bounded (billion laughs)', async (t) => {
  const bomb = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  ].join('\n');
  const [issue] = issuesOf(bomb);
  t.match(issue!.message, /aliases are limited to 100/);
  // Ordinary use of anchors and merge keys still works.
  const ok = parsePolicySource(
    `version: 1
x-limits: &limits { maxQuantity: 10 }
rules: []
`.replace('x-limits: &limits { maxQuantity: 10 }\n', ''),
    'ok.yaml',
  );
  t.equal(ok.doc.rules.length, 0);
  const merged = parsePolicySource(
    `version: 1
rules:
  - &base { id: size-a, type: order-size, maxQuantity: 10 }
  - { <<: *base, id: size-b, when: { bots: [b] } }
`,
    'merge.yaml',
  );
  t.same(merged.doc.rules[1], { id: 'size-b', type: 'order-size', maxQuantity: 10, when: { bots: ['b'] } });
});

t.test('file size is bounded before parsing', async (t) => {
  const big = `version: 1\nrules: []\n${'#'.repeat(2000)}\n`;
  const [issue] = issuesOf(big, { maxFileBytes: 1000, maxAliasCount: 100, maxRules: 10 });
  t.match(issue!.message, /larger than 1000 bytes/);
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-policy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'big.yaml');
  await writeFile(file, big);
  await t.rejects(loadPolicyFile(file, { maxFileBytes: 1000, maxAliasCount: 100, maxRules: 10 }), {
    name: 'PolicyLoadError',
    issues: [{ message: /larger than 1000 bytes/ }],
  });
  await t.rejects(loadPolicyFile(path.join(dir, 'missing.yaml')), { name: 'PolicyLoadError', issues: [{ message: /cannot read the file \(ENOENT\)/ }] });
});

t.test('the rule count is bounded', async (t) => {
  const rules = Array.from({ length: 5 }, (_, i) => `  - { id: r${i}, type: markets, allow: [KRX] }`).join('\n');
  const [issue] = issuesOf(`version: 1\nrules:\n${rules}\n`, { maxFileBytes: 1 << 20, maxAliasCount: 100, maxRules: 4 });
  t.match(issue!.message, /too many rules \(5\); the limit is 4/);
});

t.test('policies/schema.json is exactly the schema the loader uses', async (t) => {
  const published = JSON.parse(await readFile(path.join(ROOT, 'policies/schema.json'), 'utf8'));
  t.same(published, JSON.parse(JSON.stringify(POLICY_SCHEMA)), 'regenerate with: kguard policy schema > policies/schema.json');
});

t.test('every shipped policy is valid and names the schema for editors', async (t) => {
  const files = [
    'policies/default.yaml',
    ...(await readdir(path.join(ROOT, 'policies/examples')))
      .filter((f) => f.endsWith('.yaml') && !f.endsWith('.cases.yaml'))
      .map((f) => `policies/examples/${f}`),
  ];
  t.ok(files.length >= 5);
  for (const f of files) {
    const text = await readFile(path.join(ROOT, f), 'utf8');
    t.match(text.split('\n')[0], /^# yaml-language-server: \$schema=/, `${f} links the schema`);
    await t.resolves(loadPolicyFile(path.join(ROOT, f)), f);
  }
});

t.test('fuzzed YAML never crashes the loader: it loads or throws PolicyLoadError', async (t) => {
  const fragments = [
    'version: 1\n',
    'rules:\n',
    '  - ',
    'id: a\n',
    'type: markets\n',
    '&x ',
    '*x ',
    '<<: *x\n',
    '[',
    ']',
    '{',
    '}',
    ': ',
    '- ',
    '"',
    "'",
    '\t',
    '\n',
    '!!binary ',
    '!!js/function ',
    '? ',
    '|\n',
    '>\n',
    '%YAML 1.2\n',
    '---\n',
    '...\n',
    '\u0000',
    '\uFEFF',
    'allow: [KRX]\n',
    'maxQuantity: 1e309\n',
  ];
  const yamlish = fc.array(fc.oneof(fc.constantFrom(...fragments), fc.string({ maxLength: 8 })), { maxLength: 40 }).map((a) => a.join(''));
  fc.assert(
    fc.property(
      fc.oneof(
        yamlish,
        fc.string({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
      ),
      (src) => {
        try {
          parsePolicySource(src, 'fuzz.yaml');
          return true;
        } catch (err) {
          return err instanceof PolicyLoadError && err.issues.length > 0 && err.issues.every((i) => i.line >= 1 && i.column >= 1);
        }
      },
    ),
    { numRuns: 2000 },
  );
  // Invalid UTF-8 is refused explicitly.
  t.throws(() => parsePolicySource(Buffer.from([0x76, 0xff, 0xfe]), 'bin.yaml'), PolicyLoadError);
});

t.test('a document of the wrong shape anywhere is reported, never crashes the checks that run beside the schema', async (t) => {
  // The semantic checks run in the schema's pass and skip what it refused: a rule that is not a map, fields of the
  // wrong type, windows and limits that are not lists. Any value goes where a rule or one of its fields is read.
  const value = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 6 }), fc.boolean(), fc.constant([]), fc.constant({}), fc.constant([null]));
  const rule = fc.oneof(
    value,
    fc.record(
      {
        id: fc.oneof(fc.constantFrom('a', 'b'), value),
        type: fc.oneof(fc.constantFrom(...RULE_TYPES), value),
        when: fc.oneof(value, fc.record({ kinds: fc.oneof(value, fc.constant(['order'])), apiIds: value, sides: value }, { requiredKeys: [] })),
        overrides: fc.oneof(fc.constantFrom('a', 'b'), value),
        windows: fc.oneof(value, fc.constant([{ start: '16:00', end: '09:00' }])),
        limits: fc.oneof(
          value,
          fc.constant([
            { per: 'day', max: 1 },
            { per: 'day', max: 2 },
          ]),
        ),
        maxQuantity: value,
      },
      { requiredKeys: [] },
    ),
  );
  const doc = fc.record(
    { version: fc.oneof(fc.constant(1), value), rules: fc.oneof(value, fc.array(rule, { maxLength: 4 })), calendar: value, riskThresholds: value },
    { requiredKeys: ['version'] },
  );
  fc.assert(
    fc.property(doc, (d) => {
      try {
        parsePolicySource(JSON.stringify(d), 'shape.yaml');
        return true;
      } catch (err) {
        return err instanceof PolicyLoadError && err.issues.length > 0;
      }
    }),
    { numRuns: 1000 },
  );
  const err = t.throws(() => parsePolicySource('version: 1\nrules: [5, "x", null]\n', 'list.yaml')) as unknown;
  t.ok(err instanceof PolicyLoadError, `a list of non-rules is a load error: ${String(err)}`);
  t.same(
    (err as PolicyLoadError).issues.map((i) => i.path),
    ['rules[0]', 'rules[1]', 'rules[2]'],
    'each entry named at its place',
  );
});

t.test('a rate-limit that names one period twice is refused at load, naming its line', async (t) => {
  // Both layers would count in one Store key: every call the rule selected failed on the Store (KG7002), naming no rule.
  const issues = issuesOf(
    ['version: 1', 'rules:', '  - id: rl', '    type: rate-limit', '    limits:', '      - { max: 5, per: 1s }', '      - { max: 3, per: 1s }', ''].join('\n'),
  );
  t.match(
    issues.map((i) => `${i.line}: ${i.message}`),
    [/^7: .*1s.*twice/],
  );
  t.equal(issues[0]!.path, 'rules[0].limits[1].per');
});

t.test('limits the Store cannot count exactly are refused at load, naming their line', async (t) => {
  // Above 2^53 a cap is not an exact integer: every call the rule selected failed on the Store (KG7002), naming no rule.
  const issues = issuesOf(
    [
      'version: 1',
      'rules:',
      '  - { id: cap, type: daily-cap, maxGrossNotional: 99999999999999999 }',
      '  - { id: rl, type: rate-limit, limits: [{ max: 99999999999999999, per: day }] }',
      '',
    ].join('\n'),
  );
  t.match(
    issues.map((i) => `${i.line}: ${i.path}: ${i.message}`),
    [/^3: rules\[0\]\.maxGrossNotional: .*9007199254740991/, /^4: rules\[1\]\.limits\[0\]\.max: .*9007199254740991/],
  );
});

t.test('YAML is read as YAML 1.2 core, whatever the file says, and a tag the loader would ignore is refused', async (t) => {
  const head = 'version: 1\nrules:\n';
  // Under YAML 1.1, 010 is 8, 1:00 is 60: a reviewer reads 10 and "1:00".
  const v11 = parsePolicySource(`%YAML 1.1\n---\n${head}  - { id: size, type: order-size, maxQuantity: 010 }\n`, 'v11.yaml');
  t.same(v11.doc.rules[0], { id: 'size', type: 'order-size', maxQuantity: 10 }, 'a %YAML 1.1 directive does not change how numbers read');
  const problems = (src: string): string => {
    try {
      return `loaded: ${JSON.stringify(parsePolicySource(src, 'p.yaml').doc.rules)}`;
    } catch (err) {
      return err instanceof PolicyLoadError ? err.issues.map((i) => `${i.line}: ${i.message}`).join('; ') : String(err);
    }
  };
  t.match(problems(`%YAML 1.1\n---\n${head}  - { id: size, type: order-size, maxQuantity: 1:00 }\n`), /expected integer/, '"1:00" is not 60');
  for (const [tagged, what] of [
    ['maxQuantity: !big 10', 'Unresolved tag: !big'],
    ['maxQuantity: !!binary MTA=', 'Unresolved tag'],
    ['maxQuantity: !!timestamp 2026-01-01', 'Unresolved tag'],
  ] as const) {
    t.match(problems(`${head}  - id: size\n    type: order-size\n    ${tagged}\n`), `5: ${what}`, `${tagged}: refused at its line`);
  }
  t.match(problems(`%YAML 1.3\n---\n${head}`), /Unsupported YAML version/);
  // Core tags still read as written.
  t.same(parsePolicySource(`${head}  - { id: !!str size, type: order-size, maxQuantity: !!int 10 }\n`, 'core.yaml').doc.rules[0], {
    id: 'size',
    type: 'order-size',
    maxQuantity: 10,
  });
});

t.test('[ ] / { } nesting is bounded before parsing (the parser recursed per level and held the event loop)', async (t) => {
  const head = 'version: 1\nrules: []\n';
  const deep = `${head}x: ${'['.repeat(500_000)}${']'.repeat(500_000)}\n`;
  const [issue] = issuesOf(deep);
  t.match(issue!.message, /nested deeper than 64 levels \(policy\.maxFlowDepth\)/, 'named, not a stack overflow');
  t.match(issue!, { line: 3, column: 68 }, 'at the first level too deep');
  t.match(issuesOf(`${head}x: ${'{a: '.repeat(65)}1${'}'.repeat(65)}\n`)[0]!.message, /nested deeper than 64/);
  t.match(issuesOf(`${head}x: [[[1]]]\n`, { ...DEFAULT_LOAD_LIMITS, maxFlowDepth: 2 })[0]!.message, /nested deeper than 2 levels/);
  // Brackets inside quoted scalars and comments are text, and ordinary flow nesting loads.
  t.ok(parsePolicySource(`version: 1\ndescription: "${'['.repeat(100)}"\n# ${'{'.repeat(100)}\nrules: [{ id: a, type: markets, allow: [KRX] }]\n`, 'ok.yaml'));
});

t.test("a broken file's error message stays small: 50 issues listed, values cut short (it is served to the dashboard)", async (t) => {
  let err: unknown;
  try {
    parsePolicySource(
      `version: 1\nrules:\n${'  - { id: a, type: nope }\n'.repeat(5000)}  - { id: b, type: order-size, maxQuantity: "${'9'.repeat(200_000)}" }\n`,
      'big.yaml',
    );
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof PolicyLoadError);
  const e = err as PolicyLoadError;
  t.ok(e.issues.length > 5000, `every issue kept for the CLI (${e.issues.length})`);
  t.ok(e.message.length < 20_000, `message of ${e.message.length} characters`);
  t.match(e.message, /… and \d+ more \(kguard policy check lists them all\)/);
  const long = e.issues.find((i) => i.path === 'rules[5000].maxQuantity');
  t.ok(long && long.message.length < 200, `a 200 KB value is quoted cut short: ${long?.message.slice(0, 120)}`);
});

t.test('a symbol list entry no order code can match is refused at its line, not silently never applied', async (t) => {
  // An order reaches the policy only with a stock code (6-9 letters and digits, optional _NX/_AL): "5930" or
  // "005930.KS" in a deny list restricted nothing while staff believed 005930 restricted.
  const issues = issuesOf(
    'version: 1\nrules:\n  - id: restricted\n    type: deny-symbols\n    symbols: ["005930", "5930", "005930.KS", "삼성전자", " 000660", "035720_nx"]\n',
  );
  t.same(
    issues.map((i) => [i.path, i.line]),
    [
      ['rules[0].symbols[1]', 5],
      ['rules[0].symbols[2]', 5],
      ['rules[0].symbols[3]', 5],
    ],
  );
  t.match(issues[0]!.message, /"5930" is not valid here \(a stock code/);
  t.match(issuesOf('version: 1\nrules:\n  - { id: only, type: allow-symbols, symbols: ["A05930X1234"] }\n')[0]!.message, /a stock code/);
  t.ok(parsePolicySource('version: 1\nrules:\n  - { id: gold, type: allow-symbols, symbols: ["M04020000", "A005930", "005930_AL"] }\n', 'ok.yaml'));
});

t.test('a when that selects no call the rule judges is refused at its line, not silently never applied', async (t) => {
  const src = [
    'version: 1', // 1
    'rules:', // 2
    '  - id: q-size', // 3
    '    type: order-size', // 4
    '    maxQuantity: 10', // 5
    '    when: { kinds: [query] }', // 6  order-size judges orders and modifies only
    '  - id: quote-size', // 7
    '    type: order-size', // 8
    '    maxQuantity: 10', // 9
    '    when: { apiIds: [kt10000, ka10001] }', // 10 a quote is never sized
    '  - id: q-rate', // 11
    '    type: rate-limit', // 12
    '    limits: [{ max: 1, per: 1s }]', // 13
    '    when: { kinds: [query], sides: [buy] }', // 14 a query has no side
    '  - id: orders-only', // 15
    '    type: deny-apis', // 16
    '    kinds: [transfer]', // 17
    '    when: { kinds: [order], apiIds: [kt00001] }', // 18 an account query is not an order
    '',
  ].join('\n');
  t.same(
    issuesOf(src).map((i) => [i.line, i.path]),
    [
      [6, 'rules[0].when.kinds'],
      [10, 'rules[1].when.apiIds[1]'],
      [14, 'rules[2].when.sides'],
      [18, 'rules[3].when.apiIds[0]'],
    ],
  );
  t.match(issuesOf(src)[0]!.message, /order-size judges none of these kinds \(it judges: order, modify\); it would never apply/);
  t.match(issuesOf(src)[1]!.message, /^ka10001 is a query call, which a rule of type order-size does not judge/);
  // What a rule can judge stays allowed: sides on orders, cancels by side when kinds names them, a generic rule on any kind.
  t.ok(
    parsePolicySource(
      `version: 1
rules:
  - { id: buy-rate, type: rate-limit, limits: [{ max: 1, per: 1s }], when: { sides: [buy] } }
  - { id: cancel-buys, type: rate-limit, limits: [{ max: 1, per: 1s }], when: { kinds: [cancel], sides: [buy] } }
  - { id: quotes, type: rate-limit, limits: [{ max: 1, per: 1s }], when: { apiIds: [ka10001] } }
  - { id: size, type: order-size, maxQuantity: 5, when: { kinds: [order, query] } }
  - { id: big, type: require-approval, minQuantity: 100, when: { apiIds: [kt10000] } }
`,
      'ok.yaml',
    ),
  );
});

t.test('each problem inside a rule names the rule id, in the issue and in the printed line', async (t) => {
  const src = [
    'version: 1', // 1
    'extra: 1', // 2  not in a rule
    'rules:', // 3
    '  - { id: venues, type: markets, allow: [KRX] }', // 4
    '  - id: junior-size', // 5
    '    type: order-size', // 6
    '    maxQuantty: 10', // 7  schema problem
    '  - id: late', // 8
    '    type: trading-window', // 9
    '    windows: [{ start: "16:00", end: "09:00" }]', // 10 semantic problem, reported with the schema's
    '',
  ].join('\n');
  let err: PolicyLoadError | undefined;
  try {
    parsePolicySource(src, 'desk.yaml');
  } catch (e) {
    err = e as PolicyLoadError;
  }
  t.ok(err instanceof PolicyLoadError);
  t.same(
    err!.issues.map((i) => [i.line, i.rule]),
    [
      [2, undefined],
      [5, 'junior-size'],
      [7, 'junior-size'],
      [10, 'late'],
    ],
  );
  t.match(err!.message, /desk\.yaml:7:5: rules\[1\]\.maxQuantty: unknown key 'maxQuantty'.* \[rule "junior-size"\]/);
  const semantic = issuesOf(src.replace('extra: 1', '# fine').replace('maxQuantty', 'maxQuantity'));
  t.same(
    semantic.map((i) => [i.line, i.rule]),
    [[10, 'late']],
  );
  t.match(formatIssues(semantic), /^p\.yaml:10:\d+: rules\[2\]\.windows\[0\]\.end: end 09:00 must be after start 16:00.* \[rule "late"\]$/);
});
