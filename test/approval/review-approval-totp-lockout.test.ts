// Review regression: the second-factor lockout must bound the codes tried,
// also when the guesses arrive at once (over Redis every step is a round
// trip, so parallel attempts all read the failure count before any of them
// counted its own failure). With maxFailures 5, at most 5 codes are checked
// whatever the concurrency; the rest are refused as locked, unchecked.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createRedisStore } from '../../proxy/state/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import type { Auditor } from '../../proxy/audit/types.js';
import { createApprovalService, createKeyProviderSealer, parseApprovalConfig, base32Decode, totpAt } from '../../proxy/approval/index.js';
import { PATIENT_REDIS, startRedis } from '../helpers/redis.js';

const logger = pino({ level: 'silent' });
const auditor: Auditor = {
  async append() {
    return { seq: 0, hash: '' };
  },
  async health() {},
  async close() {},
};

t.test('parallel wrong codes over Redis: no more than maxFailures are checked, then the approver is locked', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-lockout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') });
  const config = parseApprovalConfig({ pollMs: 60_000, totp: { maxFailures: 5 } });
  const replica = async () => {
    const store = await createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger, registry: new Registry() });
    const service = createApprovalService({ config, store, sealer: createKeyProviderSealer(provider), auditor, registry: new Registry(), logger });
    t.teardown(async () => {
      await service.close();
      await store.close();
    });
    return service;
  };
  const a = await replica();
  const b = await replica();
  const e = await a.enroll('alice', ['approver'], 'root');
  const secret = base32Decode(e.secret);
  e.secret.fill(0);
  const ticket = await a.request({
    botId: 'bot1',
    account: 'acct',
    apiId: 'kt10001',
    body: { stk_cd: '005930', ord_qty: '5' },
    owner: 'alice',
    score: 0.8,
    level: 'step_up',
  });

  // Codes that are certainly wrong now: none of the accepted window's steps.
  const valid = new Set([-1, 0, 1].map((d) => totpAt(secret, Date.now() + d * 30_000, config.totp)));
  const wrong: string[] = [];
  for (let i = 0; wrong.length < 40; i++) {
    const c = String(100_000 + i * 7919).slice(-6);
    if (!valid.has(c)) wrong.push(c);
  }
  const results = await Promise.allSettled(wrong.map((c, i) => (i % 2 ? a : b).approve(ticket.id, 'alice', Buffer.from(c))));
  const messages = results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : 'approved'));
  const checked = messages.filter((m) => /invalid second-factor code/.test(m)).length;
  const locked = messages.filter((m) => /locked/.test(m) && !/invalid second-factor code/.test(m)).length;
  t.equal(messages.filter((m) => m === 'approved').length, 0, 'no wrong code approved');
  t.ok(checked <= config.totp.maxFailures, `${checked} codes were checked (at most ${config.totp.maxFailures})`);
  t.equal(checked + locked, wrong.length, `every other attempt was refused as locked (answers: ${[...new Set(messages)].join(' | ').slice(0, 500)})`);
  await t.rejects(
    a.approve(ticket.id, 'alice', Buffer.from(totpAt(secret, Date.now(), config.totp))),
    { code: 'KG3011', message: /locked/ },
    'even the right code is refused while locked',
  );
  t.equal((await b.get(ticket.id)).status, 'pending');
  secret.fill(0);
});
