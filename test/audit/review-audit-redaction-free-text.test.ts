// Review regression: credentials inside free text reached every audit sink
// verbatim. Only fields named like a secret were dropped, and a string only
// when it began with "Bearer", so a bot's session JWT in an order body field
// ("memo", or "token=<jwt>" inside one) and an admin token or JWT an approver
// pasted into a refusal reason were written to the file and the Redis stream
// as they came, readable by anyone who reads the audit trail. Now any JWT,
// admin token or Bearer credential inside a string is cut out.
import path from 'node:path';
import { Redis } from 'ioredis';
import t from 'tap';
import { approvalWorld } from '../helpers/approvers.js';
import { auditLogText } from '../helpers/audit-sidecar-log.js';
import { startRedis } from '../helpers/redis.js';

const STEP_UP_BUY = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '1', ord_uv: '150000', trde_tp: '0' };

t.test('a JWT, an admin token or a Bearer credential inside any string never reaches a sink', async (t) => {
  const redisProc = await startRedis();
  t.teardown(() => redisProc.cleanup());
  const w = await approvalWorld(t, {
    mode: 'pending',
    config: {
      // A loaded machine (CI) can take longer than the 250 ms default to answer: this test is about redaction.
      state: { backend: 'redis', redis: { url: redisProc.url, commandTimeoutMs: 2_000 } },
      audit: { replicaId: 'r1', sinks: [{ type: 'file' }, { type: 'redis-stream', stream: 'kg:audit' }] },
    },
  });
  const { h } = w;
  const jwt = await h.token();

  // A bot that puts its own session token into its order body.
  const order = await h.call('kt10001', { ...w.sell(), memo: jwt, note: `token=${jwt}`, remark: `see ${w.admin}` }, { token: jwt });
  t.equal(order.json.return_code, 0, `the order goes through: ${order.text}`);
  const orderId = String(order.headers['x-kguard-request-id']);

  // An approver who pastes credentials into a refusal reason.
  const held = await h.call('kt10000', STEP_UP_BUY, { token: jwt });
  const approvalId = String(held.headers['x-kguard-approval-id']);
  t.match(approvalId, /^[0-9a-f-]{36}$/, 'the call waits for approval');
  const refused = await h.admin('POST', `/admin/v1/approvals/${approvalId}/refuse`, w.approver, {
    reason: `wrong bot: ${jwt} / ${w.admin} / Bearer ${w.approver}`,
  });
  t.equal(refused.status, 200, refused.text);

  const fileText = await auditLogText(path.join(h.dataDir, 'audit'));
  const redis = new Redis(redisProc.port, '127.0.0.1');
  t.teardown(() => redis.disconnect());
  const streamText = (await redis.xrange('kg:audit:r1', '-', '+')).map(([, f]) => f[1]).join('\n');
  const secrets = { 'session JWT': jwt, 'its signature': jwt.split('.')[2]!, 'admin token': w.admin, 'approver token': w.approver };
  for (const [where, text] of [
    ['file', fileText],
    ['Redis stream', streamText],
  ] as const) {
    t.ok(text.includes(orderId) && text.includes(approvalId), `${where} holds the order and the refusal`);
    for (const [name, secret] of Object.entries(secrets)) t.notOk(text.includes(secret), `no ${name} in the ${where}`);
    t.match(text, /wrong bot: \[stripped:jwt\] \/ \[stripped:admin-token\] \/ \[stripped:bearer\]/, `the reason stays readable in the ${where}`);
    t.match(text, /"note":"token=\[stripped:jwt\]"/, `the rest of a body field stays in the ${where}`);
  }
});
