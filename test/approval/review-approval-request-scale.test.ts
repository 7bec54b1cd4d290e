// Every held call asks for an approval, and each request pruned the approval
// index by reading all of it (every approval kept for retention) and every
// record it names: with 20,000 kept, 130-150 ms on each held call on a local
// Redis (bench/approvals.ts), and a day's Redis traffic growing with the square
// of its approvals. The prune is now amortised: one in ceil(size / 8) requests
// reads the index. It must stay bounded all the same: records that expired
// leave the index within that many requests. Counted as Store reads.
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
import { K } from '../../proxy/approval/records.js';

const auditor: Auditor = {
  async append() {
    return { seq: 0, hash: '' };
  },
  async health() {},
  async close() {},
};

/** The store, counting the whole-index reads (HGETALL of the approval index) made through it. */
function countingStore(inner: Store): { store: Store; indexReads: () => number } {
  let n = 0;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (prop === 'hgetall' && args[0] === K.index) n++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, indexReads: () => n };
}

t.test('an approval request does not read the whole index each time, and the index stays bounded', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-request-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const inner = createMemoryStore();
  const counted = countingStore(inner);
  let clock = Date.parse('2026-12-01T01:00:00Z');
  const service = createApprovalService({
    config: parseApprovalConfig({ stepUpTimeoutSeconds: 60, pollMs: 60_000 }),
    store: counted.store,
    sealer: createKeyProviderSealer(await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') })),
    auditor,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    now: () => clock,
  });
  t.teardown(async () => {
    await service.close();
    await inner.close();
  });
  const ids: string[] = [];
  const ask = async (i: number) => {
    ids.push(
      (await service.request({ botId: `bot${i % 50}`, account: 'acct', apiId: 'kt10000', body: { ord_qty: String(i) }, score: 0.8, level: 'step_up' })).id,
    );
    clock += 61_000; // undecided: timed out, kept for retention
  };

  const KEPT = 400;
  for (let i = 0; i < KEPT; i++) await ask(i);
  const before = counted.indexReads();
  const MORE = 40;
  for (let i = 0; i < MORE; i++) await ask(KEPT + i);
  t.ok(counted.indexReads() - before <= 1, `${MORE} requests among ${KEPT} kept read the whole index ${counted.indexReads() - before} times`);

  // Their retention ran out: the records are gone (as Redis expires them), the index fields not yet.
  for (const id of ids) await inner.del(K.rec(id));
  const fresh: string[] = [];
  const size = Object.keys(await inner.hgetall(K.index)).length;
  // Within ceil(size / 8) requests a prune runs and drops every field whose record went.
  for (let i = 0; i < Math.ceil(size / 8) + 1; i++) {
    await ask(1_000 + i);
    fresh.push(ids.at(-1)!);
  }
  const left = Object.keys(await inner.hgetall(K.index));
  t.ok(
    left.every((id) => fresh.includes(id)),
    `the index names only approvals still kept (${left.length} fields, ${left.filter((id) => !fresh.includes(id)).length} gone)`,
  );
});
