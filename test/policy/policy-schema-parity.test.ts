// The JSON Schema published for editors (policies/schema.json) accepts exactly the single values the loader
// accepts: an editor that underlines nothing must not hide a file the sidecar refuses, nor the reverse. And a
// misspelt api-id, which would select nothing (a deny that denies nothing), is refused with a suggestion.
import t from 'tap';
import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parsePolicySource, PolicyLoadError, type PolicyIssue } from '../../proxy/policy/index.js';
import { allApis } from '../../proxy/kiwoom/catalogue.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function issuesOf(src: string): PolicyIssue[] {
  try {
    parsePolicySource(src, 'p.yaml');
  } catch (err) {
    if (err instanceof PolicyLoadError) return [...err.issues];
    throw err;
  }
  return [];
}

t.test('the published schema and the loader agree on every single value', async (t) => {
  // As an editor reads it: the published file, compiled on its own.
  const published = JSON.parse(await readFile(path.join(ROOT, 'policies/schema.json'), 'utf8'));
  const editor = new Ajv({ discriminator: true, allowUnionTypes: true, strict: false }).compile(published);
  const ids = allApis().map((a) => a.apiId);
  const apiId = fc.oneof(
    fc.constantFrom(...ids),
    fc.constantFrom('kt10090', 'kt1000O', 'KT10000', 'ka99999', 'zz12345', '0b', '9Z', 'kt10000 '),
    fc.stringMatching(/^([a-z]{2}[0-9]{5}|[0-9A-Za-z]{2})$/),
  );
  const code = fc.oneof(
    fc.constantFrom('005930', 'A005930', '005930_NX', '035720_al', ' 000660', 'M04020000', '5930', '005930.KS', '삼성전자', '0059ﬀ', '00593ß', 'A05930X1234'),
    fc.stringMatching(/^\s?[0-9A-Za-zß_]{4,11}\s?$/),
  );
  const big = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e17));
  const policy = fc.oneof(
    apiId.map((id) => ({ version: 1, rules: [{ id: 'r', type: 'deny-apis', apiIds: [id] }] })),
    // A rule that judges every kind: whether a rule's type judges an api-id's kind spans two values, the loader's alone.
    apiId.map((id) => ({ version: 1, rules: [{ id: 'r', type: 'rate-limit', limits: [{ max: 1, per: '1s' }], when: { apiIds: [id] } }] })),
    code.map((c) => ({ version: 1, rules: [{ id: 'r', type: 'deny-symbols', symbols: [c] }] })),
    code.map((c) => ({ version: 1, rules: [{ id: 'r', type: 'allow-symbols', symbols: [c] }] })),
    big.map((n) => ({ version: 1, rules: [{ id: 'r', type: 'daily-cap', maxOrders: n }] })),
    big.map((n) => ({ version: 1, rules: [{ id: 'r', type: 'daily-cap', maxBuyNotional: n }] })),
    big.map((n) => ({ version: 1, rules: [{ id: 'r', type: 'rate-limit', limits: [{ max: n, per: '1s' }] }] })),
  );
  const disagreements: string[] = [];
  fc.assert(
    fc.property(policy, (doc) => {
      const source = JSON.stringify(doc);
      const loader = issuesOf(source).length === 0;
      if (loader !== editor(doc)) disagreements.push(`${source}: loader ${loader ? 'accepts' : 'refuses'}, schema.json ${loader ? 'refuses' : 'accepts'}`);
    }),
    { numRuns: 3000, seed: 20261206 },
  );
  t.same(disagreements.slice(0, 10), [], `${disagreements.length} disagreements`);
});

t.test('an api-id the sidecar does not know is refused at its line with the nearest known one', async (t) => {
  const src = [
    'version: 1', // 1
    'rules:', // 2
    '  - id: no-credit', // 3
    '    type: deny-apis', // 4
    '    apiIds: [kt10006, kt10O07]', // 5  second misspelt (O for 0): the deny would deny nothing
    '  - id: orders-size', // 6
    '    type: order-size', // 7
    '    maxQuantity: 10', // 8
    '    when: { apiIds: [kt10090] }', // 9  a selector naming no api-id selects no call
    '',
  ].join('\n');
  const issues = issuesOf(src);
  t.same(
    issues.map((i) => [i.line, i.column, i.path]),
    [
      [5, 23, 'rules[0].apiIds[1]'],
      [9, 22, 'rules[1].when.apiIds[0]'],
    ],
  );
  t.match(issues[0]!.message, /^"kt10O07" is not allowed \(did you mean "kt10007"\?\); expected an api-id of the Kiwoom catalogue/);
  t.match(issues[1]!.message, /^"kt10090" is not allowed \(did you mean "kt100\d0"\?\)/);
  t.ok(
    issues.every((i) => i.message.length < 200),
    'the catalogue is not listed in full',
  );
  // Realtime types are api-ids too, case-sensitive as Kiwoom spells them.
  t.same(issuesOf('version: 1\nrules:\n  - { id: rt, type: allow-apis, apiIds: [0B, 0g, 0G, ka10171] }\n'), []);
});

t.test('a misspelt key, rule type or value names the nearest one', async (t) => {
  const src = [
    'version: 1', // 1
    'rules:', // 2
    '  - id: size', // 3
    '    type: order-size', // 4
    '    maxQuantity: 5', // 5
    '    maxNotionl: 100', // 6
    '  - id: venue', // 7
    '    type: markets', // 8
    '    allow: [KXR]', // 9
    '  - id: typo', // 10
    '    type: order-sise', // 11
    '',
  ].join('\n');
  const byLine = new Map(issuesOf(src).map((i) => [i.line, i.message]));
  t.match(byLine.get(6), /^unknown key 'maxNotionl' \(did you mean "maxNotional"\?\) \(expected one of: /);
  t.match(byLine.get(9), /^"KXR" is not allowed \(did you mean "KRX"\?\); expected one of: "KRX", "NXT", "SOR"$/);
  t.match(byLine.get(11), /^unknown rule type "order-sise" \(did you mean "order-size"\?\); expected one of: allow-apis/);
  // Nothing near: no guess.
  t.notMatch(issuesOf('version: 1\nrules:\n  - { id: v, type: markets, allow: [XXX] }\n')[0]!.message, /did you mean/);
});
