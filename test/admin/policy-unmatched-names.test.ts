// A rule selects bots and accounts by name (`when.bots`, `when.accounts`); a name that is no registered bot, or
// no registered bot's account, selects nothing, so a misspelt deny rule denies nothing and says nothing. The
// policy view names each such reference with its rule and line, and the dashboard shows them.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CANARY, startHarness } from '../helpers/harness.js';

const POLICY = `version: 1
rules:
  - id: open
    type: allow-apis
    kinds: [query, account, order, modify, cancel, realtime]
  - id: no-samsung-for-typo
    type: deny-symbols
    symbols: ["005930"]
    when:
      bots: [bot-e2e, bot-e2e-typo, bot-other]
  - id: cap-account
    type: order-size
    maxQuantity: 10
    when:
      accounts: ["${CANARY.account}", "88880000112"]
`;

interface Unmatched {
  rule: string;
  field: string;
  name: string;
  line: number;
}

t.test('rules naming no registered bot or account are listed with their rule and line', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-unmatched-'));
  const file = path.join(dir, 'policy.yaml');
  await writeFile(file, POLICY, { mode: 0o600 });
  const h = await startHarness({ policyFile: file });
  t.teardown(() => h.close());
  const admin = await h.adminToken('sec-admin', 'admin');
  const viewer = await h.adminToken('sec-viewer', 'viewer');

  const seen = async (token: string) => {
    const r = await h.admin('GET', '/admin/v1/policy', token);
    t.equal(r.status, 200, r.text);
    return r.json.unmatched as Unmatched[];
  };
  t.same(
    await seen(admin),
    [
      { rule: 'no-samsung-for-typo', field: 'bots', name: 'bot-e2e-typo', line: 10 },
      { rule: 'no-samsung-for-typo', field: 'bots', name: 'bot-other', line: 10 },
      { rule: 'cap-account', field: 'accounts', name: '88880000112', line: 15 },
    ],
    'the misspelt bot, the bot not added yet and the misspelt account; not the registered ones',
  );
  const masked = await seen(viewer);
  t.match(masked[2]!.name, /^\*+0112$/, 'a viewer sees an account name masked, as every account');
  t.notOk(JSON.stringify(masked).includes('88880000112'));

  // Registering the bot the rule was written ahead of takes it off the list.
  await h.addBot('bot-other', ['ka10001']);
  t.same(
    (await seen(admin)).map((u) => u.name),
    ['bot-e2e-typo', '88880000112'],
    'a bot added later is matched from then on',
  );
});
