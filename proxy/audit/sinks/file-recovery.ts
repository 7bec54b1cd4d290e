// Crash recovery for the file sink: on open, the log since the last signed
// checkpoint is re-walked to find the chain head and any torn final write.
// Kept apart from the writer (file.ts) because it only reads: it decides what
// the writer resumes from, and the writer does the sealing and appending.
import { open } from 'node:fs/promises';
import { GuardError } from '../../common/errors.js';
import { readCheckpointFile, type Checkpoint } from '../checkpoint.js';
import { listLogFiles, readLines, type LogFile } from '../logfiles.js';
import { GENESIS_HASH, type ChainHead } from '../record.js';
import { ChainWalker, type TornRegion } from '../walker.js';

export interface WalkedLog {
  /** The last intact record (genesis when the log is empty). */
  readonly head: ChainHead;
  /** The chain id (hash of record 1), as the checkpointer needs it. */
  readonly chain: string | undefined;
  readonly lastCheckpointSeq: number;
  /** The key that signs the next checkpoint: the last one's, or the key its hand-over names (none yet: undefined). */
  readonly lastCheckpointKeyId: string | undefined;
  /** Hashes of the records after the last checkpoint, to be covered by the next one. */
  readonly windowHashes: string[];
  /** The newest log file, if any. */
  readonly last: LogFile | undefined;
  /** Unsealed unreadable bytes at the end of the log (a crash's torn write). */
  readonly torn: TornRegion | undefined;
}

/** Walks the log from the last checkpoint; throws KG6001 when the chain is broken or was truncated. */
export async function walkLog(sinkId: string, dir: string, checkpointFile: string): Promise<WalkedLog> {
  // The last checkpoint bounds how much must be re-walked, and pins its head.
  const cpFile = await readCheckpointFile(checkpointFile);
  if (cpFile.tornTail) await truncateToLastNewline(checkpointFile);
  const lastCp = cpFile.checkpoints.reduce<Checkpoint | undefined>((a, c) => (!a || c.seq > a.seq ? c : a), undefined);

  const files = await listLogFiles(dir);
  let startIndex = 0;
  if (lastCp) {
    for (let i = 0; i < files.length; i++) if (files[i]!.firstSeq <= lastCp.seq) startIndex = i;
  }
  let chain = lastCp?.chain;
  let cpHeadSeen = false;
  const windowHashes: string[] = [];
  const walker = new ChainWalker({
    expectGenesis: true,
    ...(lastCp ? { fromSeq: lastCp.seq } : {}),
    onRecord: (r) => {
      if (r.seq === 1) chain = r.hash;
      if (lastCp && r.seq === lastCp.seq) {
        if (r.hash !== lastCp.head) throw new GuardError('KG6001', `${sinkId}: record ${r.seq} differs from its signed checkpoint; run kguard audit verify`);
        cpHeadSeen = true;
      } else {
        windowHashes.push(r.hash);
      }
    },
  });
  const toWalk = files.slice(startIndex);
  for (let f = 0; f < toWalk.length; f++) {
    const file = toWalk[f]!;
    let lineNo = 0;
    for await (const raw of readLines(file.path)) {
      if (!walker.line(raw, { file: file.name, line: ++lineNo, offset: raw.offset })) break;
    }
    if (!walker.endFile(f === toWalk.length - 1) || walker.error) break;
  }
  if (walker.error) {
    const e = walker.error;
    throw new GuardError('KG6001', `${sinkId}: log broken at ${e.file}:${e.line}${e.seq ? ` (seq ${e.seq})` : ''}: ${e.reason}; run kguard audit verify`);
  }
  if (lastCp && !cpHeadSeen) {
    throw new GuardError(
      'KG6001',
      `${sinkId}: log ends at seq ${walker.head?.seq ?? 0} but a signed checkpoint covers seq ${lastCp.seq}: the log was truncated`,
    );
  }
  return {
    head: walker.head ?? { seq: 0, hash: GENESIS_HASH },
    chain,
    lastCheckpointSeq: lastCp?.seq ?? 0,
    lastCheckpointKeyId: lastCp?.nextKeyId ?? lastCp?.keyId,
    windowHashes,
    last: toWalk[toWalk.length - 1],
    torn: walker.tornTail(),
  };
}

// A crash mid-append can leave half a checkpoint line: cut the file back to its last whole line.
async function truncateToLastNewline(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.min(size, 1 << 20));
    await fh.read(buf, 0, buf.length, size - buf.length);
    const nl = buf.lastIndexOf(0x0a);
    await fh.truncate(nl === -1 ? size - buf.length : size - buf.length + nl + 1);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
