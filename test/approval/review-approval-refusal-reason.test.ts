// Review regression (the approver at the admin API and the dashboard): every refused approve read the same KG3011
// '승인 권한 또는 2차 인증 코드가 올바르지 않습니다' with an English detail, whether the code was wrong, already used,
// the approver locked out, not enrolled, the bot's owner at an admin-level call, or the same approver twice: the
// approver could not tell which. Now the code stays KG3011 (clients matching it are unchanged), the detail is in the
// sidecar's language and the answer names the reason (`reason`); a caller without a token learns nothing of it.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { base32Decode, totpAt } from '../../proxy/approval/index.js';
import { enrolApprover } from '../helpers/approvers.js';
import { FIXTURES, startHarness, type Harness } from '../helpers/harness.js';

const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' };
const TOTP = { periodSec: 30, digits: 6, window: 1 };

async function world(t: Test, outcome: 'step-up' | 'hold', language?: 'en') {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `review-approval-refusal-reason-${process.pid}-${outcome}-${language ?? 'ko'}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  const open = await readFile(path.join(FIXTURES, 'policy-open.yaml'), 'utf8');
  await writeFile(policyFile, `${open}  - { id: approve-size, type: require-approval, outcome: ${outcome}, minQuantity: 5 }\n`);
  t.teardown(() => rm(policyFile, { force: true }));
  const h: Harness = await startHarness({
    policyFile,
    config: { approval: { mode: 'pending', adminApprovers: 2 }, ...(language ? { language } : {}) },
  });
  t.teardown(() => h.close());
  const approvers = await enrolApprover(t, h);
  const token = await h.token();
  const held = await h.call('kt10000', ORDER, { token });
  t.equal(held.status, 202, `pending: ${held.text}`);
  return { h, ...approvers, id: String(held.headers['x-kguard-approval-id']) };
}

type Refused = { status: number; json: Record<string, unknown> };
function refusedAs(t: Test, r: Refused, reason: string, text: RegExp, what: string) {
  t.equal(r.status, 403, `${what}: refused`);
  t.equal(r.json.code, 'KG3011', `${what}: still KG3011`);
  t.equal(r.json.reason, reason, `${what}: the reason is named`);
  t.match(String(r.json.return_msg), text, `${what}: the detail says which, in the sidecar's language`);
  t.match(String(r.json.return_msg), /\[KG3011:/, `${what}: the code stays in its bracket`);
}

t.test('a step-up approval: wrong, reused, not enrolled, twice, locked out each say which (Korean)', async (t) => {
  const { h, admin, approver, code, id } = await world(t, 'step-up');
  const call = (body: Record<string, unknown>, who = approver) => h.admin('POST', `/admin/v1/approvals/${id}/approve`, who, body);

  const wrongCode = code() === '000000' ? '111111' : '000000';
  refusedAs(t, await call({ code: wrongCode }), 'code-invalid', /2차 인증 코드가 맞지 않습니다/, 'a wrong code');

  // carol holds an approver token but no enrolment.
  const carol = await h.adminToken('carol', 'approver');
  refusedAs(t, await call({ code: '123456' }, carol), 'not-enrolled', /승인자로 등록되어 있지 않습니다/, 'not enrolled');

  const other = await h.call('kt10000', { ...ORDER, ord_uv: '150100' }, { token: await h.token() });
  t.equal(other.status, 202, 'a second held call');
  const otherId = String(other.headers['x-kguard-approval-id']);
  const good = code();
  t.equal((await call({ code: good })).status, 200, 'approved with the current code');
  const reused = await h.admin('POST', `/admin/v1/approvals/${otherId}/approve`, approver, { code: good });
  refusedAs(t, reused, 'code-reused', /이미 사용한 코드입니다/, 'a reused code');

  // Locked out: wrong codes until the lockout (approval.totp.maxFailures, 5 by default).
  let last: Refused | undefined;
  for (let i = 0; i < 8; i++) {
    last = await h.admin('POST', `/admin/v1/approvals/${otherId}/approve`, approver, { code: wrongCode });
    if (last.json.reason === 'locked-out') break;
  }
  refusedAs(t, last!, 'locked-out', /잠겼습니다/, 'locked out');

  const anonymous = await h.admin('POST', `/admin/v1/approvals/${otherId}/approve`, 'not-a-token', { code: wrongCode });
  t.equal(anonymous.status, 401, 'no token: refused before any approval is looked at');
  t.equal(anonymous.json.reason, undefined, 'and no reason of the approval kind');
  t.notMatch(String(anonymous.json.return_msg), /2차 인증|잠겼|이미 사용/, 'nor its words');
  void admin;
});

t.test('an admin-level approval: the owner, the admin role, the same approver twice (English)', async (t) => {
  const { h, admin, approver, id } = await world(t, 'hold', 'en');
  const secrets: Buffer[] = [];
  t.teardown(() => {
    for (const s of secrets) s.fill(0);
  });
  const enrol = async (name: string, roles: string[], token?: string) => {
    const r = await h.admin('POST', '/admin/v1/approvers', admin, { name, roles, replace: true });
    t.equal(r.status, 201, `${name} enrolled`);
    const secret = base32Decode(Buffer.from(String(r.json.secret), 'ascii'));
    secrets.push(secret);
    return { token: token ?? (await h.adminToken(name, 'approver')), code: () => totpAt(secret, Date.now(), TOTP) };
  };
  const call = (who: { token: string; code: () => string }) => h.admin('POST', `/admin/v1/approvals/${id}/approve`, who.token, { code: who.code() });

  const bob = await enrol('bob', ['approver'], approver);
  refusedAs(t, await call(bob), 'needs-admin-role', /needs the admin role/, 'an approver without the admin role');
  const alice = await enrol('alice', ['approver', 'admin']);
  refusedAs(t, await call(alice), 'owner-four-eyes', /owner cannot approve/, "the bot's owner");
  const lee = await enrol('lee', ['admin']);
  t.equal((await call(lee)).status, 200, 'the first of two admin votes');
  refusedAs(t, await call(lee), 'already-voted', /different approver/, 'the same approver twice');
});
