// kguard audit verify | hash | receipt | keygen. Read-only except keygen,
// which only creates missing key files. Values to hash come from stdin, never argv.
import { readFile } from 'node:fs/promises';
import type { Config } from '../common/config.js';
import { buildReceipt, loadPublicKey, parseAuditConfig, publicKeyFileFor, verifyReceipt, type AuditConfig, type Receipt } from '../audit/index.js';
import { fingerprint, generateHmacKeyFile, generateSigningKeyFiles, loadHmacKey, loadSigningKeys } from '../audit/keys.js';
import { verifyLog, type VerifyReport } from '../audit/verify.js';
import { configFromFlags, parseFlags, printJson } from './args.js';
import type { CliCommand, CliIO } from './types.js';
import { UsageError } from './usage.js';

const USAGE = `usage:
  kguard audit verify [--from SEQ] [--checkpoints DIR]... [--public-key FILE] [--json] [FILE_OR_DIR]
  kguard audit hash [--hmac-key FILE] [--raw] < value      (one trailing newline is dropped unless --raw)
  kguard audit receipt SEQ [--dir DIR]                     (prints the receipt as JSON)
  kguard audit receipt --verify FILE [--public-key FILE]
  kguard audit keygen                                      (creates missing audit keys, never overwrites)
`;

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

function printVerdict(io: CliIO, report: VerifyReport, target: string): void {
  const w = (s: string) => io.stdout.write(`${s}\n`);
  if (report.ok) {
    w(
      `VERIFIED ${target}: ${report.records} records${report.lastSeq ? ` (seq ${report.firstSeq}..${report.lastSeq})` : ''} in ${report.files} file(s), ${report.checkpoints} signed checkpoint(s)`,
    );
    if (report.headHash) w(`  head ${report.headHash}`);
    if (report.keyId) w(`  signing key ${report.keyId} (${report.publicKeyFile})`);
  } else {
    const f = report.failure!;
    w(`FAILED ${target}: the audit log does not verify`);
    if (f.seq !== undefined || f.file)
      w(`  first bad record: ${f.seq !== undefined ? `seq ${f.seq}` : 'unknown seq'}${f.file ? ` at ${f.file}${f.line ? `:${f.line}` : ''}` : ''}`);
    w(`  reason: ${f.reason}`);
    if (report.lastSeq !== undefined) w(`  records before it verified: ${report.records} (last good seq ${report.lastSeq})`);
  }
  for (const warning of report.warnings) w(`  warning: ${warning}`);
}

const audit: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'verify': {
      const { values, positionals } = parseFlags(rest, {
        from: { type: 'string' },
        checkpoints: { type: 'string', multiple: true },
        'public-key': { type: 'string' },
        json: { type: 'boolean' },
      });
      const target = positionals[0] ?? primaryDir(await auditConfig(values, io));
      const tty = Boolean((io.stderr as { isTTY?: boolean }).isTTY) && !values.json;
      const started = Date.now();
      const report = await verifyLog(target, {
        ...(values.from !== undefined ? { fromSeq: intArg('--from', values.from) } : {}),
        ...(values.checkpoints ? { checkpointSources: values.checkpoints } : {}),
        ...(typeof values['public-key'] === 'string' ? { publicKeyFile: values['public-key'] } : {}),
        ...(tty
          ? {
              onProgress: ({ bytesDone, bytesTotal, records }) => {
                const pct = bytesTotal > 0 ? Math.floor((bytesDone / bytesTotal) * 100) : 100;
                io.stderr.write(`\rverifying ${pct}% ${records} records ${((Date.now() - started) / 1000).toFixed(1)} s `);
              },
            }
          : {}),
      });
      if (tty) io.stderr.write('\n');
      if (values.json) printJson(io, report);
      else printVerdict(io, report, target);
      return report.ok ? 0 : 1;
    }
    case 'hash': {
      const { values, positionals } = parseFlags(rest, { 'hmac-key': { type: 'string' }, raw: { type: 'boolean' } });
      if (positionals.length > 0) throw new UsageError('kguard audit hash reads the value from stdin, not from arguments (they end up in shell history)');
      const keyFile = typeof values['hmac-key'] === 'string' ? values['hmac-key'] : (await auditConfig(values, io)).hmacKeyFile;
      const key = await loadHmacKey(keyFile, false);
      const input = await readStdin(io);
      try {
        let end = input.length;
        if (!values.raw && end > 0 && input[end - 1] === 0x0a) end -= end > 1 && input[end - 2] === 0x0d ? 2 : 1;
        io.stdout.write(`${fingerprint(input.subarray(0, end), key)}\n`);
      } finally {
        input.fill(0);
      }
      return 0;
    }
    case 'receipt': {
      const { values, positionals } = parseFlags(rest, { dir: { type: 'string' }, verify: { type: 'string' }, 'public-key': { type: 'string' } });
      if (typeof values.verify === 'string') {
        const receipt = JSON.parse(await readFile(values.verify, 'utf8')) as Receipt;
        const keyFile = typeof values['public-key'] === 'string' ? values['public-key'] : publicKeyFileFor((await auditConfig(values, io)).signingKeyFile);
        const verdict = verifyReceipt(receipt, await loadPublicKey(keyFile));
        io.stdout.write(
          verdict.ok
            ? `VALID receipt for seq ${receipt.seq} (checkpoint ${receipt.checkpoint.fromSeq}..${receipt.checkpoint.seq})\n`
            : `INVALID receipt: ${verdict.reason}\n`,
        );
        return verdict.ok ? 0 : 1;
      }
      const seq = intArg('SEQ', positionals[0]);
      const dir = typeof values.dir === 'string' ? values.dir : primaryDir(await auditConfig(values, io));
      const receipt = await buildReceipt(dir, seq);
      if (!receipt) {
        io.stderr.write(`no signed checkpoint covers seq ${seq} yet (the sidecar checkpoints every N records or T seconds)\n`);
        return 1;
      }
      printJson(io, receipt);
      return 0;
    }
    case 'keygen': {
      const { values } = parseFlags(rest, {});
      const cfg = await auditConfig(values, io);
      const newSigning = await generateSigningKeyFiles(cfg.signingKeyFile);
      const newHmac = await generateHmacKeyFile(cfg.hmacKeyFile);
      const keys = await loadSigningKeys(cfg.signingKeyFile, false);
      await loadHmacKey(cfg.hmacKeyFile, false);
      io.stdout.write(`signing key ${cfg.signingKeyFile}: ${newSigning ? 'created' : 'exists, kept'} (key id ${keys.keyId})\n`);
      io.stdout.write(`public key  ${publicKeyFileFor(cfg.signingKeyFile)}: give this to auditors\n`);
      io.stdout.write(`hmac key    ${cfg.hmacKeyFile}: ${newHmac ? 'created' : 'exists, kept'}\n`);
      return 0;
    }
    default:
      io.stderr.write(USAGE);
      return 2;
  }
};

export default audit;
