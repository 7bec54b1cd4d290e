// The approval index (one hash, its TTL renewed by every request) must not keep
// a field for every approval ever requested: on a busy system it never expires.
// Each request drops the fields whose record expired. Expiry is played by
// deleting the records, as Redis does when their TTL runs out.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Redis } from 'ioredis';
import { createRedisStore } from '../../proxy/state/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import type { Auditor } from '../../proxy/audit/types.js';
import { createApprovalService, createKeyProviderSealer, parseApprovalConfig } from '../../proxy/approval/index.js';
import { PATIENT_REDIS, startRedis } from '../helpers/redis.js';

const auditor: Auditor = {
  async append() {
    return { seq: 0, hash: '' };
  },
  async health() {},
  async close() {},
};

t.test('the approval index drops approvals whose records expired', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-index-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = await createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger: pino({ level: 'silent' }), registry: new Registry() });
  const service = createApprovalService({
    config: parseApprovalConfig({ pollMs: 60_000 }),
    store,
    sealer: createKeyProviderSealer(await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') })),
    auditor,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
  });
  const client = new Redis(redis.port, '127.0.0.1');
  t.teardown(async () => {
    client.disconnect();
    await service.close();
    await store.close();
  });
  const ask = (qty: number) =>
    service.request({
      botId: 'bot1',
      account: 'acct',
      apiId: 'kt10000',
      body: { stk_cd: '005930', ord_qty: String(qty) },
      owner: 'alice',
      score: 0.8,
      level: 'step_up',
    });

  const old: string[] = [];
  for (let i = 1; i <= 5; i++) old.push((await ask(i)).id);
  // Their retention ran out: Redis dropped the records (and votes), not the index, whose TTL the next request renews.
  for (const id of old) await client.del(`kguard:approval:rec:${id}`);
  const fresh = await ask(99);
  const fields = await client.hkeys('kguard:approval:index');
  t.same(fields, [fresh.id], 'the index names only the approval still kept');
  t.ok((await client.pttl('kguard:approval:index')) > 0, 'and still expires');
});
