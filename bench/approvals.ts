// `npm run bench:approvals` (many tenants, the approval
// queue at scale): measured in one run, not a test. A throwaway redis-server;
// the approval index filled with BENCH_KEPT approvals (default 1,000, 5,000
// and 20,000 in turn) that were never decided (kept for retention, as a busy
// day leaves them), then timed: the pending listing (the dashboard's, on
// every refresh), the full listing, and two new requests (a held call's path;
// the first after a fill may prune the index, which reads all of it).
// Prints one JSON line per size; writes nothing under bench/results.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApprovalService, createKeyProviderSealer, parseApprovalConfig } from '../proxy/approval/index.js';
import { K } from '../proxy/approval/records.js';
import type { Auditor } from '../proxy/audit/types.js';
import { createRedisStore } from '../proxy/state/index.js';
import { createLocalKeyProvider } from '../proxy/vault/index.js';
import { startBenchRedis } from './state-redis.js';

const SIZES = (process.env.BENCH_KEPT ?? '1000,5000,20000').split(',').map(Number);
const DAY_MS = 86_400_000;
const auditor: Auditor = {
  async append() {
    return { seq: 0, hash: '' };
  },
  async health() {},
  async close() {},
};

const redis = await startBenchRedis();
const dir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-approvals-'));
const logger = pino({ level: 'silent' });
const store = await createRedisStore({ url: redis.url, logger, registry: new Registry() });
const service = createApprovalService({
  config: parseApprovalConfig({ pollMs: 60_000, maxPendingPerBot: 1_000 }),
  store,
  sealer: createKeyProviderSealer(await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') })),
  auditor,
  registry: new Registry(),
  logger,
});
const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const v = await fn();
  return [v, +(performance.now() - t0).toFixed(1)];
};
try {
  let kept = 0;
  for (const size of SIZES) {
    // Written as request() leaves them (record + index entry), an hour past their expiry: timed out, kept.
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const writes: Promise<unknown>[] = [];
    for (; kept < size; kept++) {
      const id = randomUUID();
      const rec = {
        ...{ id, callHash: 'bench', botId: `bench-${kept % 500}`, account: 'acct', apiId: 'kt10000', level: 'step_up', score: 0.8, reasons: [] },
        ...{ summary: { stk_cd: '005930', ord_qty: '1' }, requiredApprovals: 1, mode: 'pending', createdAt: past, expiresAt: past },
      };
      writes.push(store.set(K.rec(id), JSON.stringify(rec), DAY_MS), store.hset(K.index, id, past, DAY_MS));
      if (writes.length >= 2_000) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    const ask = () =>
      service.request({ botId: 'bench-new', account: 'acct', apiId: 'kt10000', body: { stk_cd: '005930', ord_qty: '1' }, score: 0.8, level: 'step_up' });
    const [, requestMs] = await timed(ask);
    const [, secondRequestMs] = await timed(ask);
    const [pending, pendingMs] = await timed(() => service.list({ status: 'pending' }));
    const [all, allMs] = await timed(() => service.list());
    process.stdout.write(
      `${JSON.stringify({ kept: size, pending: pending.length, listPendingMs: pendingMs, listed: all.length, listAllMs: allMs, requestMs, secondRequestMs })}\n`,
    );
  }
} finally {
  await service.close();
  await store.close();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
