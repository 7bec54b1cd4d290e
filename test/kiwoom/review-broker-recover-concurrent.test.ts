// One process on memory state (the embedded default) keeps its broker tokens
// in the file ledger; killed, the next process revokes every token it left
// before its listener opens. It did so one key after another, each revoke
// retried with back-off (8 attempts: 11-23 s per key while Kiwoom fails
// them), so a single machine serving hundreds of keys that restarted during a
// Kiwoom outage stayed closed for hours, and even with Kiwoom answering it
// paid one round trip per key in turn. Keys are independent: their leftovers
// are revoked brokerTokens.recoverConcurrency at a time (default 16).
import t from 'tap';
import path from 'node:path';
import { startSimulator } from '../../proxy/sim/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import { waitFor } from '../helpers/harness.js';
import { leaveToken, restartedProcess, RESTART_OPTS, simClient } from '../helpers/leftover-world.js';

const KEYS = 4;
const app = (i: number) => ({ appKey: `RECOVERmanyAPPkey${i}a2b3c4d5e`, secretKey: `RECOVERmanySECRETkey${i}f5e4d3c2b1a` });

t.test('the leftovers of many keys are revoked concurrently at start', async (t) => {
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  for (let i = 0; i < KEYS; i++) sim.registerApp({ ...app(i), accountNo: `70004444${i}0`, cash: 1_000_000, holdings: [] });
  const dataDir = t.testdir({});
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
  const client = simClient(sim.url, 8);
  t.teardown(() => client.close());
  const creds = (botId: string) => {
    const a = app(Number(botId.slice('bot-left-'.length)));
    return { appKey: Buffer.from(a.appKey), secretKey: Buffer.from(a.secretKey) };
  };

  // What the killed process left: one live token per key, each recorded (sealed) in the ledger file.
  for (let i = 0; i < KEYS; i++) {
    const issued = await client.issueToken(creds(`bot-left-${i}`));
    await leaveToken(dataDir, provider, { key: `recoverkey${i}`, botId: `bot-left-${i}`, token: issued.token, expiresAt: issued.expiresAt.getTime() });
    issued.token.fill(0);
  }
  t.equal(sim.liveTokens(), KEYS, 'a token is live at Kiwoom for each key');

  // Kiwoom slow to answer revokes: each waits until released, so the revokes asked at once can be counted.
  let inFlight = 0;
  let most = 0;
  let release!: () => void;
  const slow = new Promise<void>((r) => {
    release = r;
  });
  const { sessions, ledger } = await restartedProcess(t, dataDir, provider, {
    opts: { ...RESTART_OPTS, issueLockTtlMs: 2_000 },
    revoke: async (botId, token) => {
      most = Math.max(most, ++inFlight);
      try {
        await slow;
        return await client.revokeToken(creds(botId), token);
      } finally {
        inFlight--;
      }
    },
  });

  const recovering = sessions.recover();
  const concurrent = await waitFor(() => inFlight >= 2, 10_000, 'a second revoke while the first waits').then(
    () => true,
    () => false,
  );
  release();
  t.equal(await recovering, KEYS, 'every leftover revoked');
  t.ok(concurrent, `the keys' revokes were asked at once (at most ${most} in flight)`);
  t.equal(sim.liveTokens(), 0, 'no token left live');
  t.equal((await ledger.entries()).length, 0, 'nor in the ledger');
});
