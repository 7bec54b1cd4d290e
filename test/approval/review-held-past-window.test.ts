// A call held for approval can wait minutes (approval.holdSeconds, up to an hour): the sidecar checked the policy
// again after the hold only when the policy file had changed, so an order admitted inside its trading window and
// approved after the window closed (NXT's after-market ends at 20:00; a desk stops at 15:00) went to the broker
// outside it. Through the real sidecar over HTTP against the simulator; the window closes 12 s after the sidecar
// is up, in real time, as the policy engine reads the wall clock.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CANARY, startHarness, waitFor } from '../helpers/harness.js';
import { enrolApprover } from '../helpers/approvers.js';
import { seoulTimeOfDay } from '../../proxy/kiwoom/protocol/index.js';

const clock = (ms: number): string => {
  const s = Math.floor(ms / 1000);
  return [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60].map((n) => String(n).padStart(2, '0')).join(':');
};

t.test('an order approved after its trading window closed is refused, not forwarded', async (t) => {
  const tod = seoulTimeOfDay(Date.now());
  if (tod < 120_000 || tod > 86_400_000 - 120_000) {
    t.pass('skipped within two minutes of Seoul midnight (the window below cannot cross it)');
    return;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-held-window-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.yaml');
  const policy = (end: string) => `version: 1
rules:
  - { id: least-privilege, type: allow-apis, kinds: [query, account, order, modify, cancel] }
  - id: desk-hours
    type: trading-window
    windows: [{ days: [mon, tue, wed, thu, fri, sat, sun], start: "${clock(tod - 60_000)}", end: "${end}" }]
  - { id: orders-need-approval, type: require-approval, outcome: step-up, when: { kinds: [order] } }
`;
  await writeFile(file, policy('24:00'));
  const h = await startHarness({ policyFile: file, config: { approval: { mode: 'hold', holdSeconds: 60 }, limits: { requestTimeoutMs: 60_000 } } });
  t.teardown(() => h.close());
  // The window's end is set once the sidecar is up (its start-up is what a loaded machine makes slow), by a reload.
  const closesAt = Date.now() + 12_000;
  await writeFile(file, policy(clock(seoulTimeOfDay(closesAt))));
  t.match(await h.sidecar.parts.policy.reload(), { ok: true, changed: true }, 'the desk closes in 12 s');
  const bob = await enrolApprover(t, h);
  const order = { dmst_stex_tp: 'NXT', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };
  const held = h.call('kt10000', order);
  let pending: Record<string, unknown>[] = [];
  await waitFor(
    async () => (pending = (await h.admin('GET', '/admin/v1/approvals?status=pending', bob.admin)).json.approvals as Record<string, unknown>[]).length === 1,
    20_000,
    'the order held for approval',
  );
  t.ok(Date.now() < closesAt, 'admitted inside the window (else the machine was too slow for this test)');
  // The approver takes their time: the window closes meanwhile.
  await waitFor(async () => Date.now() > closesAt + 500, 20_000, 'the window to close');
  const approved = await bob.approve(String(pending[0]!.id));
  t.equal(approved.status, 200, 'the approval itself goes through');
  const res = await held;
  t.not(res.json.return_code, 0, `refused after the hold: ${res.text}`);
  t.match(String(res.json.return_msg), /KG3001:rule=desk-hours/, 'by the trading window');
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.stkCd === '005930' && o.side === 'buy'),
    'nothing reached the broker',
  );
});
