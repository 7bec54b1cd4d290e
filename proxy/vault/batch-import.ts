// Importing many credential records at once (bulk provisioning): one data key
// and one envelope seal per record (unavoidable: every record has its own
// data key), the sealed files written concurrently and linked into place
// without replacing any record (common/fsutil createFilesExclusive: no
// per-record rename + directory fsync, one directory fsync for the batch).
// All or none: a record that appeared meanwhile, or any write failure, removes
// every record this batch created and nothing is left half-imported.
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { GuardError } from '../common/errors.js';
import { createFilesExclusive, forEachLimited } from '../common/fsutil.js';
import type { KeyIndex } from './key-index.js';
import { recordMeta, serializeRecord } from './records.js';
import { newRecordBase, type RecordSealer } from './seal-record.js';
import type { CredentialMeta } from './types.js';

export interface BatchCredentialInput {
  botId: string;
  account: string;
  /** The caller wipes both after the call. */
  appKey: Buffer;
  secretKey: Buffer;
}

export interface BatchImportDeps {
  readonly credDir: string;
  readonly sealer: RecordSealer;
  readonly fingerprint: (appKey: Buffer) => string;
  readonly validateInput: (input: BatchCredentialInput) => void;
  readonly invalidate: (botId: string) => void;
  readonly existing: () => Promise<Set<string>>;
  /** Told of each record's app key before the records are written (entries of a refused batch stay: key-index.ts). */
  readonly keyIndex: Pick<KeyIndex, 'add'>;
  readonly assertOpen: () => void;
  readonly writes: Counter<'op'>;
  readonly logger: Logger;
  /** Seals in flight at once (a KMS provider makes one GenerateDataKey call per record). */
  readonly sealConcurrency: number;
}

export function createBatchImport(d: BatchImportDeps): (inputs: readonly BatchCredentialInput[]) => Promise<CredentialMeta[]> {
  return async (inputs) => {
    d.assertOpen();
    const seen = new Set<string>();
    for (const i of inputs) {
      d.validateInput(i);
      if (seen.has(i.botId)) throw new GuardError('KG4006', `bot ${i.botId} appears twice in the batch`);
      seen.add(i.botId);
    }
    const present = await d.existing();
    const clash = inputs.find((i) => present.has(i.botId));
    if (clash) throw new GuardError('KG4008', `bot ${clash.botId}: use rotate to replace keys`);
    const now = new Date().toISOString();
    const files: { name: string; data: Buffer }[] = new Array(inputs.length);
    const metas: CredentialMeta[] = new Array(inputs.length);
    await forEachLimited(inputs, d.sealConcurrency, async (input, idx) => {
      const record = await d.sealer.sealNewRecord(newRecordBase(input.botId, input.account, d.fingerprint(input.appKey), now), input);
      files[idx] = { name: `${input.botId}.json`, data: serializeRecord(record) };
      metas[idx] = recordMeta(record);
    });
    await forEachLimited(metas, d.sealConcurrency, (m) => d.keyIndex.add(m.appKeyFingerprint, m.botId));
    try {
      await createFilesExclusive(d.credDir, files);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new GuardError('KG4008', 'a record of the batch was created meanwhile; nothing was imported');
      throw err;
    } finally {
      for (const i of inputs) d.invalidate(i.botId);
    }
    d.writes.inc({ op: 'import' }, inputs.length);
    d.logger.info({ records: inputs.length }, 'credentials imported (batch)');
    return metas;
  };
}
