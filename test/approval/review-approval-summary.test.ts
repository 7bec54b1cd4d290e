// Review regression: what approvers read of a held order (the record's
// summary, shown by the admin API, the dashboard and the approval alert) must
// hold every documented field that changes what the broker does. A modify's
// condition price (mdfy_cond_uv) and a credit sell's deal type (crd_deal_tp)
// were left out: the approval bound them, but the approver never saw them.
import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import type { Auditor } from '../../proxy/audit/types.js';
import { createApprovalService, parseApprovalConfig, type SecretSealer } from '../../proxy/approval/index.js';

const auditor: Auditor = {
  async append() {
    return { seq: 0, hash: '' };
  },
  async health() {},
  async close() {},
};
const sealer: SecretSealer = {
  async seal() {
    throw new Error('not used');
  },
  async open() {
    throw new Error('not used');
  },
};

t.test("a held modify's condition price and a credit sell's deal type are in what approvers read", async (t) => {
  const store = createMemoryStore();
  t.teardown(() => store.close());
  const service = createApprovalService({
    config: parseApprovalConfig({ mode: 'pending' }),
    store,
    sealer,
    auditor,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
  });
  t.teardown(() => service.close());
  const base = { botId: 'bot1', account: '5555-01', owner: 'alice', score: 0.8, level: 'step_up' as const };

  const modify = { dmst_stex_tp: 'KRX', orig_ord_no: '0000138', stk_cd: '005930', mdfy_qty: '10', mdfy_uv: '70000', mdfy_cond_uv: '69000' };
  const m = await service.request({ ...base, apiId: 'kt10002', body: modify });
  t.same((await service.get(m.id)).summary, modify, 'every field of the modify');

  const credit = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '10', ord_uv: '70000', trde_tp: '0', crd_deal_tp: '33' };
  const c = await service.request({ ...base, apiId: 'kt10007', body: credit });
  t.same((await service.get(c.id)).summary, credit, 'every field of the credit sell');
});
