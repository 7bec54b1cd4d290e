// Review regression: the second-factor lockout was a fixed window, so a thief
// of an approver's admin token could try maxFailures codes every lockoutMs for
// ever (1,440 codes a day at the defaults). Each lockout in a row now doubles
// the last, up to maxLockoutSeconds; a right code ends the escalation.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import type { AuditEvent, Auditor } from '../../proxy/audit/types.js';
import { createApprovalService, createKeyProviderSealer, parseApprovalConfig, base32Decode, totpAt } from '../../proxy/approval/index.js';

t.test('lockouts in a row double, a day holds dozens of guesses not 1,440, and a right code resets them', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-escalation-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let clock = Date.parse('2026-03-02T00:00:00Z');
  const now = () => clock;
  const store = createMemoryStore({ now });
  t.teardown(() => store.close());
  const records: AuditEvent[] = [];
  const auditor: Auditor = {
    async append(e) {
      records.push(structuredClone(e));
      return { seq: records.length, hash: '' };
    },
    async health() {},
    async close() {},
  };
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') });
  const config = parseApprovalConfig({ mode: 'pending', pollMs: 60_000, stepUpTimeoutSeconds: 86_400, retentionHours: 48 });
  t.same([config.totp.maxFailures, config.totp.lockoutMs, config.totp.maxLockoutMs], [5, 300_000, 86_400_000], 'defaults');
  const registry = new Registry();
  const service = createApprovalService({
    config,
    store,
    sealer: createKeyProviderSealer(provider),
    auditor,
    registry,
    logger: pino({ level: 'silent' }),
    now,
  });
  t.teardown(() => service.close());
  const e = await service.enroll('alice', ['approver'], 'root');
  const secret = base32Decode(e.secret);
  e.secret.fill(0);
  t.teardown(() => secret.fill(0));
  const held = () =>
    service.request({
      botId: 'bot1',
      account: 'acct',
      apiId: 'kt10001',
      body: { stk_cd: '005930', ord_qty: '5' },
      owner: 'alice',
      score: 0.8,
      level: 'step_up',
    });
  let ticket = await held();
  const valid = () => new Set([-1, 0, 1].map((d) => totpAt(secret, clock + d * 30_000, config.totp)));
  let seed = 0;
  const wrongCode = () => {
    const ok = valid();
    for (;;) {
      const c = String(100_000 + ((seed++ * 7919) % 900_000));
      if (!ok.has(c)) return Buffer.from(c);
    }
  };
  const attempt = async (code: Buffer) => {
    try {
      await service.approve(ticket.id, 'alice', code);
      return 'approved';
    } catch (err) {
      return String((err as Error).message);
    }
  };

  // A guesser who tries a code a minute for most of a day (the held call's deadline is a day).
  let checked = 0;
  const lockedUntil: string[] = [];
  const dayEnd = clock + 23 * 3_600_000;
  while (clock < dayEnd) {
    const m = await attempt(wrongCode());
    if (/invalid second-factor code/.test(m)) checked++;
    const until = /locked until ([0-9T:.-]+Z)/.exec(m)?.[1];
    if (until && lockedUntil.at(-1) !== until) lockedUntil.push(until);
    clock += 60_000;
  }
  t.ok(checked <= 50, `${checked} codes checked in a day (the fixed window alone checked 1,380)`);
  t.ok(lockedUntil.length >= 5, `${lockedUntil.length} lockouts`);
  const locks = records.filter((r) => r.action === 'totp_locked');
  t.equal(locks.length, lockedUntil.length, 'each lockout is audited once');
  t.same(
    locks.slice(0, 4).map((r) => r.lockoutsInARow),
    [1, 2, 3, 4],
    'lockouts in a row are counted',
  );
  const gaps = lockedUntil.slice(1, 4).map((u, i) => Date.parse(u) - Date.parse(lockedUntil[i]!));
  t.ok(gaps[1]! > gaps[0]! && gaps[2]! > gaps[1]!, 'each lockout ends later after the last than the one before');

  // While locked even the right code is refused; once the lock ends it approves, and the escalation is over.
  const last = Date.parse(lockedUntil.at(-1)!);
  if (clock < last) t.match(await attempt(Buffer.from(totpAt(secret, clock, config.totp))), /locked until/, 'right code refused while locked');
  clock = Math.max(clock, last) + 1000;
  ticket = await held();
  t.equal(await attempt(Buffer.from(totpAt(secret, clock, config.totp))), 'approved', 'the right code after the lock approves');
  t.notOk(await store.get('approval:totplockouts:alice'), 'a right code ends the escalation');
  t.notOk(await store.get('approval:totpinarow:alice'), 'and the count of wrong codes in a row');
  secret.fill(0);
});

t.test('maxLockoutSeconds caps a lockout and is checked at load', async (t) => {
  t.throws(() => parseApprovalConfig({ totp: { maxLockoutSeconds: 0 } }), /maxLockoutSeconds/);
  t.equal(parseApprovalConfig({ totp: { maxLockoutSeconds: 600 } }).totp.maxLockoutMs, 600_000);
});
