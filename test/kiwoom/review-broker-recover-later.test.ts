// One process on memory state (the embedded default) keeps its broker tokens
// in the file ledger. Killed (kill -9, OOM, power loss), the next process
// revokes what it left before it serves; when Kiwoom cannot revoke then (down,
// maintenance), the entry is "kept for the next attempt". The next attempt is
// the periodic sweep, which found the entry live with no leased value in the
// (new, empty) memory store and took it for a token already gone: it dropped
// the entry without a revoke, and the token stayed live at Kiwoom, untracked,
// until its expiry (about a day). It must be revoked once Kiwoom answers.
import t from 'tap';
import path from 'node:path';
import { startSimulator } from '../../proxy/sim/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import { waitFor } from '../helpers/harness.js';
import { captureLogger } from '../helpers/log-capture.js';
import { leaveToken, restartedProcess, simClient } from '../helpers/leftover-world.js';

const APP = { appKey: 'RECOVERlaterAPPkey1a2b3c4d5e', secretKey: 'RECOVERlaterSECRETkey6f5e4d3c2b1a' };
const KEY = 'recoverlaterkey';

t.test('a leftover token whose revoke failed at start is revoked by a later sweep, not forgotten', async (t) => {
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  sim.registerApp({ ...APP, accountNo: '7000333344', cash: 1_000_000, holdings: [] });
  const dataDir = t.testdir({});
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
  const client = simClient(sim.url, 2);
  t.teardown(() => client.close());
  const creds = () => ({ appKey: Buffer.from(APP.appKey), secretKey: Buffer.from(APP.secretKey) });

  // What the killed process left: a token live at Kiwoom, recorded (sealed) in the ledger file.
  const issued = await client.issueToken(creds());
  await leaveToken(dataDir, provider, { key: KEY, botId: 'bot-left', token: issued.token, expiresAt: issued.expiresAt.getTime() });
  issued.token.fill(0);
  t.equal(sim.liveTokens(), 1, 'a token is live at Kiwoom');

  // The next process: a new memory store, the same ledger file.
  const { sessions, ledger } = await restartedProcess(t, dataDir, provider, {
    keyOf: async () => KEY,
    issue: () => client.issueToken(creds()),
    revoke: (_bot, token) => client.revokeToken(creds(), token),
  });

  // Kiwoom fails every revoke while the process starts: the entry is kept.
  sim.faults.set({ revokeFailNext: 1_000 });
  t.equal(await sessions.recover(), 0, 'nothing revoked at start: Kiwoom failed the revokes');
  t.equal((await ledger.entries()).length, 1, 'the entry is kept for the next attempt');
  t.equal(sim.liveTokens(), 1, 'the token is still live at Kiwoom');

  // Kiwoom answers again; the sweeps run (every sweepIntervalMs in a server) until the entry is settled.
  sim.faults.clear();
  await waitFor(
    async () => {
      await sessions.sweep();
      return (await ledger.entries()).length === 0;
    },
    20_000,
    'a sweep to settle the leftover entry',
  );
  t.equal(sim.liveTokens(), 0, 'the leftover token was revoked before its entry went');
});

t.test('a leftover that had expired is forgotten, and the log does not say it was revoked', async (t) => {
  const dataDir = t.testdir({});
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
  await leaveToken(dataDir, provider, { key: KEY, botId: 'bot-left', token: Buffer.from('an-expired-token'), expiresAt: Date.now() - 60_000 });
  const { lines, logger } = captureLogger();
  let revokes = 0;
  const { sessions, ledger } = await restartedProcess(t, dataDir, provider, {
    logger,
    revoke: async () => {
      revokes++;
      return undefined;
    },
  });
  t.equal(await sessions.recover(), 1, 'the entry is settled');
  t.equal(revokes, 0, 'nothing to revoke: it had expired');
  t.equal((await ledger.entries()).length, 0, 'and its entry is gone');
  t.match(lines, [{ outcome: 'expired', msg: /^forgot a broker token left by a previous process: it had expired/ }]);
  t.notOk(
    lines.some((l) => String(l.msg).startsWith('revoked')),
    'no line says it was revoked',
  );
});
