// Log file layout: <dir>/audit-<first seq, 16 digits>.jsonl, rotated by size
// or age; the chain continues across files. Lines are read as raw bytes so
// torn or non-UTF-8 tails can be hashed exactly.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const LOG_NAME = /^audit-(\d{16})\.jsonl$/;
export const LOCAL_CHECKPOINT_FILE = 'checkpoints.jsonl';

export function logFileName(firstSeq: number): string {
  return `audit-${String(firstSeq).padStart(16, '0')}.jsonl`;
}

export interface LogFile {
  readonly path: string;
  readonly name: string;
  /** The sequence number in the name: the first record the file was opened for. */
  readonly firstSeq: number;
  readonly size: number;
}

export async function listLogFiles(dir: string): Promise<LogFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: LogFile[] = [];
  for (const name of names) {
    const m = LOG_NAME.exec(name);
    if (!m) continue;
    const p = path.join(dir, name);
    const st = await stat(p);
    if (st.isFile()) files.push({ path: p, name, firstSeq: Number(m[1]), size: st.size });
  }
  return files.sort((a, b) => a.firstSeq - b.firstSeq);
}

export interface RawLine {
  /** The line's bytes without the newline. Valid only until the next iteration. */
  readonly bytes: Buffer;
  readonly offset: number;
  /** Whether a newline ended it (false only for a final, torn line). */
  readonly terminated: boolean;
}

const NL = 0x0a;

/** Lines in batches (one per read chunk): far fewer async steps than one per line. */
export async function* readLineBatches(file: string, start = 0): AsyncGenerator<RawLine[]> {
  let carry: Buffer | undefined;
  let carryOffset = start;
  const stream = createReadStream(file, { start, highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
    const base = carryOffset;
    carry = undefined;
    const batch: RawLine[] = [];
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(NL, pos);
      if (nl === -1) break;
      batch.push({ bytes: buf.subarray(pos, nl), offset: base + pos, terminated: true });
      pos = nl + 1;
    }
    if (pos < buf.length) carry = Buffer.from(buf.subarray(pos));
    carryOffset = base + pos;
    if (batch.length > 0) yield batch;
  }
  if (carry && carry.length > 0) yield [{ bytes: carry, offset: carryOffset, terminated: false }];
}

export async function* readLines(file: string, start = 0): AsyncGenerator<RawLine> {
  for await (const batch of readLineBatches(file, start)) yield* batch;
}
