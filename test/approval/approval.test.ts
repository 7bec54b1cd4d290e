import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { createMemoryStore } from '../../proxy/state/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/local-provider.js';
import type { Auditor, AuditEvent } from '../../proxy/audit/types.js';
import { GuardError, kiwoomErrorBody } from '../../proxy/common/errors.js';
import {
  createApprovalService,
  createKeyProviderSealer,
  parseApprovalConfig,
  hashCall,
  totpAt,
  base32Decode,
  hotp,
  pendingApprovalError,
  approvalRoutes,
  type ApprovalService,
  type ApprovalServiceOptions,
  type ApprovalCall,
  type ApprovalRecord,
} from '../../proxy/approval/index.js';
import { createAdminServer } from '../../proxy/admin/server.js';
import { AdminTokens } from '../../proxy/admin/tokens.js';

function recordingAuditor(): Auditor & { events: AuditEvent[]; failing: boolean } {
  const a = {
    events: [] as AuditEvent[],
    failing: false,
    async append(e: AuditEvent) {
      if (a.failing) throw new GuardError('KG6001');
      a.events.push(structuredClone(e));
      return { seq: a.events.length, hash: String(a.events.length) };
    },
    async health() {},
    async close() {},
  };
  return a;
}

async function fixture(
  t: Test,
  raw: Record<string, unknown> = {},
  onRefused?: (rec: { botId: string; apiId: string; summary: Readonly<Record<string, string>> }) => Promise<void>,
  onRequested?: ApprovalServiceOptions['onRequested'],
) {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') });
  const store = createMemoryStore();
  t.teardown(() => store.close());
  const logLines: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(c, _e, cb) {
        logLines.push(String(c));
        cb();
      },
    }),
  );
  const auditor = recordingAuditor();
  // A controllable clock: each approval moves it one TOTP step so codes never repeat.
  let offset = 0;
  // Frozen, every step of a test happens in one millisecond, as on a fast machine.
  let frozenAt: number | undefined;
  const now = () => (frozenAt ?? Date.now()) + offset;
  const config = parseApprovalConfig({ holdSeconds: 3600, stepUpTimeoutSeconds: 3600, adminTimeoutSeconds: 3600, ...raw });
  const make = (extra: Partial<ApprovalServiceOptions> = {}): ApprovalService => {
    const hooks = { ...(onRefused ? { onRefused } : {}), ...(onRequested ? { onRequested } : {}) };
    const s = createApprovalService({
      config,
      store,
      sealer: createKeyProviderSealer(provider),
      auditor,
      registry: new Registry(),
      logger,
      now,
      ...hooks,
      ...extra,
    });
    t.teardown(() => s.close());
    return s;
  };
  const service = make();
  const secrets: Record<string, Buffer> = {};
  for (const [name, roles] of [
    ['alice', ['approver']],
    ['bob', ['admin']],
    ['carol', ['admin']],
  ] as const) {
    const e = await service.enroll(name, [...roles], 'root');
    secrets[name] = base32Decode(e.secret);
    t.match(e.uri.toString(), /^otpauth:\/\/totp\/kiwoom-guard%3A\w+\?secret=[A-Z2-7]+&issuer=kiwoom-guard&algorithm=SHA1&digits=6&period=30$/);
  }
  const code = (name: string): Buffer => {
    offset += 31_000;
    return Buffer.from(totpAt(secrets[name]!, now(), config.totp));
  };
  const enrollNew = async (name: string, roles: ('approver' | 'admin')[]) => {
    const e = await service.enroll(name, roles, 'root');
    secrets[name] = base32Decode(e.secret);
    e.secret.fill(0);
  };
  const freezeClock = (on: boolean) => {
    frozenAt = on ? Date.now() : undefined;
  };
  return {
    dir,
    store,
    service,
    make,
    freezeClock,
    auditor,
    logLines,
    code,
    config,
    secrets,
    provider,
    enrollNew,
    advance: (ms: number) => {
      offset += ms;
    },
  };
}

const BODY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '10', ord_uv: '74000', trde_tp: '0' };
const call = (over: Partial<ApprovalCall> = {}): ApprovalCall => ({
  botId: 'bot1',
  account: '5555-01',
  apiId: 'kt10001',
  body: BODY,
  owner: 'alice',
  score: 0.8,
  level: 'step_up',
  reasons: ['time: 03h'],
  ...over,
});

t.test('TOTP matches the RFC 6238 SHA-1 test vectors', async (t) => {
  const secret = Buffer.from('12345678901234567890');
  const opts = { periodSec: 30, digits: 8, window: 0 };
  t.equal(totpAt(secret, 59_000, opts), '94287082');
  t.equal(totpAt(secret, 1111111109_000, opts), '07081804');
  t.equal(totpAt(secret, 2000000000_000, opts), '69279037');
  t.equal(hotp(secret, 0, 6), '755224', 'RFC 4226 HOTP vector');
});

t.test('the call hash is canonical and binds bot, api-id and body', async (t) => {
  const h = hashCall('b', 'kt10000', { a: 1, b: { d: 2, c: 3 } });
  t.equal(h, hashCall('b', 'kt10000', { b: { c: 3, d: 2 }, a: 1 }), 'key order does not matter');
  t.not(h, hashCall('b', 'kt10000', { a: 1, b: { d: 2, c: 4 } }));
  t.not(h, hashCall('b', 'kt10001', { a: 1, b: { d: 2, c: 3 } }));
  t.not(h, hashCall('c', 'kt10000', { a: 1, b: { d: 2, c: 3 } }));
});

// Review regression (an on-call admin's): an approved call not sent yet (pending mode: the bot retries within
// useWithinSeconds) could not be refused: the admin who saw the approval was a mistake got "already used" (KG3010),
// which was not true, and the call then went out. It can be refused until it is used, and its retry gets KG3006.
t.test('an approved call not sent yet can still be refused; its retry is refused; a used one says it went out', async (t) => {
  const f = await fixture(t, { mode: 'pending' });
  const ticket = await f.service.request(call());
  t.equal((await f.service.approve(ticket.id, 'alice', f.code('alice'))).status, 'approved');
  const refused = await f.service.refuse(ticket.id, 'bob', 'wait, that is not ours');
  t.equal(refused.status, 'refused', 'refused after the approval');
  await t.rejects(f.service.consume(ticket.id, ticket.callHash), { code: 'KG3006' }, "the bot's retry with it is refused");
  t.same(
    f.auditor.events.filter((e) => e.type === 'approval' && e.approvalId === ticket.id).map((e) => e.action),
    ['requested', 'approved', 'refused'],
    'audited',
  );

  const used = await f.service.request(call({ body: { ...BODY, ord_qty: '2' } }));
  await f.service.approve(used.id, 'alice', f.code('alice'));
  await f.service.consume(used.id, used.callHash);
  await t.rejects(
    f.service.refuse(used.id, 'bob', 'too late'),
    { code: 'KG3010', message: /was used: the call it approved went out/ },
    'once used, it says so',
  );
});

// Review regression (an on-call admin's): `kguard admins remove` took an admin's API token, but their approver
// enrolment stayed, and with it their vote on a held call: a removed admin plus one other met the two-admin rule
// and the call went out. A vote now counts only while its approver holds a token (role approver or above) given
// before the vote.
t.test('an admin removed: their vote on a held call no longer counts', async (t) => {
  const f = await fixture(t, { mode: 'pending', adminApprovers: 2 });
  const admins = AdminTokens.forDataDir(f.dir);
  for (const [name, role] of [
    ['alice', 'approver'],
    ['bob', 'admin'],
    ['carol', 'admin'],
  ] as const)
    (await admins.create(name, role)).fill(0);
  const service = f.make({ admins });
  const ticket = await service.request(call({ level: 'admin' }));
  t.equal((await service.approve(ticket.id, 'bob', f.code('bob'))).status, 'pending', 'one of two admins');
  await admins.remove('bob');
  t.same((await service.get(ticket.id)).approvals, [], 'bob removed: his vote is gone');
  t.equal((await service.approve(ticket.id, 'carol', f.code('carol'))).status, 'pending', 'carol alone is one of two');
  await t.rejects(service.consume(ticket.id, ticket.callHash), { code: 'KG3004' }, 'the call is still held');
  // Two admins still trusted approve it.
  (await admins.create('dave', 'admin')).fill(0);
  await f.enrollNew('dave', ['admin']);
  t.equal((await service.approve(ticket.id, 'dave', f.code('dave'))).status, 'approved', 'carol and dave: approved');
});

// Review regression: `kguard approvals list` says "newest first" but listed the oldest first (so `| head` showed the
// oldest); the listing is newest first now, as incidents are.
t.test('approvals are listed newest first', async (t) => {
  const f = await fixture(t);
  const older = await f.service.request(call({ body: { ...BODY, ord_qty: '3' } }));
  f.code('alice'); // the clock moves on
  const newer = await f.service.request(call({ body: { ...BODY, ord_qty: '4' } }));
  t.same(
    (await f.service.list({})).map((v) => v.id),
    [newer.id, older.id],
  );
});

t.test('step-up: held call approved by the owner with TOTP, single use', async (t) => {
  const f = await fixture(t);
  const ticket = await f.service.request(call());
  t.equal((await f.service.get(ticket.id)).status, 'pending');
  const waiting = ticket.wait();
  const view = await f.service.approve(ticket.id, 'alice', f.code('alice'));
  t.equal(view.status, 'approved');
  t.equal(await waiting, 'approved');
  const used = await f.service.consume(ticket.id, hashCall('bot1', 'kt10001', BODY));
  t.equal(used.status, 'consumed');
  await t.rejects(f.service.consume(ticket.id, ticket.callHash), { code: 'KG3010' }, 'single use');
  t.same(
    f.auditor.events.filter((e) => e.type === 'approval' && e.approvalId === ticket.id).map((e) => e.action),
    ['requested', 'approved', 'consumed'],
  );
});

t.test('a bot whose owner is not an approver name (registered before owners had to be) is still approved by an approver', async (t) => {
  const f = await fixture(t);
  const ticket = await f.service.request(call({ owner: 'Kim Trader' }));
  t.equal((await f.service.get(ticket.id)).status, 'pending', 'held, not failed closed for every call of the bot');
  t.notOk((await f.service.get(ticket.id)).owner, 'no owner who could confirm');
  t.equal((await f.service.approve(ticket.id, 'alice', f.code('alice'))).status, 'approved');
  t.ok(
    f.logLines.some((l) => l.includes('not an approver name')),
    'the operator is told',
  );
});

t.test('bad, replayed and brute-forced codes are refused', async (t) => {
  const f = await fixture(t);
  const a = await f.service.request(call());
  await t.rejects(f.service.approve(a.id, 'alice', Buffer.from('000000')), { code: 'KG3011' });
  const good = f.code('alice');
  await f.service.approve(a.id, 'alice', Buffer.from(good));
  const b = await f.service.request(call({ body: { ...BODY, ord_qty: '11' } }));
  await t.rejects(f.service.approve(b.id, 'alice', good), { code: 'KG3011', message: /already used/ }, 'a code works once');
  await t.rejects(f.service.approve(b.id, 'dave', f.code('alice')), { code: 'KG3011', message: /not enrolled/ });
  for (let i = 0; i < 5; i++) await f.service.approve(b.id, 'alice', Buffer.from('12345')).catch(() => undefined);
  await t.rejects(f.service.approve(b.id, 'alice', f.code('alice')), { code: 'KG3011', message: /locked/ }, 'lockout after repeated failures');
  t.equal((await f.service.get(b.id)).status, 'pending');
});

t.test('refusal denies the held call', async (t) => {
  const f = await fixture(t);
  const ticket = await f.service.request(call());
  const waiting = ticket.wait();
  const v = await f.service.refuse(ticket.id, 'alice', 'not me\r\nforged line');
  t.equal(v.status, 'refused');
  t.equal(v.refusal?.reason, 'not me forged line', 'control characters stripped');
  t.equal(await waiting, 'refused');
  await t.rejects(f.service.consume(ticket.id, ticket.callHash), { code: 'KG3006' });
  await t.rejects(f.service.approve(ticket.id, 'bob', f.code('bob')), { code: 'KG3006' });
});

t.test('a refusal is told to the risk engine (onRefused) after it is recorded; a failing hook does not undo it', async (t) => {
  const told: string[] = [];
  const f = await fixture(t, {}, async (rec) => {
    told.push(`${rec.botId} ${rec.apiId} ${rec.summary.stk_cd}`);
  });
  const ticket = await f.service.request(call({ botId: 'bot7' }));
  await f.service.approve((await f.service.request(call({ botId: 'bot8' }))).id, 'alice', Buffer.from(f.code('alice')));
  t.same(told, [], 'an approval tells nothing');
  await f.service.refuse(ticket.id, 'alice', 'not me');
  t.same(told, [`bot7 ${call().apiId} ${(call().body as Record<string, string>).stk_cd}`], 'with the held call: whose, which api-id, which symbol');
  const own = await f.service.request(call({ botId: 'bot10' }));
  const declined = await f.service.refuse(own.id, 'alice', 'mine, too large', { ownCall: true });
  t.match(declined, { status: 'refused', refusal: { approver: 'alice', ownCall: true } });
  t.equal(told.length, 1, "a call declined as the bot's own is not told (no escalation)");
  t.match(
    f.auditor.events.find((e) => e.type === 'approval' && e.approvalId === own.id && e.action === 'refused'),
    { ownCall: true },
    'and its audit record says so',
  );
  t.notOk((await f.service.get(ticket.id)).refusal?.ownCall, 'a plain refusal carries no ownCall');

  const broken = await fixture(t, {}, async () => {
    throw new Error('store down');
  });
  const held = await broken.service.request(call({ botId: 'bot9' }));
  const v = await broken.service.refuse(held.id, 'alice', 'not me');
  t.equal(v.status, 'refused', 'the refusal stands');
  t.ok(
    broken.logLines.some((l) => l.includes('refusal not counted by the risk engine') && l.includes('bot9')),
    'and the operator sees why it was not counted',
  );
});

t.test('every request is told (onRequested) once recorded, with what the approvers read; a throwing hook does not fail it', async (t) => {
  const told: ApprovalRecord[] = [];
  const f = await fixture(t, {}, undefined, (rec) => told.push(rec));
  const ticket = await f.service.request(call({ botId: 'bot7', reasons: ['new_symbol: r'] }));
  t.equal(told.length, 1);
  t.match(told[0], { id: ticket.id, botId: 'bot7', apiId: call().apiId, level: 'step_up', reasons: ['new_symbol: r'], expiresAt: ticket.expiresAt });
  t.equal(told[0]!.summary.stk_cd, (call().body as Record<string, string>).stk_cd);
  t.equal((await f.service.get(ticket.id)).status, 'pending', 'recorded before it was told');

  const broken = await fixture(t, {}, undefined, () => {
    throw new Error('webhook queue down');
  });
  const held = await broken.service.request(call({ botId: 'bot9' }));
  t.equal((await broken.service.get(held.id)).status, 'pending', 'the request stands');
  t.ok(
    broken.logLines.some((l) => l.includes('approvers not alerted') && l.includes(held.id)),
    'and the operator sees why nobody was told',
  );
});

t.test('time-out denies, and late approvals are refused', async (t) => {
  const f = await fixture(t, { stepUpTimeoutSeconds: 1, pollMs: 50 });
  const ticket = await f.service.request(call());
  const started = Date.now();
  t.equal(await ticket.wait(), 'timeout');
  const waited = Date.now() - started;
  // Never early; the upper bound is only generous (a busy machine schedules late).
  t.ok(waited >= 900 && waited < 15_000, `timed out after ${waited} ms (step-up time-out 1 s)`);
  await t.rejects(f.service.approve(ticket.id, 'alice', Buffer.from(totpAt(f.secrets.alice!, Date.now(), f.config.totp))), { code: 'KG3007' });
  await t.rejects(f.service.consume(ticket.id, ticket.callHash), { code: 'KG3007' });
  // hold mode never outlives the hold time.
  const g = await fixture(t, { holdSeconds: 1, adminTimeoutSeconds: 300 });
  const held = await g.service.request(call({ level: 'admin' }), { mode: 'hold' });
  t.ok(Date.parse(held.expiresAt) - Date.now() <= 1000);
  const ac = new AbortController();
  const w = held.wait(ac.signal);
  ac.abort();
  t.equal(await w, 'timeout', 'bot disconnect ends the wait');
});

t.test('replay of an approval on a different body is refused', async (t) => {
  const f = await fixture(t, { mode: 'pending' });
  const ticket = await f.service.request(call());
  await t.rejects(f.service.consume(ticket.id, ticket.callHash), { code: 'KG3004' }, 'still pending');
  await f.service.approve(ticket.id, 'alice', f.code('alice'));
  const other = hashCall('bot1', 'kt10001', { ...BODY, ord_qty: '10000' });
  await t.rejects(f.service.consume(ticket.id, other), { code: 'KG3009' });
  await t.rejects(f.service.consume(ticket.id, hashCall('bot2', 'kt10001', BODY)), { code: 'KG3009' });
  t.ok(f.auditor.events.some((e) => e.action === 'consume_mismatch'));
  t.equal((await f.service.consume(ticket.id, ticket.callHash)).status, 'consumed', 'the approved call itself still goes through once');
});

t.test("a removed approver's votes stop counting: removing a compromised approver voids what they approved", async (t) => {
  const f = await fixture(t, { adminApprovers: 2, mode: 'pending' });
  await f.enrollNew('erin', ['admin']);
  const admin = await f.service.request(call({ level: 'admin', owner: 'alice', score: 0.93 }));
  t.equal((await f.service.approve(admin.id, 'carol', f.code('carol'))).status, 'pending', 'one of two');
  await f.service.removeApprover('carol', 'root');
  t.equal((await f.service.approve(admin.id, 'erin', f.code('erin'))).status, 'pending', "carol's vote no longer counts: still one of two");
  t.equal((await f.service.approve(admin.id, 'bob', f.code('bob'))).status, 'approved', 'two enrolled admins');

  const stepUp = await f.service.request(call({ body: { ...BODY, ord_qty: '12' } }));
  // The vote, the removal and the enrolment again in one millisecond: the vote must still not come back.
  f.freezeClock(true);
  t.teardown(() => f.freezeClock(false));
  t.equal((await f.service.approve(stepUp.id, 'alice', f.code('alice'))).status, 'approved');
  await f.service.removeApprover('alice', 'root');
  await t.rejects(f.service.consume(stepUp.id, stepUp.callHash), { code: 'KG3004' }, 'approved only by a removed approver: pending again, not released');
  await f.enrollNew('alice', ['approver']);
  await t.rejects(f.service.consume(stepUp.id, stepUp.callHash), { code: 'KG3004' }, 'enrolling the name again does not revive the vote');
});

t.test('admin approval: four-eyes, two approvers when configured', async (t) => {
  const f = await fixture(t, { adminApprovers: 2 });
  // bob owns this bot: he may not approve its admin-level call.
  const ticket = await f.service.request(call({ level: 'admin', owner: 'bob', score: 0.93 }));
  await t.rejects(f.service.approve(ticket.id, 'bob', f.code('bob')), { code: 'KG3011', message: /four-eyes/ });
  await t.rejects(f.service.approve(ticket.id, 'alice', f.code('alice')), { code: 'KG3011', message: /admin role/ }, 'approver role is not enough');
  const waiting = ticket.wait();
  const first = await f.service.approve(ticket.id, 'carol', f.code('carol'));
  t.equal(first.status, 'pending', 'one of two approvals');
  await t.rejects(f.service.approve(ticket.id, 'carol', f.code('carol')), { code: 'KG3011', message: /different approver/ });
  // A third admin completes it.
  await f.enrollNew('erin', ['admin']);
  const done = await f.service.approve(ticket.id, 'erin', f.code('erin'));
  t.equal(done.status, 'approved');
  t.same(
    done.approvals.map((a) => a.approver),
    ['carol', 'erin'],
  );
  t.equal(await waiting, 'approved');
});

t.test('approval on another replica: two services sharing one Store', async (t) => {
  const f = await fixture(t, { pollMs: 60_000 });
  const replicaB = f.make();
  const ticket = await f.service.request(call());
  const listed = await replicaB.list({ status: 'pending' });
  t.same(
    listed.map((v) => v.id),
    [ticket.id],
    'replica B lists it',
  );
  const waiting = ticket.wait();
  const t0 = Date.now();
  await replicaB.approve(ticket.id, 'alice', f.code('alice'));
  t.equal(await waiting, 'approved');
  t.ok(Date.now() - t0 < 30_000, 'woken by pub/sub, not by the 60 s poll');
  await replicaB.consume(ticket.id, ticket.callHash);
  await t.rejects(f.service.consume(ticket.id, ticket.callHash), { code: 'KG3010' }, 'single use across replicas');
});

t.test('pending mode: Kiwoom-shaped pending error with the approval id', async (t) => {
  const f = await fixture(t, { mode: 'pending', holdSeconds: 1, stepUpTimeoutSeconds: 300 });
  const ticket = await f.service.request(call());
  const err = pendingApprovalError(ticket.id);
  t.equal(err.status, 202);
  t.equal(err.headers?.['x-kguard-approval-id'], ticket.id);
  t.match(kiwoomErrorBody(err, 'ko'), { return_code: 2, return_msg: `승인 대기 중입니다[KG3004:${ticket.id}]` });
  t.ok(Date.parse(ticket.expiresAt) - Date.now() > 250_000, 'pending approvals wait the full timeout');
});

t.test('queue bounds, validation and fail-closed audit', async (t) => {
  const f = await fixture(t, { maxPendingPerBot: 2 });
  await f.service.request(call());
  await f.service.request(call());
  await t.rejects(f.service.request(call()), { code: 'KG3014' });
  await f.service.request(call({ botId: 'bot2' }));
  await t.rejects(f.service.get('../../etc'), { code: 'KG3015' });
  await t.rejects(f.service.enroll('bad name', ['admin'], 'root'), { code: 'KG3016' });
  await t.rejects(f.service.enroll('alice', ['admin'], 'root'), { code: 'KG3016', message: /already enrolled/ });
  await t.rejects(f.service.enroll('zed', ['root' as never], 'root'), { code: 'KG3016' });
  t.throws(() => parseApprovalConfig({ adminApprovers: 3 }), { code: 'KG3013' });
  t.throws(() => parseApprovalConfig({ mode: 'maybe' }), { code: 'KG3013' });

  const ticket = await f.service.request(call({ botId: 'bot3' }));
  f.auditor.failing = true;
  await t.rejects(f.service.approve(ticket.id, 'alice', f.code('alice')), { code: 'KG6001' });
  f.auditor.failing = false;
  t.equal((await f.service.get(ticket.id)).status, 'pending', 'nothing changed when the audit failed');
});

t.test('approver secrets never appear in the store, audit or logs', async (t) => {
  const f = await fixture(t);
  const e = await f.service.enroll('canary', ['approver'], 'root');
  const b32 = e.secret.toString('ascii');
  const raw = base32Decode(e.secret).toString('hex');
  const stored = await f.store.hgetall('approval:approvers');
  const everything = JSON.stringify(stored) + JSON.stringify(f.auditor.events) + f.logLines.join('');
  t.notOk(everything.includes(b32), 'base32 secret absent');
  t.notOk(everything.includes(raw), 'raw secret absent');
  t.match(JSON.parse(stored.canary!), { roles: ['approver'] });
  e.secret.fill(0);
  t.equal(e.secret.toString('ascii').replace(/\0/g, ''), '', 'caller can zero the buffer');
});

t.test('admin API routes over real HTTP with roles', async (t) => {
  const f = await fixture(t);
  const tokens = new AdminTokens(path.join(f.dir, 'admins.json'));
  const aliceToken = (await tokens.create('alice', 'approver')).toString('latin1');
  const viewerToken = (await tokens.create('vic', 'viewer')).toString('latin1');
  const rootToken = (await tokens.create('root', 'admin')).toString('latin1');
  const server = createAdminServer({
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    language: 'en',
    readiness: [],
    routes: approvalRoutes(f.service),
    tokens,
    maxBodyBytes: 64 * 1024,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/v1`;
  const call$ = async (method: 'GET' | 'POST', p: string, token: string, body?: unknown) => {
    const res = await request(base + p, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  };
  const ticket = await f.service.request(call());
  const list = await call$('GET', '/approvals?status=pending', viewerToken);
  t.equal(list.status, 200);
  t.equal((list.json.approvals as { id: string }[])[0]!.id, ticket.id);
  t.equal((await call$('POST', `/approvals/${ticket.id}/approve`, viewerToken, { code: '123456' })).status, 403, 'viewer may not approve');
  const ok = await call$('POST', `/approvals/${ticket.id}/approve`, aliceToken, { code: f.code('alice').toString() });
  t.equal(ok.status, 200);
  t.equal(ok.json.status, 'approved');
  const enrolled = await call$('POST', '/approvers', rootToken, { name: 'frank', roles: ['admin'] });
  t.equal(enrolled.status, 201);
  t.match(enrolled.json.secret, /^[A-Z2-7]{32}$/);
  t.equal((await call$('POST', '/approvers', aliceToken, { name: 'mallory', roles: ['admin'] })).status, 403, 'only admins enrol');
  const t2 = await f.service.request(call());
  const refused = await call$('POST', `/approvals/${t2.id}/refuse`, rootToken, { reason: 'unexpected sell' });
  t.equal(refused.status, 403, 'root is an admin token but not an enrolled approver');
  t.match(refused.json.return_msg, /KG3011/);
});
