// kguard audit verify | hash | receipt | keygen | rotate-signing-key. Read-only except keygen,
// which only creates missing key files, and rotate-signing-key (audit/key-rotation.ts). Values to hash come from stdin, never argv.
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Config } from '../common/config.js';
import { buildReceipt, loadPublicKey, parseAuditConfig, publicKeyFileFor, verifyReceipt, type AuditConfig, type Receipt } from '../audit/index.js';
import { fingerprint, generateHmacKeyFile, generateSigningKeyFiles, loadHmacKey, loadSigningKeys } from '../audit/keys.js';
import { verifyLog, type VerifyReport } from '../audit/verify.js';
import { existingLogs } from '../audit/key-continuity.js';
import { keyHistoryFileFor, readKeyHistory } from '../audit/key-history.js';
import { rotateSigningKey as rotateSigningKey_ } from '../audit/key-rotation.js';
import { recordAuditVerify, verifiedOneOf } from '../admin/posture-marker.js';
import { configFromFlags, printJson, withNamedFile } from './args.js';
import { AUDIT_TEXT } from './audit-text.js';
import { languageOrDefault } from './lang.js';
import { runCommand } from './runner.js';
import type { Handler } from './spec.js';
import type { CliCommand, CliIO } from './types.js';
import { UsageError } from './usage.js';

type AuditText = (typeof AUDIT_TEXT)[keyof typeof AUDIT_TEXT];

async function auditConfig(values: { config?: unknown; 'data-dir'?: unknown }, io: CliIO): Promise<AuditConfig> {
  const config: Config = await configFromFlags(values, io);
  return parseAuditConfig(config.audit, config.dataDir);
}

function primaryDir(cfg: AuditConfig): string {
  const sink = cfg.sinks.find((s) => s.type === 'file');
  if (sink?.type !== 'file') throw new UsageError('no file sink configured: name the log directory explicitly');
  return sink.dir;
}

async function readStdin(io: CliIO, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of io.stdin as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    n += b.length;
    if (n > limit) throw new UsageError(`stdin is larger than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function intArg(name: string, v: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got ${String(v)}`);
  return n;
}

function printVerdict(io: CliIO, report: VerifyReport, target: string, text: AuditText): void {
  const w = (s: string) => io.stdout.write(`${s}\n`);
  if (report.ok) {
    w(text.verified(target, report.records, report.firstSeq, report.lastSeq, report.files, report.checkpoints));
    if (report.headHash) w(text.head(report.headHash));
    if (report.keyId) w(text.signingKey(report.keyIds?.join(', ') ?? report.keyId, report.publicKeyFile));
    for (const h of report.handovers ?? []) w(text.handover(h.seq, h.fromKeyId, h.toKeyId));
  } else {
    const f = report.failure!;
    w(text.failed(target));
    if (f.seq !== undefined || f.file) w(text.firstBad(f.seq, f.file, f.line));
    w(text.reason(f.reason));
    if (report.lastSeq !== undefined) w(text.verifiedBefore(report.records, report.lastSeq));
  }
  for (const warning of report.warnings) w(text.warning(warning));
}

/** Only a verify of a configured file sink's log is recorded; best effort: a read-only data directory records nothing and never fails the verify. */
async function recordVerify(values: { config?: unknown; 'data-dir'?: unknown }, io: CliIO, target: string, report: VerifyReport): Promise<void> {
  try {
    const config = await configFromFlags(values, io);
    const dirs = parseAuditConfig(config.audit, config.dataDir).sinks.flatMap((s) => (s.type === 'file' ? [s.dir] : []));
    if (!verifiedOneOf(target, dirs)) return;
    await recordAuditVerify(config.dataDir, {
      ok: report.ok,
      target,
      records: report.records,
      ...(report.lastSeq !== undefined ? { lastSeq: report.lastSeq } : {}),
    });
  } catch {
    // nothing recorded: doctor then reports the verify as not recorded
  }
}

export const verify: Handler = async (ctx) => {
  const { io } = ctx;
  const json = ctx.bool('json');
  const from = ctx.str('from');
  const checkpoints = ctx.strs('checkpoints');
  const publicKeys = ctx.strs('public-key');
  const target = ctx.positionals[0] ?? primaryDir(await auditConfig(ctx.values, io));
  const tty = Boolean((io.stderr as { isTTY?: boolean }).isTTY) && !json;
  const text = AUDIT_TEXT[await languageOrDefault(ctx)];
  const started = Date.now();
  const report = await verifyLog(target, {
    ...(from !== undefined ? { fromSeq: intArg('--from', from) } : {}),
    ...(checkpoints.length ? { checkpointSources: checkpoints } : {}),
    ...(publicKeys.length ? { publicKeyFile: publicKeys } : {}),
    ...(tty
      ? {
          onProgress: ({ bytesDone, bytesTotal, records }) => {
            const pct = bytesTotal > 0 ? Math.floor((bytesDone / bytesTotal) * 100) : 100;
            io.stderr.write(text.progress(pct, records, ((Date.now() - started) / 1000).toFixed(1)));
          },
        }
      : {}),
  });
  if (tty) io.stderr.write('\n');
  // kguard doctor's audit-verify check: when the log was last verified in full, and the verdict (<dataDir>/audit-verify.json).
  if (from === undefined) await recordVerify(ctx.values, io, target, report);
  if (json) printJson(io, report);
  else printVerdict(io, report, target, text);
  return report.ok ? 0 : 1;
};

export const hash: Handler = async (ctx) => {
  const flag = ctx.str('hmac-key');
  const keyFile = flag ?? (await auditConfig(ctx.values, ctx.io)).hmacKeyFile;
  const key = await withNamedFile(flag ? '--hmac-key' : 'audit HMAC key', keyFile, () => loadHmacKey(keyFile, false));
  const input = await readStdin(ctx.io);
  try {
    let end = input.length;
    if (!ctx.bool('raw') && end > 0 && input[end - 1] === 0x0a) end -= end > 1 && input[end - 2] === 0x0d ? 2 : 1;
    ctx.io.stdout.write(`${fingerprint(input.subarray(0, end), key)}\n`);
  } finally {
    input.fill(0);
  }
  return 0;
};

export const receipt: Handler = async (ctx) => {
  const { io } = ctx;
  const toVerify = ctx.str('verify');
  if (toVerify !== undefined) {
    if (ctx.positionals.length) return ctx.usage('give SEQ or --verify FILE, not both');
    const r = await withNamedFile('--verify', toVerify, async () => JSON.parse(await readFile(toVerify, 'utf8')) as Receipt);
    const flags = ctx.strs('public-key');
    const keys: KeyObject[] = [];
    for (const keyFile of flags) keys.push(await withNamedFile('--public-key', keyFile, () => loadPublicKey(keyFile)));
    if (flags.length === 0) {
      // The configured key, and every earlier one in its history (receipts of records signed before a rotation).
      const signingKeyFile = (await auditConfig(ctx.values, io)).signingKeyFile;
      const keyFile = publicKeyFileFor(signingKeyFile);
      keys.push(await withNamedFile('audit public key', keyFile, () => loadPublicKey(keyFile)));
      keys.push(...(await readKeyHistory(keyHistoryFileFor(signingKeyFile))).map((e) => e.publicKey));
    }
    const verdict = verifyReceipt(r, keys);
    if (ctx.bool('json')) printJson(io, { ok: verdict.ok, seq: r.seq, ...(verdict.ok ? {} : { reason: verdict.reason }) });
    else {
      const text = AUDIT_TEXT[await languageOrDefault(ctx)];
      io.stdout.write(verdict.ok ? text.receiptValid(r.seq, r.checkpoint.fromSeq, r.checkpoint.seq) : text.receiptInvalid(verdict.reason));
    }
    return verdict.ok ? 0 : 1;
  }
  if (ctx.positionals.length === 0) return ctx.usage('give SEQ (build a receipt) or --verify FILE');
  const seq = intArg('SEQ', ctx.positionals[0]);
  const dir = ctx.str('dir') ?? primaryDir(await auditConfig(ctx.values, io));
  const built = await buildReceipt(dir, seq);
  if (!built) {
    io.stderr.write(AUDIT_TEXT[await languageOrDefault(ctx)].noCheckpoint(seq));
    return 1;
  }
  printJson(io, built);
  return 0;
};

export const keygen: Handler = async (ctx) => {
  const cfg = await auditConfig(ctx.values, ctx.io);
  const newSigning = await generateSigningKeyFiles(cfg.signingKeyFile);
  const newHmac = await generateHmacKeyFile(cfg.hmacKeyFile);
  const keys = await loadSigningKeys(cfg.signingKeyFile, false);
  await loadHmacKey(cfg.hmacKeyFile, false);
  const publicKey = publicKeyFileFor(cfg.signingKeyFile);
  if (ctx.bool('json')) {
    printJson(ctx.io, {
      signingKey: { file: cfg.signingKeyFile, created: newSigning, keyId: keys.keyId },
      publicKey: { file: publicKey },
      hmacKey: { file: cfg.hmacKeyFile, created: newHmac },
    });
    return 0;
  }
  const text = AUDIT_TEXT[await languageOrDefault(ctx)];
  ctx.io.stdout.write(text.keygenSigning(cfg.signingKeyFile, newSigning, keys.keyId));
  ctx.io.stdout.write(text.keygenPublic(publicKey));
  ctx.io.stdout.write(text.keygenHmac(cfg.hmacKeyFile, newHmac));
  return 0;
};

export const rotateSigningKey: Handler = async (ctx) => {
  const cfg = await auditConfig(ctx.values, ctx.io);
  const logs = await existingLogs(cfg.sinks.flatMap((s) => (s.type === 'file' ? [s.dir] : [])));
  const r = await rotateSigningKey_(cfg.signingKeyFile, cfg.hmacKeyFile, logs);
  if (ctx.bool('json')) {
    printJson(ctx.io, { ...r, pending: true });
    return 0;
  }
  const text = AUDIT_TEXT[await languageOrDefault(ctx)];
  const w = (s: string) => ctx.io.stdout.write(`${s}\n`);
  w(text.rotated(r.keyId, cfg.signingKeyFile, r.previousKeyId, r.retiringKeyFile));
  w(text.rotatedPublic(r.publicKeyFile));
  w(r.publicKeyPem.trimEnd());
  w(text.rotatedHistory(r.historyFile));
  w(text.rotatedNext);
  return 0;
};

const audit: CliCommand = (args, io) => runCommand(['audit'], args, io);
export default audit;
