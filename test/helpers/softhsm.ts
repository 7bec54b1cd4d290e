// A throwaway SoftHSM2 token for tests and the bench: its own config and
// token dir in a temp dir (SOFTHSM2_CONF), a user PIN in a 0600 file, and an
// AES-256 wrapping key generated inside the token (sensitive, non-extractable).
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createPkcs11WrappingKey } from '../../proxy/vault/pkcs11-provider.js';

const run = promisify(execFile);

export const SOFTHSM_MODULE = process.env.KGUARD_TEST_SOFTHSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  module: string;
  tokenLabel: string;
  pinFile: string;
  keyLabel: string;
  conf: string;
}

/**
 * Must run before the process first initialises the PKCS#11 module: SoftHSM
 * reads SOFTHSM2_CONF once, at C_Initialize.
 */
export async function createSoftHsmToken(dir: string, opts: { tokenLabel?: string; keyLabel?: string } = {}): Promise<SoftHsmToken> {
  const tokenDir = path.join(dir, 'tokens');
  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  const conf = path.join(dir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const tokenLabel = opts.tokenLabel ?? 'kguard-test';
  const pin = '4711-test-pin';
  await run('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--so-pin', '0000-so-pin', '--pin', pin], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
  });
  const pinFile = path.join(dir, 'hsm.pin');
  await writeFile(pinFile, `${pin}\n`, { mode: 0o600 });
  const keyLabel = opts.keyLabel ?? 'kguard-wrap';
  await createPkcs11WrappingKey({ module: SOFTHSM_MODULE, tokenLabel, pinFile, keyLabel });
  return { module: SOFTHSM_MODULE, tokenLabel, pinFile, keyLabel, conf };
}
