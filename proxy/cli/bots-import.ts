// kguard bots import --from-file FILE: many bots and their Kiwoom keys at
// once (server/tenant-batch.ts does the checking and writing), offline on the
// data directory or, with --admin-url, through POST /admin/v1/bots/batch.
//
// Two file forms, chosen by the extension:
//  - .jsonl (or anything else): the wire form, one bot a line, a JSON object
//    then TAB-separated botSecret=/appKey=/secretKey= fields. A file with any
//    secret field must be mode 0600 (checked on the open descriptor); it is
//    read as bytes and zero-filled, never parsed into strings.
//  - .yaml / .yml: a list (or {bots: [...]}) of {id, owner, account, allow,
//    credentialsFile, botSecretFile}; no secret inline, each file referenced
//    must be 0600 and holds the same two-line (or JSON) form as
//    `kguard keys import --from-file`, or the bot secret.
// A bot without a secret gets a generated one (256 random bits), written
// with the others to --secrets-out (created 0600, never replaced, one
// "id<TAB>secret" a line) BEFORE anything is registered, and destroyed again if
// the batch is refused. No secret is ever printed.
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { generateBotSecret, BotRegistry } from '../auth/index.js';
import { GuardError } from '../common/errors.js';
import { overwriteAndUnlink } from '../vault/files.js';
import { parseCredentialInput, readSecretInput } from '../vault/index.js';
import { applyBatch, BatchRefused, parseBatch, wipeBatch, type BatchEntry, type BatchProblem } from '../server/tenant-batch.js';
import { configFromFlags, printJson, unwritten, withNamedFile } from './args.js';
import { adminClientFrom } from './admin-common.js';
import { withVault } from './keys.js';
import type { Ctx, Handler } from './spec.js';
import { UsageError } from './usage.js';
import { BOTS_TEXT } from './bots-text.js';
import type { Language } from '../common/errors.js';

const MAX_FILE_BYTES = 64 * 1024 * 1024;
const SECRET_FIELD = /\t(botSecret|appKey|secretKey)=/;

/** The batch file's bytes, and whether only its owner can read it (fstat of the opened file). */
async function readBatchFile(file: string): Promise<{ bytes: Buffer; private: boolean }> {
  const fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new GuardError('KG2010', 'not a regular file');
    if (st.size > MAX_FILE_BYTES) throw new GuardError('KG2010', `larger than ${MAX_FILE_BYTES} bytes`);
    const bytes = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await fh.read(bytes, off, st.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
    return { bytes: bytes.subarray(0, off), private: (st.mode & 0o077) === 0 && mine };
  } finally {
    await fh.close();
  }
}

function field(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}

/** YAML with file references -> the wire form (one line per item; line N = item N). */
async function yamlToWire(text: string, base: string): Promise<Buffer> {
  const doc = parseYaml(text) as unknown;
  const items = Array.isArray(doc) ? doc : (doc as { bots?: unknown } | null)?.bots;
  if (!Array.isArray(items)) throw new GuardError('KG2010', 'the YAML must be a list of bots or {bots: [...]}');
  const parts: Buffer[] = [];
  try {
    for (const [i, raw] of items.entries()) {
      const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      const { credentialsFile: _c, botSecretFile: _b, ...plain } = o;
      parts.push(Buffer.from(JSON.stringify(plain)));
      const refs: [string, string | undefined][] = [
        ['botSecretFile', field(o, 'botSecretFile')],
        ['credentialsFile', field(o, 'credentialsFile')],
      ];
      for (const [name, ref] of refs) {
        if (ref === undefined) continue;
        const where = `item ${i + 1} ${name} ${ref}`;
        const bytes = await withNamedFile(where, ref, () => readSecretInput({ file: path.resolve(base, ref) }));
        try {
          if (name === 'botSecretFile') {
            let end = bytes.length;
            while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
            parts.push(Buffer.from('\tbotSecret='), Buffer.from(bytes.subarray(0, end)));
          } else {
            const c = parseCredentialInput(bytes);
            parts.push(Buffer.from('\tappKey='), c.appKey, Buffer.from('\tsecretKey='), c.secretKey);
          }
        } finally {
          bytes.fill(0);
        }
      }
      parts.push(Buffer.from('\n'));
    }
    return Buffer.concat(parts);
  } finally {
    for (const p of parts) p.fill(0);
  }
}

/** The entries as the wire form again (after generated secrets were filled in), for the admin API. */
function toWire(entries: readonly BatchEntry[]): Buffer {
  const parts: Buffer[] = [];
  try {
    for (const e of entries) {
      parts.push(Buffer.from(JSON.stringify({ id: e.id, owner: e.owner, account: e.account, ...(e.allowed ? { allow: e.allowed } : {}) })));
      for (const f of ['botSecret', 'appKey', 'secretKey'] as const) if (e[f]) parts.push(Buffer.from(`\t${f}=`), e[f]);
      parts.push(Buffer.from('\n'));
    }
    return Buffer.concat(parts);
  } finally {
    for (const p of parts) if (!entries.some((e) => e.botSecret === p || e.appKey === p || e.secretKey === p)) p.fill(0);
  }
}

/** Generated secrets, written exclusively (0600, never replacing a file) and fsynced before anything is registered. */
async function writeSecretsOut(file: string, entries: readonly BatchEntry[]): Promise<void> {
  const fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  try {
    const parts: Buffer[] = [];
    for (const e of entries) parts.push(Buffer.from(`${e.id}\t`), e.botSecret!, Buffer.from('\n'));
    const all = Buffer.concat(parts);
    try {
      await fh.writeFile(all);
      await fh.sync();
    } finally {
      all.fill(0);
    }
  } finally {
    await fh.close();
  }
}

function printProblems(
  ctx: Ctx,
  say: (typeof BOTS_TEXT)[Language],
  problems: readonly BatchProblem[],
  more: number,
  lineOf: (line: number) => number,
  unit: 'line' | 'item',
): void {
  const fixed = problems.map((p) => ({ ...p, line: lineOf(p.line) }));
  if (ctx.bool('json')) printJson(ctx.io, { ok: false, problems: fixed, more });
  for (const p of fixed) ctx.io.stderr.write(say.problem(unit, p.line, p.id, p.code, p.message));
  if (more > 0) ctx.io.stderr.write(say.more(more));
  ctx.io.stderr.write(say.refused);
}

export const importBatch: Handler = async (ctx) => {
  const file = ctx.str('from-file')!;
  const config = await configFromFlags(ctx.values, ctx.io);
  // --lang, else the configured language: the problems' own messages and the lines around them.
  const language: Language = ctx.values.lang === 'ko' || ctx.values.lang === 'en' ? ctx.values.lang : config.language;
  const say = BOTS_TEXT[language];
  const yaml = /\.ya?ml$/i.test(file);
  const unit = yaml ? 'item' : 'line';
  const read = await withNamedFile('--from-file', file, () => readBatchFile(file));
  let wire = read.bytes;
  let entries: BatchEntry[] = [];
  let secretsOut: string | undefined;
  try {
    if (yaml) {
      if (SECRET_FIELD.test(read.bytes.toString('latin1'))) throw new GuardError('KG2010', 'a YAML batch references secret files; it holds no secret itself');
      wire = await yamlToWire(read.bytes.toString('utf8'), path.dirname(path.resolve(file)));
      read.bytes.fill(0);
    } else if (!read.private && read.bytes.includes('\t')) {
      throw new GuardError('KG4007', `${file} holds secret fields: it must be mode 0600 and yours`);
    }
    try {
      entries = parseBatch(wire, { language, limits: { maxEntries: config.admin.batch.maxEntries }, requireBotSecret: false });
    } catch (err) {
      if (!(err instanceof BatchRefused)) throw err;
      printProblems(ctx, say, err.problems, err.more, (l) => l, unit);
      return 1;
    }
    const needSecret = entries.filter((e) => !e.botSecret);
    if (needSecret.length > 0) {
      const out = ctx.str('secrets-out');
      if (out === undefined) throw new UsageError(`${needSecret.length} bot(s) have no botSecret: pass --secrets-out FILE to receive generated ones`);
      for (const e of needSecret) e.botSecret = generateBotSecret();
      await writeSecretsOut(out, needSecret).catch((err: unknown) => {
        // Someone else's file (yesterday's secrets, the only copy): never replaced, and never ours to destroy.
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new GuardError('KG2010', say.secretsOutExists(out));
        throw unwritten('--secrets-out', out, 'nothing was registered', err);
      });
      secretsOut = out; // created by this run: destroyed again if the batch is refused
    }
    const online = [ctx.str('admin-url'), ctx.str('token-file'), ctx.io.env.KGUARD_ADMIN_URL].some((v) => v !== undefined && v !== '');
    let result: { bots: number; credentials: number } | { problems: BatchProblem[]; more: number };
    if (online) {
      const admin = await adminClientFrom(ctx.values, ctx.io, async () => config.admin);
      const body = toWire(entries);
      let r: Awaited<ReturnType<typeof admin.call>>;
      try {
        r = await admin.call('POST', '/bots/batch', body);
      } finally {
        body.fill(0);
      }
      const json = (r.json ?? {}) as { ok?: boolean; bots?: number; credentials?: number; problems?: BatchProblem[]; more?: number; return_msg?: string };
      if (r.status === 422 && json.problems) result = { problems: json.problems, more: json.more ?? 0 };
      else if (r.status !== 200 || json.ok !== true)
        throw new Error(`admin API refused the batch (HTTP ${r.status}): ${json.return_msg ?? r.text.slice(0, 300)}`);
      else result = { bots: json.bots ?? 0, credentials: json.credentials ?? 0 };
    } else {
      result = await withVault(ctx, async ({ vault }) => {
        const bots = await BotRegistry.open(config.dataDir);
        try {
          return await applyBatch(entries, { bots, vault, language, limits: { maxEntries: config.admin.batch.maxEntries } });
        } catch (err) {
          if (err instanceof BatchRefused) return { problems: [...err.problems], more: err.more };
          throw err;
        } finally {
          bots.close();
        }
      });
    }
    if ('problems' in result) {
      // Online, the server numbers the lines of the body sent: map them back to the file's.
      printProblems(ctx, say, result.problems, result.more, online ? (l) => entries[l - 1]?.line ?? l : (l) => l, unit);
      if (secretsOut !== undefined) await overwriteAndUnlink(secretsOut);
      secretsOut = undefined;
      return 1;
    }
    const summary = { ok: true, bots: result.bots, credentials: result.credentials, ...(secretsOut !== undefined ? { secretsOut } : {}) };
    if (ctx.bool('json')) printJson(ctx.io, summary);
    else ctx.io.stdout.write(say.imported(summary.bots, summary.credentials, secretsOut));
    secretsOut = undefined;
    return 0;
  } catch (err) {
    if (secretsOut !== undefined) await overwriteAndUnlink(secretsOut).catch(() => undefined);
    throw err;
  } finally {
    wipeBatch(entries);
    wire.fill(0);
    read.bytes.fill(0);
  }
};
