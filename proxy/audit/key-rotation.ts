// Rotating the audit signing key without breaking the chain.
// `kguard audit rotate-signing-key` keeps the current key as
// `<signingKeyFile>.retiring` and puts a new one in its place. At the next
// start, each file sink, before signing anything with the new key, writes an
// `audit.key_rotated` record and a hand-over checkpoint covering it, signed by
// the retiring key and naming the new one (key-trust.ts is how verifiers
// follow it). Once every file sink has handed over, the retiring key is
// dropped and its file removed. Each step leaves a state the next start
// completes: see docs/auditing.md "Rotating the signing key".
import { link, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import { syncDir } from './checkpoint.js';
import { addToKeyHistory, keyHistoryFileFor } from './key-history.js';
import type { ExistingLog } from './key-continuity.js';
import { assertPrivateFile, generateSigningKeyFiles, publicKeyFileFor, publicKeyPem, readSigningKey, type SigningKeys } from './keys.js';

export function retiringKeyFileFor(signingKeyFile: string): string {
  return `${signingKeyFile}.retiring`;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

/** The retiring key of a pending rotation, if any (KG6003 if its file is unusable or the current key is missing). */
export async function loadRetiringKey(signingKeyFile: string): Promise<SigningKeys | undefined> {
  const file = retiringKeyFileFor(signingKeyFile);
  if (!(await exists(file))) return undefined;
  if (!(await exists(signingKeyFile))) {
    throw new GuardError(
      'KG6003',
      `${path.basename(file)} is there but ${path.basename(signingKeyFile)} is missing: restore the key it was rotated to (the rotation command never leaves this state)`,
    );
  }
  return readSigningKey(file);
}

/**
 * A rotation the sidecar completes at start. Each file sink asks `handoverFrom` once its log is walked and
 * reports `handedOver`; when all have, the retiring key is dropped and its file removed.
 */
export class PendingRotation {
  private retiring: SigningKeys | undefined;
  private readonly pending: Set<string>;

  constructor(
    retiring: SigningKeys,
    readonly next: SigningKeys,
    fileSinkIds: readonly string[],
    private readonly signingKeyFile: string,
    private readonly logger: Logger,
  ) {
    this.retiring = retiring;
    this.pending = new Set(fileSinkIds);
  }

  /** The key to sign this sink's hand-over with, or undefined when its log is already handed over. */
  handoverFrom(sinkId: string, lastCheckpointKeyId: string | undefined): SigningKeys | undefined {
    if (lastCheckpointKeyId === this.next.keyId || !this.pending.has(sinkId)) return undefined;
    const retiring = this.retiring;
    if (!retiring) return undefined;
    if (lastCheckpointKeyId !== undefined && lastCheckpointKeyId !== retiring.keyId) {
      throw new GuardError(
        'KG6003',
        `${sinkId}: the audit log is signed by key ${lastCheckpointKeyId}, neither the retiring key ${retiring.keyId} nor the new key ${this.next.keyId}`,
      );
    }
    return retiring;
  }

  async handedOver(sinkId: string): Promise<void> {
    if (!this.pending.delete(sinkId) || this.pending.size > 0) return;
    await this.finish();
  }

  /** Drops the retiring key and removes its file; records the new key in the history. Best effort on a read-only place. */
  async finish(): Promise<void> {
    const from = this.retiring?.keyId;
    this.retiring = undefined;
    this.pending.clear();
    const file = retiringKeyFileFor(this.signingKeyFile);
    try {
      await rm(file, { force: true });
      await syncDir(path.dirname(file));
    } catch (err) {
      this.logger.warn(
        { file, code: (err as NodeJS.ErrnoException).code },
        'the retiring audit signing key is no longer used but its file cannot be removed (read-only?): delete it',
      );
    }
    await addToKeyHistory(keyHistoryFileFor(this.signingKeyFile), this.next.publicKey, from).catch(() => undefined);
    this.logger.info({ from, to: this.next.keyId }, 'audit signing key rotated: every file sink handed over to the new key');
  }
}

/**
 * At start, with a retiring key present: the rotation to complete, or undefined when the retiring file is
 * a leftover of a rotate command interrupted before the new key was in place (then removed).
 */
export async function pendingRotation(
  retiring: SigningKeys,
  next: SigningKeys,
  fileSinkIds: readonly string[],
  signingKeyFile: string,
  logger: Logger,
): Promise<PendingRotation | undefined> {
  const rotation = new PendingRotation(retiring, next, fileSinkIds, signingKeyFile, logger);
  if (retiring.keyId === next.keyId) {
    logger.warn({ keyId: next.keyId }, 'an interrupted kguard audit rotate-signing-key left no new key: nothing rotated; run it again');
    await rotation.finish();
    return undefined;
  }
  if (fileSinkIds.length === 0) {
    await rotation.finish();
    return undefined;
  }
  return rotation;
}

export interface RotationResult {
  readonly previousKeyId: string;
  readonly keyId: string;
  readonly publicKeyPem: string;
  readonly publicKeyFile: string;
  readonly retiringKeyFile: string;
  readonly historyFile: string;
}

/**
 * `kguard audit rotate-signing-key`: keeps the current key as the retiring one and puts a new key in its
 * place. Refuses (KG6003) a pending rotation, a current key other than the one the logs are signed with,
 * and key files readable by others. Order: link current → .retiring, write .new, rename .new → current,
 * so a crash leaves either no rotation, a retiring file equal to the current key (removed at the next
 * start or rotate), or a complete pending rotation.
 */
export async function rotateSigningKey(signingKeyFile: string, hmacKeyFile: string, logs: readonly ExistingLog[]): Promise<RotationResult> {
  const name = path.basename(signingKeyFile);
  if (!(await exists(signingKeyFile))) throw new GuardError('KG6003', `${name} does not exist: nothing to rotate (kguard audit keygen creates it)`);
  const current = await readSigningKey(signingKeyFile);
  if (await exists(hmacKeyFile)) await assertPrivateFile(hmacKeyFile);
  const retiringFile = retiringKeyFileFor(signingKeyFile);
  if (await exists(retiringFile)) {
    const retiring = await readSigningKey(retiringFile);
    if (retiring.keyId !== current.keyId) {
      throw new GuardError(
        'KG6003',
        `a rotation is already pending (${path.basename(retiringFile)} is key ${retiring.keyId}, the new key ${current.keyId}): start the sidecar to complete it (or, if it did and could not delete the file, delete it) before rotating again`,
      );
    }
    await rm(retiringFile); // left by a rotation interrupted before the new key was in place
  }
  const other = logs.find((l) => l.signedBy !== undefined && l.signedBy !== current.keyId);
  if (other) {
    throw new GuardError(
      'KG6003',
      `${name} is key ${current.keyId}, but the audit log in ${other.dir} is signed by key ${other.signedBy}: a rotation pending or another key in place; start the sidecar with the key the log is signed with first`,
    );
  }
  const history = keyHistoryFileFor(signingKeyFile);
  await addToKeyHistory(history, current.publicKey);
  const staged = `${signingKeyFile}.new`;
  await rm(staged, { force: true });
  await link(signingKeyFile, retiringFile);
  await generateSigningKeyFiles(staged);
  await rm(publicKeyFileFor(staged), { force: true });
  const next = await readSigningKey(staged);
  await rename(staged, signingKeyFile);
  await syncDir(path.dirname(signingKeyFile));
  const pem = publicKeyPem(next.publicKey);
  await writeFile(publicKeyFileFor(signingKeyFile), pem, { mode: 0o644 });
  await addToKeyHistory(history, next.publicKey, current.keyId);
  return {
    previousKeyId: current.keyId,
    keyId: next.keyId,
    publicKeyPem: pem,
    publicKeyFile: publicKeyFileFor(signingKeyFile),
    retiringKeyFile: retiringFile,
    historyFile: history,
  };
}
