// A bot removed and registered again under the same id the same day (a
// customer's bot id reused) inherited the removed bot's policy counters:
// they are keyed by bot id and live a day, so the new bot found its daily
// order cap and its order rate already used and was refused. The removal now
// deletes the bot's own counters of today (scope bot and bot-account); an
// account-scoped cap, which other bots of the account share, is kept.
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { FIXTURES, startHarness, type CallResult } from '../helpers/harness.js';

const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `offboard-counters-${process.pid}.yaml`);
await mkdir(path.dirname(policyFile), { recursive: true });
await writeFile(
  policyFile,
  `${readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}` +
    '  - { id: bot-day, type: daily-cap, maxOrders: 2 }\n' +
    '  - { id: bot-hour, type: rate-limit, when: { kinds: [order] }, limits: [{ max: 3, per: 1h }, { max: 3, per: day }] }\n' +
    '  - { id: account-day, type: daily-cap, scope: account, maxOrders: 3 }\n',
);
t.teardown(() => rm(policyFile, { force: true }));
const h = await startHarness({ policyFile });
t.teardown(() => h.close());
const admin = await h.adminToken('ops', 'admin');
const KINDS = ['kind:query', 'kind:order'];
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };
const order = (token: string) => h.call('kt10000', BUY, { token });
const refusedBy = (r: CallResult) => String(r.json.return_msg ?? '');

t.test("a bot id registered again the same day starts with none of the removed bot's counters", async (t) => {
  let tok = await h.addBot('reused', KINDS);
  t.equal((await order(tok)).json.return_code, 0, 'first order');
  t.equal((await order(tok)).json.return_code, 0, 'second order');
  const capped = await order(tok);
  t.not(capped.json.return_code, 0, 'the third is over its daily cap');
  t.match(refusedBy(capped), /2/, capped.text);

  const r = await h.admin('POST', '/admin/v1/bots/reused/remove', admin, { reason: 'customer offboarded' });
  t.equal(r.status, 200, r.text);
  t.match(r.json, { removed: true });

  tok = await h.addBot('reused', KINDS);
  const first = await order(tok);
  t.equal(first.json.return_code, 0, `the new bot's first order goes out: ${first.text}`);
  // The account's cap (3, shared by every bot of the account) still counts the removed bot's two orders.
  const shared = await order(tok);
  t.not(shared.json.return_code, 0, "the account's shared cap is kept");
  t.match(refusedBy(shared), /rule=account-day/, shared.text);
});
