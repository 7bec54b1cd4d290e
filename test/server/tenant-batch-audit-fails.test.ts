// POST /admin/v1/bots/batch parses the body into fresh Buffers holding the
// batch's secrets (bot secrets, Kiwoom keys). When the audit record that must
// come first cannot be written, the batch is refused — and those copies must
// still be zero-filled, not left for the garbage collector.
import t from 'tap';
import { request } from 'undici';
import { startHarness } from '../helpers/harness.js';

const CANARY_APP = 'AUDITFAILcanaryAPPkey0d1e2f3a4b5c';
const CANARY_SECRET = 'AUDITFAILcanarySECRETkey9a8b7c6d5e4f';
const CANARY_BOT_SECRET = 'AUDITFAILcanaryBOTsecret000111222333444555';

const h = await startHarness();
t.teardown(() => h.close());
const adminToken = await h.adminToken('ops', 'admin');

t.test('a batch refused because its audit record failed leaves no secret copy un-zeroed', async (t) => {
  const auditor = h.sidecar.parts.auditor as unknown as { append: (r: Record<string, unknown>, o?: unknown) => Promise<unknown> };
  const realAppend = auditor.append;
  auditor.append = (r, o) => (r.action === 'bots.batch' ? Promise.reject(new Error('audit sink down')) : realAppend.call(auditor, r, o));
  // Every Buffer made while the request is handled whose bytes are a canary: the parser's copies.
  const copies: Buffer[] = [];
  const realFrom = Buffer.from;
  const canaries = [CANARY_APP, CANARY_SECRET, CANARY_BOT_SECRET].map((c) => realFrom(c));
  Buffer.from = ((...args: Parameters<typeof Buffer.from>) => {
    const b = (realFrom as (...a: unknown[]) => Buffer)(...args);
    if (canaries.some((c) => c.equals(b))) copies.push(b);
    return b;
  }) as typeof Buffer.from;
  let status: number;
  try {
    const body = `${JSON.stringify({ id: 'auditfail', owner: 'desk', account: '7777000013' })}\tbotSecret=${CANARY_BOT_SECRET}\tappKey=${CANARY_APP}\tsecretKey=${CANARY_SECRET}\n`;
    const res = await request(`${h.adminUrl}/admin/v1/bots/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/x-ndjson' },
      body,
    });
    await res.body.text();
    status = res.statusCode;
  } finally {
    Buffer.from = realFrom;
    auditor.append = realAppend;
  }
  t.not(status, 200, 'the batch is refused without its audit record');
  t.notOk(h.sidecar.parts.bots.get('auditfail'), 'nothing registered');
  t.equal(copies.length, 3, 'the parser copied each secret once');
  t.same(
    copies.map((c) => c.every((x) => x === 0)),
    [true, true, true],
    'every copy zero-filled',
  );
});
