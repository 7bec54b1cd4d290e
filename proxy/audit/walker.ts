// Walks a log's lines in order and checks the chain: each record's own hash,
// seq continuity, the prev link, and that any unreadable bytes are sealed by
// the recovery record that follows them. Shared by `verify` and by the file
// sink when it resumes a chain after a restart.
import { createHash } from 'node:crypto';
import type { RawLine } from './logfiles.js';
import { GENESIS_HASH, parseRecordLine, type AuditRecord, type ChainHead } from './record.js';

const MAX_TORN_BYTES = 16 * 1024 * 1024;

export interface Location {
  readonly file: string;
  /** 1-based line number within the file. */
  readonly line: number;
  readonly offset: number;
}

export interface WalkError extends Location {
  /** The sequence number the bad record has, or should have had. */
  readonly seq: number | undefined;
  readonly reason: string;
}

export interface TornRegion extends Location {
  readonly bytes: Buffer;
  readonly reason: string;
}

export interface WalkerOptions {
  /** Require the first record to be seq 1 with the genesis prev hash. */
  readonly expectGenesis: boolean;
  /** Ignore records below this seq and don't check the first kept record's prev link. */
  readonly fromSeq?: number;
  readonly onRecord?: (record: AuditRecord, at: Location) => void;
}

export function tornSealData(bytes: Buffer): { tornBytes: number; tornSha256: string } {
  return { tornBytes: bytes.length, tornSha256: createHash('sha256').update(bytes).digest('hex') };
}

export class ChainWalker {
  head: ChainHead | undefined;
  records = 0;
  error: WalkError | undefined;
  private region: { at: Location; chunks: Buffer[]; length: number; reason: string } | undefined;

  constructor(private readonly opts: WalkerOptions) {}

  private fail(at: Location, seq: number | undefined, reason: string): false {
    this.error = { ...at, seq, reason };
    return false;
  }

  /** Feeds one line; returns false once the chain is broken (see `error`). */
  line(raw: RawLine, at: Location): boolean {
    if (this.error) return false;
    const parsed = raw.bytes.length === 0 ? ({ ok: false, reason: 'empty line' } as const) : parseRecordLine(raw.bytes.toString('utf8'));
    if (!parsed.ok) {
      const chunk = Buffer.from(raw.terminated ? Buffer.concat([raw.bytes, Buffer.from('\n')]) : raw.bytes);
      if (!this.region) this.region = { at, chunks: [], length: 0, reason: parsed.reason };
      this.region.chunks.push(chunk);
      this.region.length += chunk.length;
      if (this.region.length > MAX_TORN_BYTES) return this.fail(this.region.at, this.expectedSeq(), `unreadable data: ${this.region.reason}`);
      return true;
    }
    const record = parsed.record;
    if (this.opts.fromSeq !== undefined && this.head === undefined && record.seq < this.opts.fromSeq) {
      this.region = undefined;
      return true;
    }
    if (this.region) {
      const region = this.region;
      this.region = undefined;
      if (record.type !== 'recovery') return this.fail(region.at, this.expectedSeq(), `unreadable record: ${region.reason}`);
      if (!sealMatches(Buffer.concat(region.chunks), record.data)) {
        return this.fail(at, record.seq, 'recovery record does not match the unreadable bytes before it');
      }
    }
    if (this.head === undefined) {
      if (this.opts.fromSeq === undefined && this.opts.expectGenesis && (record.seq !== 1 || record.prev !== GENESIS_HASH)) {
        return this.fail(
          at,
          record.seq,
          record.seq !== 1
            ? `log starts at seq ${record.seq}, not 1: records 1..${record.seq - 1} are missing (deleted file?)`
            : 'first record does not link to the genesis hash',
        );
      }
    } else {
      if (record.seq <= this.head.seq) {
        return this.fail(at, record.seq, `seq ${record.seq} after seq ${this.head.seq}: records reordered or duplicated`);
      }
      if (record.seq !== this.head.seq + 1) {
        return this.fail(at, record.seq, `seq gap: records ${this.head.seq + 1}..${record.seq - 1} are missing`);
      }
      if (record.prev !== this.head.hash) {
        return this.fail(at, record.seq, 'prev hash does not match the previous record (a record was edited, removed or inserted)');
      }
    }
    this.head = { seq: record.seq, hash: record.hash };
    this.records++;
    this.opts.onRecord?.(record, at);
    return true;
  }

  /** Call at the end of each file. Unreadable bytes may only trail the last file. */
  endFile(isLastFile: boolean): boolean {
    if (this.error) return false;
    if (this.region && !isLastFile) {
      return this.fail(this.region.at, this.expectedSeq(), `unreadable record before the end of a rotated file: ${this.region.reason}`);
    }
    return true;
  }

  /** Unsealed unreadable bytes at the end of the log (a crash's torn write). */
  tornTail(): TornRegion | undefined {
    if (!this.region) return undefined;
    return { ...this.region.at, bytes: Buffer.concat(this.region.chunks), reason: this.region.reason };
  }

  private expectedSeq(): number | undefined {
    return this.head ? this.head.seq + 1 : undefined;
  }
}

/** The sealer appends one newline after an unterminated torn tail; the seal covers the bytes before it. */
function sealMatches(region: Buffer, data: Record<string, unknown>): boolean {
  const candidates = [region];
  if (region.length > 0 && region[region.length - 1] === 0x0a) candidates.push(region.subarray(0, region.length - 1));
  return candidates.some((c) => {
    const seal = tornSealData(c);
    return data.tornBytes === seal.tornBytes && data.tornSha256 === seal.tornSha256;
  });
}
