// The dashboard reads the newest part of the audit log (recent calls, risk per bot, chain status): 512 KiB, a
// constant, so with many bots a busy one pushed the others' records out of every panel and an operator could not
// widen it. It is admin.dashboard.auditTailBytes (default 512 KiB, 4 KiB..64 MiB).
import t from 'tap';
import { loadConfig } from '../../proxy/common/config.js';
import { startHarness } from '../helpers/harness.js';

t.test('the window is the configured size', async (t) => {
  const h = await startHarness({ config: { admin: { dashboard: { auditTailBytes: 4096 } } } });
  t.teardown(() => h.close());
  const viewer = await h.adminToken('victor', 'viewer');
  const token = await h.token();
  for (let i = 0; i < 20; i++) await h.call('ka10001', { stk_cd: '005930' }, { token });
  const chain = (await h.admin('GET', '/admin/v1/audit/status', viewer)).json.chain as { windowBytes: number; fromSeq: number };
  t.ok(chain.windowBytes > 0 && chain.windowBytes <= 4096, `read ${chain.windowBytes} bytes`);
  t.ok(chain.fromSeq > 1, 'the oldest records are outside the window');
});

t.test('default 512 KiB; out of range refused', async (t) => {
  t.equal((await loadConfig({ env: {}, overrides: {} })).admin.dashboard.auditTailBytes, 512 * 1024);
  await t.rejects(loadConfig({ env: {}, overrides: { admin: { dashboard: { auditTailBytes: 100 } } } }), { code: 'KG9003' });
});
