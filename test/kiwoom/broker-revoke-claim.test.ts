// A replica whose revoke failed gives the token back (leaseRevive) only while
// the retirement is still its own. Two replicas on one Redis, in one process,
// against the simulator: X's revoke outlives its claim, Y's sweep takes the
// retirement over and revokes; X's revoke then fails. X must not make the
// token leasable again: a call would lease the very token Y is revoking.
import t from 'tap';
import { valueKey } from '../../proxy/kiwoom/session-sweep.js';
import { GuardError } from '../../proxy/common/errors.js';
import type { Store } from '../../proxy/state/index.js';
import { waitFor } from '../helpers/harness.js';
import { brokerWorld, WORLD_KEY as KEY, WORLD_OPTS } from '../helpers/broker-world.js';

/** Calls `seen` with what each leaseRevive / leaseTake of this Store answered. */
function spyOn(seen: (op: 'leaseRevive' | 'leaseTake', answer: unknown) => void) {
  return (store: Store): Store =>
    new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        if (prop !== 'leaseRevive' && prop !== 'leaseTake') return v.bind(target);
        return async (...args: unknown[]) => {
          const answer = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          seen(prop, answer);
          return answer;
        };
      },
    });
}

t.test('a revoke that failed after its claim was taken over does not revive the token the new claimant is revoking', async (t) => {
  const { sim, replica } = await brokerWorld(t);
  // A retirement's claim lasts max(issueLockTtlMs, leaseTtlMs): 1 s. X's next attempt would come far later.
  const opts = { ...WORLD_OPTS, leaseTtlMs: 1_000, issueLockTtlMs: 1_000 };
  let failX = () => {};
  let xFailed = false;
  const xGate = new Promise<void>((_, reject) => {
    failX = () => {
      xFailed = true;
      reject(new GuardError('KG5001', 'revoke refused: test'));
    };
  });
  xGate.catch(() => undefined);
  let xRevoking = false;
  const revives: unknown[] = [];
  const takes: unknown[] = [];
  const X = await replica(
    'replica-x',
    // Its first revoke is held, then refused; later ones go through.
    async () => {
      if (xFailed) return;
      xRevoking = true;
      await xGate;
    },
    { ...opts, revokeBaseDelayMs: 60_000, revokeMaxDelayMs: 60_000 },
    spyOn((op, answer) => (op === 'leaseRevive' ? revives : takes).push(answer)),
  );
  let openY = () => {};
  const yGate = new Promise<void>((r) => {
    openY = r;
  });
  let yRevoking = false;
  const Y = await replica(
    'replica-y',
    async () => {
      yRevoking = true;
      await yGate;
    },
    opts,
  );
  t.teardown(openY);

  // X's call ends and X retires the key's token; Kiwoom is slow to answer X's revoke.
  const x1 = await X.sessions.acquire('bot-x');
  const revokedFp = x1.fingerprint;
  x1.release();
  await waitFor(() => xRevoking, 10_000, 'X claimed the retirement and asked Kiwoom to revoke');
  // X's claim lapses: Y's sweep claims the retirement and asks Kiwoom too (answered later).
  const ySweeps: Promise<number>[] = [];
  await waitFor(
    () => {
      if (!yRevoking) ySweeps.push(Y.sessions.sweep());
      return yRevoking;
    },
    10_000,
    "Y's sweep took the lapsed retirement over",
  );

  // Kiwoom refuses X's revoke: X would give the token back.
  failX();
  await waitFor(() => revives.length > 0, 10_000, 'X gave up its attempt');
  t.equal(revives[0], false, "X's revive is refused: the retirement is Y's");
  t.equal((await Y.store.leasePeek(valueKey(KEY)))?.state, 'retiring', 'the token stays retiring while Y revokes it');

  // A call on X now: it must not lease the token Y is revoking.
  const takesBefore = takes.length;
  const x2Pending = X.sessions.acquire('bot-x');
  await waitFor(() => takes.slice(takesBefore).some((v) => v !== null), 10_000, "X's call looked at the key's token");
  openY();
  await Promise.all(ySweeps);
  const x2 = await x2Pending;
  t.not(x2.fingerprint, revokedFp, 'the call holds the next token, not the one Y revoked');
  t.equal(sim.liveTokens(), 1, 'the token the call holds is live at Kiwoom');
  x2.release();
  await waitFor(() => sim.liveTokens() === 0, 10_000, 'the next token revoked once the call ended');
});
