// A held order that an approver refused, or whose approval lapsed, never went out: the bot's honest retry of
// the same order is held for approval again, not refused as a duplicate of an order that was never placed.
// An order that did go out keeps its claim: the same order again is still a duplicate. (Before, the held
// call's duplicate-guard claim stayed for the guard's window, so the retry was refused KG3001 for an hour.)
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { approvalWorld, type ApprovalWorld } from '../helpers/approvers.js';
import { base32Decode, totpAt } from '../../proxy/approval/index.js';
import { CANARY, waitFor, type CallResult } from '../helpers/harness.js';

const code = (r: CallResult): string | undefined =>
  /\[(KG\d{4})(?::rule=([\w.-]+))?/
    .exec(String(r.json.return_msg ?? ''))
    ?.slice(1)
    .filter(Boolean)
    .join(' ');

async function world(t: Test, mode: 'hold' | 'pending', approval: Record<string, unknown> = {}): Promise<ApprovalWorld> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-dup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(
    policyFile,
    [
      'version: 1',
      'name: approval-dup',
      'rules:',
      '  - { id: least-privilege, type: allow-apis, kinds: [query, account, order, modify, cancel] }',
      '  - { id: no-double-send, type: duplicate-guard, windowSeconds: 3600 }',
      '',
    ].join('\n'),
  );
  return approvalWorld(t, { mode, policyFile, config: { approval: { mode, holdSeconds: 20, ...approval } } });
}

// A first buy of a name the bot never traded: held for step-up approval.
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '1', ord_uv: '150000', trde_tp: '0' };
const placed = (w: ApprovalWorld) => w.h.sim.orders(CANARY.account).filter((o) => o.stkCd === '035420').length;

async function pendingId(w: ApprovalWorld): Promise<string> {
  let id = '';
  await waitFor(
    async () => {
      const list = (await w.h.admin('GET', '/admin/v1/approvals?status=pending', w.admin)).json.approvals as { id: string }[];
      id = list[0]?.id ?? '';
      return id !== '';
    },
    5000,
    'a pending approval',
  );
  return id;
}

t.test('pending mode: a refused held order sent again is held again, not a duplicate', async (t) => {
  const w = await world(t, 'pending');
  const first = await w.h.call('kt10000', BUY, { token: w.token });
  t.equal(code(first), 'KG3004', 'held: pending approval');
  const id = String(first.headers['x-kguard-approval-id']);
  const refused = await w.h.admin('POST', `/admin/v1/approvals/${id}/refuse`, w.approver, { reason: 'not now', ownCall: true });
  t.equal(refused.status, 200, 'refused');
  t.equal(code(await w.h.call('kt10000', BUY, { token: w.token, headers: { 'x-kguard-approval-id': id } })), 'KG3006', 'its retry is told refused');
  const anew = await w.h.call('kt10000', BUY, { token: w.token });
  t.equal(code(anew), 'KG3004', `the same order sent anew is held for approval again: ${anew.text}`);
  const id2 = String(anew.headers['x-kguard-approval-id']);
  t.equal((await w.approve(id2)).status, 200, 'approved');
  const sent = await w.h.call('kt10000', BUY, { token: w.token, headers: { 'x-kguard-approval-id': id2 } });
  t.equal(sent.json.return_code, 0, `the approved retry goes out: ${sent.text}`);
  t.equal(placed(w), 1, 'one order reached the broker');
});

t.test('pending mode: a held order whose approval lapsed sent again is held again', async (t) => {
  const w = await world(t, 'pending', { stepUpTimeoutSeconds: 1 });
  const first = await w.h.call('kt10000', BUY, { token: w.token });
  t.equal(code(first), 'KG3004', 'held: pending approval');
  const id = String(first.headers['x-kguard-approval-id']);
  await waitFor(async () => (await w.h.admin('GET', `/admin/v1/approvals/${id}`, w.admin)).json.status === 'timeout', 20_000, 'the approval lapsed');
  const again = await w.h.call('kt10000', BUY, { token: w.token });
  t.equal(code(again), 'KG3004', `the same order sent anew is held for approval again: ${again.text}`);
  t.equal(placed(w), 0, 'nothing reached the broker');
});

t.test('hold mode: a refused held order sent again is held again, not a duplicate', async (t) => {
  const w = await world(t, 'hold');
  const held = w.h.call('kt10000', BUY, { token: w.token });
  const id = await pendingId(w);
  t.equal((await w.h.admin('POST', `/admin/v1/approvals/${id}/refuse`, w.approver, { reason: 'not now', ownCall: true })).status, 200, 'refused');
  t.equal(code(await held), 'KG3006', 'the held call is told refused');
  const again = w.h.call('kt10000', BUY, { token: w.token });
  const id2 = await Promise.race([pendingId(w), again.then((r) => `answered: ${r.text}`)]);
  t.not(id2, id, 'a new approval');
  t.notMatch(id2, /^answered/, 'the same order sent anew is held for approval again');
  if (!id2.startsWith('answered')) t.equal((await w.approve(id2)).status, 200, 'approved');
  const sent = await again;
  t.equal(sent.json.return_code, 0, `the approved call goes out: ${sent.text}`);
  t.equal(placed(w), 1, 'one order reached the broker');
});

t.test('pending mode: the same order held twice goes out once', async (t) => {
  const w = await world(t, 'pending');
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const held = await w.h.call('kt10000', BUY, { token: w.token });
    t.equal(code(held), 'KG3004', 'held: pending approval');
    ids.push(String(held.headers['x-kguard-approval-id']));
  }
  // A second approver: one code is good for one approval (replay refused).
  const carol = await w.h.adminToken('carol', 'approver');
  const enrolled = await w.h.admin('POST', '/admin/v1/approvers', w.admin, { name: 'carol', roles: ['approver'] });
  const secret = base32Decode(Buffer.from(String(enrolled.json.secret), 'ascii'));
  t.teardown(() => secret.fill(0));
  t.equal((await w.approve(ids[0]!)).status, 200, 'approved');
  const code2 = totpAt(secret, Date.now(), { periodSec: 30, digits: 6, window: 1 });
  t.equal((await w.h.admin('POST', `/admin/v1/approvals/${ids[1]}/approve`, carol, { code: code2 })).status, 200, 'approved');
  const sent = await w.h.call('kt10000', BUY, { token: w.token, headers: { 'x-kguard-approval-id': ids[0]! } });
  t.equal(sent.json.return_code, 0, `the first approved retry goes out: ${sent.text}`);
  const second = await w.h.call('kt10000', BUY, { token: w.token, headers: { 'x-kguard-approval-id': ids[1]! } });
  t.equal(code(second), 'KG3001 no-double-send', 'the second is a duplicate of the order that went out');
  t.equal(placed(w), 1, 'one order reached the broker');
});
