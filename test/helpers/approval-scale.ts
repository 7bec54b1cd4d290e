// An approval service over a Store whose calls a test counts (the scale
// reviews count Store reads rather than time them), on a clock the test moves.
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createApprovalService, createKeyProviderSealer, parseApprovalConfig } from '../../proxy/approval/index.js';
import type { ApprovalService } from '../../proxy/approval/types.js';
import type { Auditor } from '../../proxy/audit/types.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import type { Store } from '../../proxy/state/types.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';

const auditor: Auditor = {
  async append() {
    return { seq: 0, hash: '' };
  },
  async health() {},
  async close() {},
};

/** A memory Store whose calls `counts` picks (operation and arguments) are counted while `counting` is on. */
function countingStore(counts: (op: string, args: readonly unknown[]) => boolean): {
  store: Store;
  inner: Store;
  count: () => number;
  counting: (on: boolean) => void;
} {
  const inner = createMemoryStore();
  let n = 0;
  let on = true;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (on && counts(String(prop), args)) n++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, inner, count: () => n, counting: (o) => void (on = o) };
}

/** The service (step-up approvals time out after 60 s), its counted Store (`inner`: the same, uncounted) and the clock it reads (`clock.now`, ms). */
export async function countedApprovals(t: Test, counts: (op: string, args: readonly unknown[]) => boolean) {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-scale-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const counted = countingStore(counts);
  const clock = { now: Date.parse('2026-12-01T01:00:00Z') };
  const service: ApprovalService = createApprovalService({
    config: parseApprovalConfig({ stepUpTimeoutSeconds: 60, pollMs: 60_000 }),
    store: counted.store,
    sealer: createKeyProviderSealer(await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') })),
    auditor,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    now: () => clock.now,
  });
  t.teardown(async () => {
    await service.close();
    await counted.store.close();
  });
  return { service, clock, inner: counted.inner, count: counted.count, counting: counted.counting };
}
