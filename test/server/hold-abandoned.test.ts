// A bot that hangs up while its call is held for approval (hold mode) leaves
// nobody to forward it: its approval must close with it. Approvers must not
// approve, and be told "approved", a call that will never go out.
import t from 'tap';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { enrolApprover } from '../helpers/approvers.js';
import { CANARY, FIXTURES, startHarness, waitFor } from '../helpers/harness.js';

const ORDER = JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' });

t.test('a held call whose bot hangs up closes its approval', async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `hold-abandoned-${process.pid}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  await writeFile(
    policyFile,
    `${readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`,
  );
  t.teardown(() => rm(policyFile, { force: true }));
  const h = await startHarness({ policyFile, config: { approval: { mode: 'hold', holdSeconds: 20 } } });
  t.teardown(() => h.close());
  const { admin, approve } = await enrolApprover(t, h);
  const token = await h.token();

  const port = Number(new URL(h.url).port);
  let serverSide: net.Socket | undefined;
  const onSocket = (m: unknown) => {
    const s = (m as { socket: net.Socket }).socket;
    if (s.localPort === port) serverSide = s;
  };
  subscribe('net.server.socket', onSocket);
  t.teardown(() => unsubscribe('net.server.socket', onSocket));
  const bot = net.connect(port, '127.0.0.1');
  bot.on('error', () => undefined);
  await once(bot, 'connect');
  bot.write(
    `POST /api/dostk/ordr HTTP/1.1\r\nHost: x\r\napi-id: kt10000\r\nauthorization: Bearer ${token}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(ORDER)}\r\n\r\n${ORDER}`,
  );
  let pending: Record<string, any>[] = [];
  await waitFor(
    async () => {
      pending = (await h.admin('GET', '/admin/v1/approvals?status=pending', admin)).json.approvals as Record<string, any>[];
      return pending.length === 1;
    },
    5_000,
    'a pending approval',
  );
  const a = pending[0]!;
  const seen = serverSide;
  if (!seen) throw new Error('no server-side socket seen');
  const closed = once(seen, 'close');
  bot.destroy();
  await closed;
  // The listener logs the request once its pipeline is done with it.
  await waitFor(() => /"apiId":"kt10000"[^\n]*"msg":"request"/.test(h.logs()), 5_000, "the held call's end");

  const late = await approve(a.id);
  t.not(late.status, 200, `approving a call whose bot left is refused: ${late.text}`);
  t.match(late.text, /KG3007/);
  t.equal((await h.admin('GET', `/admin/v1/approvals/${a.id}`, admin)).json.status, 'timeout', 'shown as no longer waiting');
  t.equal(((await h.admin('GET', '/admin/v1/approvals?status=pending', admin)).json.approvals as unknown[]).length, 0, 'nothing left pending');
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'nothing reached the broker',
  );
});
