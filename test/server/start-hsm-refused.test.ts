// A PKCS#11 token (SoftHSM) that answers no at start must stop the start with
// a clear message, never be retried in the background: a wrong PIN retried
// would lock the HSM user (CKR_PIN_LOCKED) for every replica. The same for a
// wrong key label. (Passes before and after the KMS start-unready change;
// locks in that it did not widen to PKCS#11 refusals.)
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHarness } from '../helpers/harness.js';
import { createSoftHsmToken } from '../helpers/softhsm.js';

const dir = await mkdtemp(path.join(tmpdir(), 'kguard-hsm-start-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const token = await createSoftHsmToken(dir);
const badPin = path.join(dir, 'bad.pin');
await writeFile(badPin, '0000-wrong\n', { mode: 0o600 });

const refused = async (pkcs11: Record<string, unknown>) => {
  try {
    const h = await startHarness({ config: { vault: { provider: 'pkcs11', pkcs11: { module: token.module, tokenLabel: token.tokenLabel, ...pkcs11 } } } });
    await h.close();
    return 'started';
  } catch (err) {
    return (err as Error).message;
  }
};

t.test('a PKCS#11 refusal stops the start', async (t) => {
  t.match(await refused({ pinFile: badPin, keyLabel: token.keyLabel }), /KG4001.*login failed.*CKR_PIN_INCORRECT/, 'a wrong PIN stops the start, named');
  t.match(await refused({ pinFile: token.pinFile, keyLabel: 'no-such-key' }), /KG4005.*key not found/, 'a wrong key label stops the start, named');
});
