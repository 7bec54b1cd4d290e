// Review (red team): GET /admin/v1/audit/receipts/:seq takes a record's
// sequence number. Number() read the path segment, so '0x10', '1e3', '01' and
// '1.0' were taken as other spellings of 16, 1000 and 1: an id is one decimal
// spelling, and anything else is a malformed request (KG1010).
import t from 'tap';
import { startHarness } from '../helpers/harness.js';

t.test('a receipt sequence number is a plain decimal', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const viewer = await h.adminToken('vera', 'viewer');
  for (const seq of ['0x10', '1e3', '01', '1.0', '0b1', '0o7', '9007199254740993']) {
    const r = await h.admin('GET', `/admin/v1/audit/receipts/${seq}`, viewer);
    t.equal(r.status, 400, `${seq}: refused, ${r.text.slice(0, 120)}`);
    t.equal(r.json.code, 'KG1010', `${seq}: malformed`);
  }
  const plain = await h.admin('GET', '/admin/v1/audit/receipts/1000000', viewer);
  t.equal(plain.json.code, 'KG1009', 'a well-formed number not yet checkpointed is unknown');
});
