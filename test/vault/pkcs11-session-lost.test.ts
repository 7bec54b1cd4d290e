// The HSM drops every session (restart, network HSM failover) while calls are
// in flight: the provider recovers with one fresh session, and opens no more
// sessions than it keeps (each one left open is held by the token until the
// process exits; HSM partitions cap how many a client may hold).
import t from 'tap';
import { chmod } from 'node:fs/promises';
import pkcs11js from 'pkcs11js';
import { createPkcs11KeyProvider } from '../../proxy/vault/pkcs11-provider.js';
import { createSoftHsmToken } from '../helpers/softhsm.js';
import { capturingLogger, tempDir } from '../helpers/vault-fixtures.js';

const hsmDir = await tempDir(t, 'kguard-hsm-');
const token = await createSoftHsmToken(hsmDir);

// The same module instance as the providers' (one per process): it sees their sessions.
const lib = new pkcs11js.PKCS11();
lib.load(token.module);
try {
  lib.C_Initialize();
} catch (err) {
  if ((err as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw err;
}
const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.tokenLabel)!;
/** Session handles the token still holds open (SoftHSM numbers handles from 1). */
function openSessions(): number {
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
}
const ctx = { botId: 'b', account: 'a', keyVersion: '1', createdAt: 'c' };

t.test('after the token drops its sessions, concurrent calls recover on one new session', async (t) => {
  const { logger } = capturingLogger();
  const p = await createPkcs11KeyProvider({ module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, keyLabel: token.keyLabel, logger });
  const { plaintext, wrapped } = await p.generateDataKey(ctx);

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

t.test('reconnecting while the PIN file cannot be read fails closed and opens no session', async (t) => {
  const { logger } = capturingLogger();
  const p = await createPkcs11KeyProvider({ module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, keyLabel: token.keyLabel, logger });
  t.teardown(() => p.close());
  const { plaintext, wrapped } = await p.generateDataKey(ctx);
  lib.C_CloseAllSessions(slot); // the HSM restarted
  await chmod(token.pinFile, 0o644); // and the PIN file was left readable by others
  for (let i = 0; i < 5; i++) await t.rejects(p.unwrap(wrapped, ctx), { code: 'KG4007' });
  t.equal(openSessions(), 0, 'no session opened by the refused reconnects');
  await chmod(token.pinFile, 0o600);
  t.ok((await p.unwrap(wrapped, ctx)).equals(plaintext), 'recovers once the PIN file is fixed');
  t.equal(openSessions(), 1);
});
