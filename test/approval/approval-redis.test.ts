// Approvals and risk baselines across two "replicas": two services, each with
// its own Redis connection, on one real redis-server.
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
import { createRiskEngine, parseRiskConfig, seoulToEpoch } from '../../proxy/risk/index.js';
import { PATIENT_REDIS, startRedis } from '../helpers/redis.js';

const logger = pino({ level: 'silent' });
const auditor: Auditor = {
  async append() {
    return { seq: 0, hash: '' };
  },
  async health() {},
  async close() {},
};

t.test('approval requested on replica A is approved on replica B over Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-redis-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') });
  const config = parseApprovalConfig({ pollMs: 60_000 });
  const replica = async () => {
    const store = await createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger, registry: new Registry() });
    const service = createApprovalService({ config, store, sealer: createKeyProviderSealer(provider), auditor, registry: new Registry(), logger });
    t.teardown(async () => {
      await service.close();
      await store.close();
    });
    return { store, service };
  };
  const a = await replica();
  const b = await replica();
  const e = await a.service.enroll('alice', ['approver'], 'root');
  const secret = base32Decode(e.secret);
  e.secret.fill(0);

  const ticket = await a.service.request({
    botId: 'bot1',
    account: 'acct',
    apiId: 'kt10001',
    body: { stk_cd: '005930', ord_qty: '5' },
    owner: 'alice',
    score: 0.8,
    level: 'step_up',
  });
  t.same(
    (await b.service.list({ status: 'pending' })).map((v) => v.id),
    [ticket.id],
  );
  const waiting = ticket.wait();
  const t0 = Date.now();
  const code = totpAt(secret, Date.now(), config.totp);
  await b.service.approve(ticket.id, 'alice', Buffer.from(code));
  t.equal(await waiting, 'approved');
  const woke = Date.now() - t0;
  // Pub/sub, not the 60 s poll: anything well under the poll interval proves it (generous for a busy machine).
  t.ok(woke < 30_000, `replica A woke ${woke} ms after replica B approved (pub/sub, poll is 60 s)`);
  t.equal((await b.service.consume(ticket.id, ticket.callHash)).status, 'consumed');
  await t.rejects(a.service.consume(ticket.id, ticket.callHash), { code: 'KG3010' }, 'single use across replicas');
  // The code alice just used on replica B, replayed on replica A for another held call: refused there too.
  const other = await a.service.request({
    botId: 'bot1',
    account: 'acct',
    apiId: 'kt10001',
    body: { stk_cd: '005930', ord_qty: '6' },
    owner: 'alice',
    score: 0.8,
    level: 'step_up',
  });
  await t.rejects(
    a.service.approve(other.id, 'alice', Buffer.from(code)),
    { code: 'KG3011', message: /already used/ },
    'a TOTP code works once across replicas',
  );
  t.equal((await b.service.get(other.id)).status, 'pending');

  // Risk baselines learned on one replica are judged on the other.
  const risk = parseRiskConfig({ warmupCalls: 5 });
  const ra = createRiskEngine({ config: risk, store: a.store, registry: new Registry(), logger });
  const rb = createRiskEngine({ config: risk, store: b.store, registry: new Registry(), logger });
  const now = seoulToEpoch('2026-01-05', 10);
  for (let i = 0; i < 6; i++)
    await ra.learn(
      { botId: 'bot1', account: 'acct', apiId: 'ka10001', kind: 'query', stkCd: '005930', sourceIp: '10.0.0.5', now: now + i * 1000 },
      { allowed: true, completed: true },
    );
  const judged = await rb.assess({
    botId: 'bot1',
    account: 'acct',
    apiId: 'ka10001',
    kind: 'query',
    stkCd: '005930',
    sourceIp: '203.0.113.7',
    now: now + 10_000,
  });
  t.equal(judged.baselineCalls, 6);
  t.ok(
    judged.contributions.some((c) => c.detector === 'location'),
    'new address seen by the other replica',
  );
});
