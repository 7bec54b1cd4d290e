// Thousands of bots ask for approvals all day; every approval is kept for
// approval.retentionHours (24 h by default) after it is decided. The pending
// listing (the dashboard asks for it on every refresh, `kguard approvals list
// --status pending` too) must not read every approval kept: it read each
// record and its decision keys one after another (20,000 kept: 1.5 s against a
// local Redis, bench/approvals.ts). Counted here as the Store reads it makes.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import type { Store } from '../../proxy/state/types.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import type { Auditor } from '../../proxy/audit/types.js';
import { createApprovalService, createKeyProviderSealer, parseApprovalConfig } from '../../proxy/approval/index.js';

const auditor: Auditor = {
  async append() {
    return { seq: 0, hash: '' };
  },
  async health() {},
  async close() {},
};

const READS = new Set(['get', 'mget', 'hget', 'hmget', 'hgetall']);

/** The store, with a count of the reads made through it while `counting` is on. */
function countingStore(inner: Store): { store: Store; reads: () => number; counting: (on: boolean) => void } {
  let n = 0;
  let on = false;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (on && READS.has(String(prop))) n++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, reads: () => n, counting: (o) => void (on = o) };
}

t.test('the pending listing reads the open approvals, not every approval kept', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-listing-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const counted = countingStore(createMemoryStore());
  let clock = Date.parse('2026-12-01T01:00:00Z');
  const config = parseApprovalConfig({ stepUpTimeoutSeconds: 60, pollMs: 60_000 });
  const service = createApprovalService({
    config,
    store: counted.store,
    sealer: createKeyProviderSealer(await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') })),
    auditor,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    now: () => clock,
  });
  t.teardown(async () => {
    await service.close();
    await counted.store.close();
  });
  const ask = (botId: string, qty: number) =>
    service.request({
      botId,
      account: 'acct',
      apiId: 'kt10000',
      body: { stk_cd: '005930', ord_qty: String(qty) },
      owner: 'alice',
      score: 0.8,
      level: 'step_up',
    });

  const KEPT = 300;
  for (let i = 0; i < KEPT; i++) {
    await ask(`bot${i % 50}`, i + 1);
    clock += 61_000; // nobody decided it: timed out, kept for retention
  }
  const open = [await ask('bot-a', 1), await ask('bot-b', 2)];

  counted.counting(true);
  const pending = await service.list({ status: 'pending' });
  counted.counting(false);
  t.same(pending.map((v) => v.id).sort(), open.map((o) => o.id).sort(), 'the two open approvals are listed');
  t.ok(pending.every((v) => v.status === 'pending'));
  t.ok(counted.reads() < 30, `the pending listing made ${counted.reads()} Store reads for 2 open approvals among ${KEPT + 2} kept`);

  // The other listings still see every approval kept, with its status.
  const all = await service.list();
  t.equal(all.length, KEPT + 2, 'the full listing names every approval kept');
  t.equal(all.filter((v) => v.status === 'timeout').length, KEPT, 'the undecided ones read as timed out');
  t.same(
    (await service.list({ botId: 'bot-a' })).map((v) => v.id),
    [open[0]!.id],
    'a bot filter still works',
  );
  t.equal((await service.list({ status: 'timeout', botId: 'bot7' })).length, KEPT / 50, 'status and bot together');
  t.equal((await service.list({ status: 'pending', botId: 'bot-b' }))[0]?.id, open[1]!.id, 'pending and bot together');

  // Timed out: no longer pending, though still in the open set until a request prunes it.
  clock += 61_000;
  t.same(await service.list({ status: 'pending' }), [], 'an approval that timed out leaves the pending listing');
});
