// Account numbers on the admin API: in full only to the admin role (a
// lockdown by account names one); a viewer (a wall display, the read-only
// dashboard) and an approver see the last four digits, as the alerts, the
// audit trail and an incident's cancel report already do. Real sidecar,
// real HTTP: a bot, a pending approval for it, and an incident locking it.
import t from 'tap';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

const POLICY = `version: 1
name: account-mask
rules:
  - id: least-privilege
    type: allow-apis
    kinds: [query, account, order, modify, cancel]
  - id: approve-size
    type: require-approval
    outcome: step-up
    minQuantity: 50
`;
const MASKED = `******${CANARY.account.slice(-4)}`;

let h: Harness;
let work: string;

t.before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'kguard-account-mask-'));
  const policyFile = path.join(work, 'policy.yaml');
  await writeFile(policyFile, POLICY);
  h = await startHarness({ policyFile, config: { approval: { mode: 'pending' }, admin: { authFailures: { maxFailures: 10_000 } } } });
});
t.teardown(async () => {
  await h?.close();
  await rm(work, { recursive: true, force: true });
});

t.test('viewers and approvers see the last four digits of an account, admins all of it', async (t) => {
  const viewer = await h.adminToken('victor', 'viewer');
  const approver = await h.adminToken('april', 'approver');
  const admin = await h.adminToken('sec-lead', 'admin');
  await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '100', ord_uv: '60000', trde_tp: '0' });
  let approvalId = '';
  await waitFor(
    async () => {
      const list = (await h.admin('GET', '/admin/v1/approvals?status=pending', admin)).json.approvals as { id: string }[];
      approvalId = list[0]?.id ?? '';
      return approvalId !== '';
    },
    10_000,
    'a pending approval',
  );
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { account: CANARY.account, reason: 'mask drill' });
  t.equal(lock.status, 201, lock.text);
  const reads = [
    '/admin/v1/bots',
    '/admin/v1/approvals',
    `/admin/v1/approvals/${approvalId}`,
    '/admin/v1/incidents',
    `/admin/v1/incidents/${lock.json.id}`,
    `/admin/v1/incidents/${lock.json.id}?format=md`,
  ];
  for (const [who, token] of [
    ['viewer', viewer],
    ['approver', approver],
  ] as const) {
    for (const p of reads) {
      const r = await h.admin('GET', p, token);
      t.equal(r.status, 200, `${who} ${p}`);
      t.notMatch(r.text, CANARY.account, `${who} ${p}: no full account number`);
    }
    t.match((await h.admin('GET', '/admin/v1/bots', token)).json, { bots: [{ id: h.botId, account: MASKED }] }, `${who}: the bot's account, masked`);
    t.match((await h.admin('GET', `/admin/v1/approvals/${approvalId}`, token)).json, { account: MASKED });
    t.match((await h.admin('GET', `/admin/v1/incidents/${lock.json.id}`, token)).json, {
      scope: { account: MASKED },
      targets: [{ botId: h.botId, account: MASKED }],
    });
  }
  t.match((await h.admin('GET', '/admin/v1/bots', admin)).json, { bots: [{ id: h.botId, account: CANARY.account }] }, 'an admin sees it whole');
  t.match((await h.admin('GET', `/admin/v1/approvals/${approvalId}`, admin)).json, { account: CANARY.account });
  t.match((await h.admin('GET', `/admin/v1/incidents/${lock.json.id}`, admin)).json, { scope: { account: CANARY.account } });
});
