// The HSM drops every session (restart, network HSM failover) while calls are
// in flight: the provider recovers with one fresh session, and opens no more
// sessions than it keeps (each one left open is held by the token until the
// process exits; HSM partitions cap how many a client may hold).
import t from 'tap';
import pkcs11js from 'pkcs11js';
import { createPkcs11KeyProvider } from '../../proxy/vault/pkcs11-provider.js';
import { createSoftHsmToken } from '../helpers/softhsm.js';
import { capturingLogger, tempDir } from '../helpers/vault-fixtures.js';

const hsmDir = await tempDir(t, 'kguard-hsm-');
const token = await createSoftHsmToken(hsmDir);

t.test('after the token drops its sessions, concurrent calls recover on one new session', async (t) => {
  const { logger } = capturingLogger();
  const p = await createPkcs11KeyProvider({ module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, keyLabel: token.keyLabel, logger });
  const ctx = { botId: 'b', account: 'a', keyVersion: '1', createdAt: 'c' };
  const { plaintext, wrapped } = await p.generateDataKey(ctx);

  // The same module instance as the provider's (one per process): it sees the provider's sessions.
  const lib = new pkcs11js.PKCS11();
  lib.load(token.module);
  try {
    lib.C_Initialize();
  } catch (err) {
    if ((err as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw err;
  }
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.tokenLabel)!;
  /** Session handles the token still holds open (SoftHSM numbers handles from 1). */
  const openSessions = (): number => {
    let n = 0;
    for (let h = 1; h <= 5_000; h++) {
      const handle = Buffer.alloc(8);
      handle.writeBigUInt64LE(BigInt(h));
      try {
        lib.C_GetSessionInfo(handle);
        n++;
      } catch {
        // not an open session
      }
    }
    return n;
  };
  t.equal(openSessions(), 1, 'one session while serving');

  for (let round = 0; round < 3; round++) {
    lib.C_CloseAllSessions(slot); // the HSM restarted
    const unwrapped = await Promise.all(Array.from({ length: 8 }, () => p.unwrap(wrapped, ctx)));
    t.ok(
      unwrapped.every((k) => k.equals(plaintext)),
      `round ${round}: every call recovered`,
    );
    t.equal(openSessions(), 1, `round ${round}: still one session`);
  }
  await p.close();
  t.equal(openSessions(), 0, 'no session left open after close');
});
