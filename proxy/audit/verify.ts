// Offline verification of a file sink's log: every record's hash, the chain
// across rotated files, sequence gaps and reordering, the torn-tail seals,
// and every signed checkpoint (signature, head hash, Merkle root, tiling)
// from the log's own checkpoint file and any independent copies, which is
// what catches truncation of the log's end.
import type { Stats } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { looksLikeCheckpoint, readCheckpointFile, type Checkpoint } from './checkpoint.js';
import { KEY_HISTORY_FILE, readKeyHistory } from './key-history.js';
import { KeyTrust, type Handover } from './key-trust.js';
import { loadPublicKey, PUBLIC_KEY_FILE } from './keys.js';
import { listLogFiles, readLineBatches, readLines, LOCAL_CHECKPOINT_FILE, type LogFile } from './logfiles.js';
import { merkleRoot } from './merkle.js';
import { parseRecordLine } from './record.js';
import { ChainWalker } from './walker.js';

export interface VerifyOptions {
  /** Start at this seq (skips older files; the first checked record's prev link is taken on trust). */
  readonly fromSeq?: number;
  /** Extra checkpoint copies: directories (all checkpoints*.jsonl inside) or files. */
  readonly checkpointSources?: readonly string[];
  /**
   * Trusted public key files (one, or several handed over out of band); default: audit-signing.pub beside
   * or above the log dir, with every key in the audit-signing-keys.jsonl history there.
   */
  readonly publicKeyFile?: string | readonly string[];
  readonly onProgress?: (p: { bytesDone: number; bytesTotal: number; records: number }) => void;
}

export interface VerifyFailure {
  readonly reason: string;
  readonly file?: string;
  readonly line?: number;
  readonly seq?: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly records: number;
  readonly files: number;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  readonly headHash?: string;
  readonly checkpoints: number;
  readonly publicKeyFile?: string;
  /** The first trusted key's id (see keyIds for all). */
  readonly keyId?: string;
  /** Every key trusted out of band. */
  readonly keyIds?: readonly string[];
  /** Signing-key hand-overs found in the chain, in order. */
  readonly handovers?: readonly Handover[];
  /** Records after the last checkpoint: chained, but not yet covered by a signature. */
  readonly uncoveredRecords: number;
  readonly failure?: VerifyFailure;
  readonly warnings: readonly string[];
}

async function checkpointFilesIn(source: string): Promise<string[]> {
  const st = await stat(source);
  if (!st.isDirectory()) return [source];
  return (await readdir(source)).filter((n) => /^checkpoints.*\.jsonl$/.test(n)).map((n) => path.join(source, n));
}

async function receiptCheckpoints(file: string): Promise<Checkpoint[] | undefined> {
  try {
    const receipt = JSON.parse(await readFile(file, 'utf8')) as { checkpoint?: unknown; handovers?: unknown } | null;
    const cp = receipt?.checkpoint;
    const handovers = Array.isArray(receipt?.handovers) ? receipt.handovers.filter(looksLikeCheckpoint) : [];
    return looksLikeCheckpoint(cp) ? [...handovers, cp] : undefined;
  } catch {
    return undefined;
  }
}

async function findPublicKey(dir: string): Promise<string | undefined> {
  for (const candidate of [path.join(dir, PUBLIC_KEY_FILE), path.join(path.dirname(dir), PUBLIC_KEY_FILE)]) {
    if (
      await stat(candidate).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

async function firstRecordHash(file: LogFile): Promise<{ seq: number; hash: string } | undefined> {
  for await (const raw of readLines(file.path)) {
    const p = parseRecordLine(raw.bytes.toString('utf8'));
    return p.ok ? { seq: p.record.seq, hash: p.record.hash } : undefined;
  }
  return undefined;
}

export async function verifyLog(target: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const warnings: string[] = [];
  let st: Stats;
  try {
    st = await stat(target);
  } catch {
    return fail({ reason: `${target}: no such file or directory` });
  }
  const dir = st.isDirectory() ? target : path.dirname(target);
  let files = st.isDirectory() ? await listLogFiles(dir) : (await listLogFiles(dir)).filter((f) => f.path === path.resolve(target));
  if (!st.isDirectory() && files.length === 0) return fail({ reason: `${target}: not an audit log file (audit-<seq>.jsonl)` });
  if (files.length === 0) return fail({ reason: `${dir}: no audit log files` });
  const singleFile = !st.isDirectory();

  function fail(failure: VerifyFailure, extra: Partial<VerifyReport> = {}): VerifyReport {
    return { ok: false, records: 0, files: 0, checkpoints: 0, uncoveredRecords: 0, warnings, ...extra, failure };
  }

  // Trusted keys.
  const explicit = typeof opts.publicKeyFile === 'string' ? [opts.publicKeyFile] : [...(opts.publicKeyFile ?? [])];
  const keyFile = explicit[0] ?? (await findPublicKey(dir));
  if (!keyFile) return fail({ reason: 'no public key found: pass --public-key FILE (the audit-signing.pub of this sidecar)' });
  const publicKeys: KeyObject[] = [];
  for (const file of explicit.length ? explicit : [keyFile]) {
    try {
      publicKeys.push(await loadPublicKey(file));
    } catch (err) {
      return fail({ reason: `public key ${file}: ${(err as Error).message}` });
    }
  }
  if (explicit.length === 0) {
    const history = path.join(path.dirname(keyFile), KEY_HISTORY_FILE);
    const earlier = await readKeyHistory(history).catch(() => []);
    publicKeys.push(...earlier.map((e) => e.publicKey));
    warnings.push(
      `using the public key found at ${keyFile}${earlier.length ? ` and the ${earlier.length} in ${history}` : ''}; pass --public-key with a copy you trust`,
    );
  }
  const trust = new KeyTrust(publicKeys);
  const keyId = trust.trustedKeyIds[0]!;

  // Checkpoints: the log's own copy plus independent copies, one chain only.
  const local = await readCheckpointFile(path.join(dir, LOCAL_CHECKPOINT_FILE));
  if (local.tornTail) warnings.push(`${LOCAL_CHECKPOINT_FILE}: torn final line (crash while checkpointing)`);
  if (local.badLines.length > 0) return fail({ reason: `${LOCAL_CHECKPOINT_FILE}: line ${local.badLines[0]} is not a checkpoint` });
  const sources: { name: string; cps: Checkpoint[] }[] = [{ name: LOCAL_CHECKPOINT_FILE, cps: local.checkpoints }];
  for (const source of opts.checkpointSources ?? []) {
    let names: string[];
    try {
      names = await checkpointFilesIn(source);
    } catch {
      return fail({ reason: `checkpoint copy ${source}: not readable` });
    }
    for (const f of names) {
      const copy = await readCheckpointFile(f);
      if (copy.badLines.length === 0) {
        sources.push({ name: f, cps: copy.checkpoints });
        continue;
      }
      // A receipt (`kguard audit receipt` output) carries the signed checkpoint a counterparty kept.
      const fromReceipt = await receiptCheckpoints(f);
      if (!fromReceipt) return fail({ reason: `${f}: line ${copy.badLines[0]} is not a checkpoint (nor is the file a receipt)` });
      sources.push({ name: f, cps: fromReceipt });
    }
  }
  const first = await firstRecordHash(files[0]!);
  const localChains = new Set(local.checkpoints.map((c) => c.chain));
  if (localChains.size > 1) return fail({ reason: `${LOCAL_CHECKPOINT_FILE} holds checkpoints of ${localChains.size} different chains` });
  let chain = [...localChains][0] ?? (first?.seq === 1 ? first.hash : undefined);
  if (chain === undefined) {
    const mirrorChains = new Set(sources.flatMap((s) => s.cps.map((c) => c.chain)));
    if (mirrorChains.size === 1) chain = [...mirrorChains][0];
  }
  if (first?.seq === 1 && chain !== undefined && first.hash !== chain) {
    return fail({ reason: 'the first record is not the one the checkpoints were made for (log replaced or rewritten)', file: files[0]!.name, line: 1, seq: 1 });
  }
  // In seq order, so each key is judged by the hand-overs before it.
  const copies = sources.flatMap((source) => source.cps.filter((cp) => cp.chain === chain).map((cp) => ({ cp, source: source.name })));
  copies.sort((a, b) => a.cp.seq - b.cp.seq);
  const bySeq = new Map<number, Checkpoint>();
  for (const { cp, source } of copies) {
    const untrusted = trust.accept(cp);
    if (untrusted) return fail({ reason: `${path.basename(source)}: ${untrusted}`, seq: cp.seq });
    const seen = bySeq.get(cp.seq);
    if (seen && (seen.head !== cp.head || seen.root !== cp.root || seen.fromSeq !== cp.fromSeq || seen.nextKeyId !== cp.nextKeyId)) {
      return fail({ reason: `two different signed checkpoints for seq ${cp.seq} (forked log)`, seq: cp.seq });
    }
    bySeq.set(cp.seq, cp);
  }
  const checkpoints = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  for (let i = 0; i < checkpoints.length; i++) {
    const expectedFrom = i === 0 ? 1 : checkpoints[i - 1]!.seq + 1;
    if (checkpoints[i]!.fromSeq !== expectedFrom && !(i === 0 && singleFile)) {
      return fail({
        reason: `checkpoints do not tile the log: the one ending at seq ${checkpoints[i]!.seq} starts at ${checkpoints[i]!.fromSeq}, expected ${expectedFrom} (a checkpoint was removed)`,
        seq: checkpoints[i]!.seq,
      });
    }
  }

  // Walk the records.
  const fromSeq = opts.fromSeq;
  if (fromSeq !== undefined) {
    let start = 0;
    for (let i = 0; i < files.length; i++) if (files[i]!.firstSeq <= fromSeq) start = i;
    files = files.slice(start);
  }
  const bytesTotal = files.reduce((n, f) => n + f.size, 0);
  let cpIndex = 0;
  let leaves: string[] = [];
  let checkpointFailure: VerifyFailure | undefined;
  let firstSeq: number | undefined;
  const walker = new ChainWalker({
    expectGenesis: !singleFile || files[0]!.firstSeq === 1,
    ...(fromSeq !== undefined ? { fromSeq } : singleFile ? { fromSeq: 0 } : {}),
    onRecord: (r, at) => {
      firstSeq ??= r.seq;
      while (cpIndex < checkpoints.length && checkpoints[cpIndex]!.seq < r.seq) cpIndex++;
      const cp = checkpoints[cpIndex];
      if (!cp || checkpointFailure) return;
      if (r.seq >= cp.fromSeq) leaves.push(r.hash);
      if (r.seq !== cp.seq) return;
      if (r.hash !== cp.head) {
        checkpointFailure = {
          reason: `record differs from the signed checkpoint at seq ${cp.seq} (edited, or the tail was rewritten)`,
          file: at.file,
          line: at.line,
          seq: r.seq,
        };
      } else if (leaves.length === cp.seq - cp.fromSeq + 1 && merkleRoot(leaves) !== cp.root) {
        checkpointFailure = { reason: `records ${cp.fromSeq}..${cp.seq} do not match the Merkle root of their signed checkpoint`, file: at.file, seq: r.seq };
      }
      leaves = [];
      cpIndex++;
    },
  });
  let bytesBefore = 0;
  let lastProgress = 0;
  outer: for (let f = 0; f < files.length; f++) {
    const file = files[f]!;
    let lineNo = 0;
    let firstInFile = true;
    for await (const batch of readLineBatches(file.path))
      for (const raw of batch) {
        const before = walker.records;
        if (!walker.line(raw, { file: file.name, line: ++lineNo, offset: raw.offset }) || checkpointFailure) break outer;
        if (firstInFile && walker.records > before) {
          firstInFile = false;
          if (walker.head!.seq !== file.firstSeq) warnings.push(`${file.name}: first record is seq ${walker.head!.seq}, the name says ${file.firstSeq}`);
        }
        if (opts.onProgress && (walker.records & 0x3fff) === 0 && walker.records !== lastProgress) {
          lastProgress = walker.records;
          opts.onProgress({ bytesDone: bytesBefore + raw.offset, bytesTotal, records: walker.records });
        }
      }
    bytesBefore += file.size;
    if (!walker.endFile(f === files.length - 1)) break;
  }
  opts.onProgress?.({ bytesDone: bytesTotal, bytesTotal, records: walker.records });

  const base = {
    records: walker.records,
    files: files.length,
    checkpoints: checkpoints.length,
    publicKeyFile: keyFile,
    keyId,
    keyIds: trust.trustedKeyIds,
    handovers: trust.handovers,
    ...(firstSeq !== undefined ? { firstSeq } : {}),
    ...(walker.head ? { lastSeq: walker.head.seq, headHash: walker.head.hash } : {}),
  };
  const lastSeq = walker.head?.seq ?? 0;
  const lastCp = checkpoints[checkpoints.length - 1];
  const uncoveredRecords = Math.max(0, lastSeq - (lastCp?.seq ?? (firstSeq ?? 1) - 1));
  if (walker.error) {
    const e = walker.error;
    return fail({ reason: e.reason, file: e.file, line: e.line, ...(e.seq !== undefined ? { seq: e.seq } : {}) }, { ...base, uncoveredRecords });
  }
  if (checkpointFailure) return fail(checkpointFailure, { ...base, uncoveredRecords });
  if (lastCp && lastCp.seq > lastSeq && !singleFile) {
    return fail(
      {
        reason: `the log ends at seq ${lastSeq} but a signed checkpoint covers up to seq ${lastCp.seq}: records ${lastSeq + 1}..${lastCp.seq} were removed (truncated log or deleted newest file)`,
        seq: lastSeq + 1,
      },
      { ...base, uncoveredRecords: 0 },
    );
  }
  if (checkpoints.length === 0 && walker.records > 0) {
    // Nothing signed: the chain alone proves nothing, as anyone can recompute it (a record edited and every hash
    // after it rewritten, with checkpoints.jsonl left out of a copy, looks the same). Only a signature vouches.
    const where = opts.checkpointSources?.length
      ? `neither ${LOCAL_CHECKPOINT_FILE} nor the given checkpoint copies hold`
      : `${LOCAL_CHECKPOINT_FILE} holds no`;
    return fail(
      {
        reason: `${where} signed checkpoint of this log's chain, so no signature covers its ${walker.records} record(s): the log was replaced or rewritten (and its checkpoints removed), its copy left checkpoints.jsonl out (give it with --checkpoints), or it is younger than its first checkpoint (verify again after the sidecar's next one)`,
        seq: firstSeq,
      },
      { ...base, uncoveredRecords },
    );
  }
  const torn = walker.tornTail();
  if (torn)
    warnings.push(
      `${torn.file}:${torn.line}: ${torn.bytes.length} bytes of a torn final write, not yet sealed (the sidecar seals it with a recovery record on restart)`,
    );
  if (uncoveredRecords > 0) warnings.push(`${uncoveredRecords} record(s) after the last checkpoint are chained but not yet covered by a signature`);
  if (!opts.checkpointSources?.length)
    warnings.push('no independent checkpoint copy given (--checkpoints DIR): truncation that also rewrites checkpoints.jsonl would go unnoticed');
  return { ok: true, ...base, uncoveredRecords, warnings };
}
