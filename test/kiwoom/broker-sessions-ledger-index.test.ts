// Two replicas' broker sessions on one Redis, in one process, against the
// simulator: the shared ledger index must keep naming a key while a token of
// it is live, or a peer's sweep cannot revoke that token once its holder dies.
// A replica that learns late that the key's previous token died ([8005] on a
// call that was in flight) must not drop the index entry of the token a peer
// issued since.
import t from 'tap';
import { waitFor } from '../helpers/harness.js';
import { brokerWorld as world, WORLD_KEY as KEY, WORLD_OPTS as OPTS } from '../helpers/broker-world.js';
import { exposureOf } from '../../proxy/kiwoom/session-metrics.js';

t.test("a replica's late [8005] on the previous token keeps the index entry of the token a peer issued since", async (t) => {
  const { sim, replica } = await world(t);
  const A = await replica('replica-a');
  const B = await replica('replica-b');

  // Both replicas have a call out on the key's token.
  const a1 = await A.sessions.acquire('bot-a');
  const b1 = await B.sessions.acquire('bot-b');
  t.equal(sim.stats().tokensIssued, 1, 'one token for the key');
  // Kiwoom ends it behind our back; A's call hears [8005] first and A issues afresh at once.
  t.equal(sim.revokeAll(), 1);
  a1.invalidate();
  a1.release();
  const a2 = await A.sessions.acquire('bot-a');
  t.equal(sim.stats().tokensIssued, 2, 'A issued the next token');
  t.not(a2.fingerprint, b1.fingerprint);
  // B's call, sent with the old token, hears [8005] only now.
  b1.invalidate();
  b1.release();
  // B has dropped the dead token once it has counted its exposure.
  await waitFor(async () => exposureOf(B.registry)?.secondsFor(KEY) !== undefined, 20_000, 'B dropped the dead token');
  t.same(
    (await B.ledger.entries()).map((e) => e.key),
    [KEY],
    'the index still names the key: a token of it is live',
  );

  // A dies holding the new token (its connection to shared state is gone; its lease lapses).
  await A.kill();
  await waitFor(
    async () => {
      await B.sessions.sweep();
      return sim.liveTokens() === 0;
    },
    20_000,
    "B's sweep revokes the token its dead peer held",
  );
  t.equal(sim.liveTokens(), 0);
  a2.release();
});

t.test('a retirement that outlived its claim keeps the index entry of the token issued after it', async (t) => {
  const { sim, replica } = await world(t);
  // A retirement's claim lasts max(issueLockTtlMs, leaseTtlMs): here 1 s.
  const opts = { ...OPTS, leaseTtlMs: 1_000, issueLockTtlMs: 1_000 };
  let openX = () => {};
  const xGate = new Promise<void>((r) => {
    openX = r;
  });
  let xRevoking = false;
  const X = await replica(
    'replica-x',
    async () => {
      xRevoking = true;
      await xGate;
    },
    opts,
  );
  let yRevoking = false;
  let openY = () => {};
  const yGate = new Promise<void>((r) => {
    openY = r;
  });
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
  (await X.sessions.acquire('bot-x')).release();
  await waitFor(() => xRevoking, 10_000, 'X claimed the retirement and asked Kiwoom to revoke');
  // X's claim lapses: Y's sweep claims the retirement again and revokes too (as slowly).
  const ySweeps: Promise<number>[] = [];
  await waitFor(
    () => {
      if (!yRevoking) ySweeps.push(Y.sessions.sweep());
      return yRevoking;
    },
    10_000,
    "Y's sweep took the lapsed retirement over",
  );
  // X's revoke is answered: X drops the token, and its next call issues the key's next token.
  openX();
  const x2 = await X.sessions.acquire('bot-x');
  t.equal(sim.stats().tokensIssued, 2, 'X issued the next token');
  // Only now is Y's revoke of the old token answered.
  openY();
  await Promise.all(ySweeps);
  t.same(
    (await Y.ledger.entries()).map((e) => e.key),
    [KEY],
    'the index still names the key: a token of it is live',
  );

  // X dies holding the new token (its connection to shared state is gone; its lease lapses).
  await X.kill();
  await waitFor(
    async () => {
      await Y.sessions.sweep();
      return sim.liveTokens() === 0;
    },
    20_000,
    "Y's sweep revokes the token its dead peer held",
  );
  t.equal(sim.liveTokens(), 0);
  x2.release();
});
