// A replica that dies leaves every broker token it held to a peer's sweep once
// its leases lapse (brokerTokens.leaseTtlMs). The sweep went through the keys
// one after another, each waiting for Kiwoom's answer to its revoke and, while
// Kiwoom failed it, for every retry (8 attempts: 11-23 s of back-off alone): a
// replica of a service with many keys was followed by a peer that revoked its
// tokens one round trip at a time (20 keys at 0.5 s a revoke: the last 26 s
// after the kill, where leaseTtlMs + sweepIntervalMs promise about 20 s), and
// one key whose revoke kept failing held back every other key's, every sweep.
// Keys are independent, as at start-up (recoverLeftovers): the sweep now takes
// them brokerTokens.recoverConcurrency at a time.
//
// Deterministic: the Store and the retirement are in-process stand-ins that
// answer at once, so once a retirement has been asked and the pending promise
// callbacks have run (one setImmediate), every key the sweep would take up at
// the same time has been asked too.
import t from 'tap';
import { pino } from 'pino';
import type { LedgerEntry, SessionLedger } from '../../proxy/kiwoom/session-ledger.js';
import { sweepOnce, type SweepContext } from '../../proxy/kiwoom/session-sweep.js';
import type { Store } from '../../proxy/state/index.js';
import { latch } from '../helpers/gates.js';

const KEYS = ['deadkeyslow', 'deadkey2', 'deadkey3'];
const turn = () => new Promise<void>((r) => setImmediate(r));

/** A sweep over sessions nobody holds (their replica died); `retire` stands in for the claim and Kiwoom's revoke. */
function sweepWorld(retire: (key: string) => Promise<boolean>, recoverConcurrency?: number) {
  const entries: LedgerEntry[] = KEYS.map((key) => ({ key, botId: `bot-${key}`, state: 'live', at: Date.now() - 60_000 }));
  const unheld = { version: 'v1', value: '{}', state: 'live' as const, leases: 0 };
  const store = { leasePeek: async () => unheld } as unknown as Store;
  const ledger = { entries: async () => entries } as unknown as SessionLedger;
  const fail = () => Promise.reject(new Error('not expected in this sweep'));
  const c: SweepContext = {
    store,
    ledger,
    governor: {} as SweepContext['governor'],
    replicaId: 'peer',
    fingerprintKey: Buffer.alloc(32, 1),
    logger: pino({ level: 'silent' }),
    issue: fail,
    opts: { issueLockTtlMs: 15_000, revokeAttempts: 8, ...(recoverConcurrency ? { recoverConcurrency } : {}) },
    metrics: { orphans: { inc: () => undefined } } as unknown as SweepContext['metrics'],
    revokeWithRetry: fail,
    closing: () => false,
    startedAt: Date.now(),
    retireShared: (key) => retire(key),
  };
  return c;
}

t.test("one key's slow revoke does not hold back the other keys a dead replica left", async (t) => {
  const asked: string[] = [];
  const kiwoom = latch();
  const c = sweepWorld(async (key) => {
    asked.push(key);
    kiwoom.reached();
    if (key === 'deadkeyslow') await kiwoom.passed; // Kiwoom slow to answer (or the revoke retried with back-off)
    return true;
  });
  const sweeping = sweepOnce(c);
  await kiwoom.waiting;
  await turn();
  t.same([...asked].sort(), [...KEYS].sort(), `every unheld key asked while the first revoke waits (asked: ${asked.join(', ')})`);
  kiwoom.release();
  t.equal(await sweeping, KEYS.length, 'the sweep revoked every key');
});

t.test('at most brokerTokens.recoverConcurrency keys at a time', async (t) => {
  let inFlight = 0;
  let most = 0;
  const kiwoom = latch();
  const c = sweepWorld(async () => {
    most = Math.max(most, ++inFlight);
    try {
      await kiwoom.passed;
      return true;
    } finally {
      inFlight--;
    }
  }, 2);
  const sweeping = sweepOnce(c);
  // Bounded in turns, not time: a sweep that asks one key at a time never gets a second in flight.
  for (let i = 0; i < 20 && inFlight < 2; i++) await turn();
  await turn();
  t.equal(most, 2, 'two keys asked at once, not three');
  kiwoom.release();
  t.equal(await sweeping, KEYS.length, 'the third once a slot was free');
});
