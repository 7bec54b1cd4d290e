// Review regression (a policy author's): an empty list in a rule was accepted and made the rule apply to nothing: a
// deny rule emptied by an edit (its last bot removed) or by templating that emits [] silently denied nothing, and
// `policy check` said OK. Now every list a rule reads (when.bots, when.accounts, when.apiIds, when.sides, kinds,
// apiIds, symbols) must name at least one thing: refused at load, with the line, the path and the rule.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../helpers/vault-fixtures.js';
import { kguardInProcess } from '../cli/run-cli.js';

const EMPTY = [
  ['deny-bad-bot', '{ id: deny-bad-bot, type: deny-apis, when: { bots: [] }, kinds: [order] }', 'when.bots'],
  ['deny-acct', '{ id: deny-acct, type: deny-apis, when: { accounts: [] }, kinds: [order] }', 'when.accounts'],
  ['deny-api', '{ id: deny-api, type: deny-apis, when: { apiIds: [] }, kinds: [order] }', 'when.apiIds'],
  ['size-sides', '{ id: size-sides, type: order-size, when: { sides: [] }, maxQuantity: 1 }', 'when.sides'],
  ['deny-none', '{ id: deny-none, type: deny-apis, kinds: [] }', 'kinds'],
  ['deny-no-api', '{ id: deny-no-api, type: deny-apis, apiIds: [] }', 'apiIds'],
  ['deny-syms', '{ id: deny-syms, type: deny-symbols, symbols: [] }', 'symbols'],
  ['allow-syms', '{ id: allow-syms, type: allow-symbols, symbols: [] }', 'symbols'],
] as const;

t.test('an empty list in a rule is refused at load, naming the line, the path and the rule', async (t) => {
  const dir = await tempDir(t, 'kguard-empty-lists-');
  for (const [id, rule, where] of EMPTY) {
    const file = path.join(dir, `${id}.yaml`);
    await writeFile(file, `version: 1\nrules:\n  - { id: allow-all, type: allow-apis, kinds: [query, order] }\n  - ${rule}\n`);
    const r = await kguardInProcess(['policy', 'check', file, '--lang', 'en']);
    t.equal(r.code, 1, `${id}: refused`);
    t.match(
      r.stderr + r.stdout,
      new RegExp(`${id}\\.yaml:4:\\d+: rules\\[1\\]\\.${where.replace('.', '\\.')}: must NOT have fewer than 1 items \\[rule "${id}"\\]`),
      `${id}: says where`,
    );
  }
  const ko = await kguardInProcess(['policy', 'check', path.join(dir, 'deny-none.yaml')]);
  t.match(ko.stderr + ko.stdout, /rules\[1\]\.kinds: 항목이 1개 이상 필요합니다 \[규칙 "deny-none"\]/, 'in Korean by default');
});

t.test('the same rules with one entry each load', async (t) => {
  const dir = await tempDir(t, 'kguard-empty-lists-ok-');
  const file = path.join(dir, 'ok.yaml');
  await writeFile(
    file,
    `version: 1
rules:
  - { id: allow-all, type: allow-apis, kinds: [query, order] }
  - { id: deny-bad-bot, type: deny-apis, when: { bots: [bad-bot] }, kinds: [order] }
  - { id: size-sides, type: order-size, when: { sides: [buy] }, maxQuantity: 1 }
  - { id: deny-syms, type: deny-symbols, symbols: ["005930"] }
`,
  );
  const r = await kguardInProcess(['policy', 'check', file, '--lang', 'en']);
  t.equal(r.code, 0, r.stderr);
});
