// The audit keys outlive any one process, as the log does. A missing key file
// is created only for a fresh log: a new signing key beside a log with signed
// checkpoints leaves every later checkpoint unverifiable against the key the
// auditors hold, and a new HMAC key leaves earlier keyed hashes unsearchable.
// So a lost or swapped key stops the start (KG6003) with what the log needs.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { GuardError } from '../common/errors.js';
import { readCheckpointFile } from './checkpoint.js';
import { listLogFiles, LOCAL_CHECKPOINT_FILE } from './logfiles.js';

/** What a file sink's directory already holds. */
export interface ExistingLog {
  readonly dir: string;
  /** Key id that signs the log's next checkpoint: the newest checkpoint's, or the key its hand-over names. */
  readonly signedBy?: string;
}

/** The file sink directories that already hold records or checkpoints. */
export async function existingLogs(dirs: readonly string[]): Promise<ExistingLog[]> {
  const found: ExistingLog[] = [];
  for (const dir of dirs) {
    try {
      const { checkpoints } = await readCheckpointFile(path.join(dir, LOCAL_CHECKPOINT_FILE));
      const newest = checkpoints.reduce<(typeof checkpoints)[number] | undefined>((a, c) => (!a || c.seq > a.seq ? c : a), undefined);
      if (newest)
        found.push({ dir, signedBy: newest.nextKeyId ?? newest.keyId }); // after a hand-over: the key it names
      else if ((await listLogFiles(dir)).some((f) => f.size > 0)) found.push({ dir });
    } catch {
      // Unreadable: that sink reports itself down when it opens.
    }
  }
  return found;
}

async function missing(file: string): Promise<boolean> {
  return stat(file).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
  );
}

const MOVE_ASIDE = 'to start a new log instead, move the old one (and its checkpoints) away first';

/** Throws KG6003 when a key file the existing log depends on is missing (it would otherwise be created afresh). */
export async function refuseNewKeysForExistingLog(logs: readonly ExistingLog[], signingKeyFile: string, hmacKeyFile: string): Promise<void> {
  const log = logs[0];
  if (!log) return;
  const signed = logs.find((l) => l.signedBy !== undefined);
  if (signed && (await missing(signingKeyFile))) {
    throw new GuardError(
      'KG6003',
      `${path.basename(signingKeyFile)} is missing, but the audit log in ${signed.dir} is signed by key ${signed.signedBy}: restore that key (audit.signingKeyFile); a new key would leave the log unverifiable against the key auditors hold; ${MOVE_ASIDE}`,
    );
  }
  if (await missing(hmacKeyFile)) {
    throw new GuardError(
      'KG6003',
      `${path.basename(hmacKeyFile)} is missing, but ${log.dir} already holds an audit log whose keyed hashes it made: restore that key (audit.hmacKeyFile); a new key would leave earlier records unsearchable; ${MOVE_ASIDE}`,
    );
  }
}

/**
 * Throws KG6003 when the configured signing key is not the one the existing log's checkpoints are signed with
 * (or, during a rotation, the retiring key it hands over from).
 */
export function assertLogSignedBy(logs: readonly ExistingLog[], keyId: string, signingKeyFile: string, retiringKeyId?: string): void {
  const other = logs.find((l) => l.signedBy !== undefined && l.signedBy !== keyId && l.signedBy !== retiringKeyId);
  if (!other) return;
  const rotating =
    retiringKeyId !== undefined && retiringKeyId !== keyId ? ` and the retiring key (${path.basename(signingKeyFile)}.retiring) is key ${retiringKeyId}` : '';
  throw new GuardError(
    'KG6003',
    `${path.basename(signingKeyFile)} is key ${keyId}${rotating}, but the audit log in ${other.dir} is signed by key ${other.signedBy}: configure that key (audit.signingKeyFile), or rotate with kguard audit rotate-signing-key; ${MOVE_ASIDE}`,
  );
}
