// Bulk provisioning: many bots and their Kiwoom credential records in one
// batch, validated in full before anything is written (every bad entry is
// named; on any problem nothing changes), then written all or none.
//
// Wire form (the admin API body and the CLI's JSONL file), one entry a line:
//   {"id":"bot-0001","owner":"desk-a","account":"5000000001","allow":["kind:query"]}<TAB>botSecret=...<TAB>appKey=...<TAB>secretKey=...
// The JSON object carries only non-secret fields and is JSON.parse'd. Secrets
// follow it as TAB-separated name=value fields and are never turned into JS
// strings: each value is copied out of the body Buffer into its own Buffer,
// hashed (bot secret) or sealed (Kiwoom keys), and zero-filled; the caller
// zero-fills the body. Secret values are printable ASCII without spaces,
// quotes or backslashes (so a TAB or newline can never be part of one).
// Empty lines and lines starting with '#' are skipped.
import { createHash } from 'node:crypto';
import { errorMessage, GuardError, toGuardError, type ErrorCode, type Language } from '../common/errors.js';
import { BOT_ID_PATTERN, validateBotInput, validateBotSecret, type BatchBotInput, type BotRegistry } from '../auth/bots.js';
import type { ManagedVault } from '../vault/index.js';
import { forEachLimited } from '../common/fsutil.js';
import { assertAccount } from '../vault/records.js';
import { DEFAULT_CREDENTIAL_LIMITS, validateSecretKeyMaterial, type CredentialLimits } from '../vault/secret-input.js';

export interface BatchLimits {
  /** Entries in one batch (config admin.batch.maxEntries). */
  readonly maxEntries: number;
  /** Problems listed in a refusal; the rest are counted. */
  readonly maxProblemsListed: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxEntries: 10_000, maxProblemsListed: 200 };

export interface BatchEntry {
  readonly line: number;
  readonly id: string;
  readonly owner: string;
  readonly account: string;
  readonly allowed?: string[];
  botSecret?: Buffer;
  appKey?: Buffer;
  secretKey?: Buffer;
}

export interface BatchProblem {
  readonly line: number;
  readonly id?: string;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface BatchResult {
  readonly bots: number;
  readonly credentials: number;
  readonly ids: string[];
}

/** Thrown when a batch is refused: every problem found, nothing changed. */
export class BatchRefused extends GuardError {
  constructor(
    readonly problems: readonly BatchProblem[],
    readonly more: number,
  ) {
    super('KG2014', `${problems.length + more} problem(s), first at line ${problems[0]?.line ?? 0}`);
  }
}

const SECRET_FIELDS = ['botSecret', 'appKey', 'secretKey'] as const;
type SecretField = (typeof SECRET_FIELDS)[number];
const TAB = 0x09;
const NL = 0x0a;
const CR = 0x0d;
const EQ = 0x3d;
const JSON_FIELDS = new Set(['id', 'owner', 'account', 'allow']);

function wipeEntry(e: BatchEntry): void {
  for (const f of SECRET_FIELDS) e[f]?.fill(0);
}

/** Zero-fills every secret of the entries. */
export function wipeBatch(entries: readonly BatchEntry[]): void {
  for (const e of entries) wipeEntry(e);
}

function problemOf(line: number, id: string | undefined, err: unknown, lang: Language): BatchProblem {
  const g = toGuardError(err);
  const message = `${errorMessage(g.code, lang)}${g.detail ? `: ${g.detail}` : ''}`;
  return { line, ...(id !== undefined ? { id } : {}), code: g.code, message };
}

/**
 * An unknown field's name for an error. A line whose secrets lost their names has a key where the name goes
 * (a key may hold '=', base64 padding), and a script that wrote `{"<appKey>":"<secretKey>"}` puts one where a
 * JSON field name goes: only a short word of letters is quoted.
 */
function fieldNameShown(name: string): string {
  return /^[A-Za-z]{1,12}$/.test(name) ? `'${name}'` : '(name not shown: it may be a key)';
}

/** One line: the JSON object, then secret fields copied into fresh Buffers. */
function parseLine(buf: Buffer, start: number, end: number, line: number): BatchEntry {
  let tab = buf.indexOf(TAB, start);
  if (tab < 0 || tab > end) tab = end;
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(buf.toString('utf8', start, tab)) as Record<string, unknown>;
  } catch {
    throw new GuardError('KG2010', 'the line does not start with a JSON object (no TAB inside it)');
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new GuardError('KG2010', 'the line must start with a JSON object');
  const unknown = Object.keys(fields).find((k) => !JSON_FIELDS.has(k));
  if (unknown !== undefined) throw new GuardError('KG2010', `unknown field ${fieldNameShown(unknown)} (secrets go after the object as TAB name=value)`);
  const entry: BatchEntry = {
    line,
    id: fields.id as string,
    owner: (fields.owner ?? 'unknown') as string,
    account: fields.account as string,
    ...(fields.allow !== undefined ? { allowed: fields.allow as string[] } : {}),
  };
  try {
    let at = tab;
    while (at < end) {
      let next = buf.indexOf(TAB, at + 1);
      if (next < 0 || next > end) next = end;
      const eq = buf.indexOf(EQ, at + 1);
      if (eq < 0 || eq >= next) throw new GuardError('KG2010', 'a field after the JSON object is not name=value');
      const name = buf.toString('latin1', at + 1, eq) as SecretField;
      if (!SECRET_FIELDS.includes(name)) throw new GuardError('KG2010', `unknown secret field ${fieldNameShown(name)} (botSecret, appKey, secretKey)`);
      if (entry[name]) throw new GuardError('KG2010', `${name} given twice`);
      entry[name] = Buffer.from(buf.subarray(eq + 1, next)); // a copy: the body is wiped by the caller
      at = next;
    }
  } catch (err) {
    wipeEntry(entry);
    throw err;
  }
  return entry;
}

function validateEntry(e: BatchEntry, limits: CredentialLimits, requireBotSecret: boolean): void {
  validateBotInput({ id: e.id, owner: e.owner, account: e.account, allowed: e.allowed });
  if (e.botSecret) validateBotSecret(e.botSecret);
  else if (requireBotSecret) throw new GuardError('KG2010', 'botSecret is required (the sidecar never sends a secret back)');
  if (!e.appKey !== !e.secretKey) throw new GuardError('KG4006', 'appKey and secretKey go together');
  if (e.appKey && e.secretKey) {
    assertAccount(e.account);
    validateSecretKeyMaterial(e.appKey, 'appKey', limits);
    validateSecretKeyMaterial(e.secretKey, 'secretKey', limits);
  }
}

export interface ParseOptions {
  readonly limits?: Partial<BatchLimits>;
  readonly credentialLimits?: Partial<CredentialLimits>;
  readonly language: Language;
  /** Admin API: true (the client generates bot secrets); the CLI fills them in before validating. */
  readonly requireBotSecret: boolean;
}

/**
 * Parses and checks a batch body against itself (syntax, fields, secrets,
 * duplicates). Throws BatchRefused listing every bad entry; the entries'
 * secrets are wiped before it throws. The caller wipes `body`.
 */
export function parseBatch(body: Buffer, opts: ParseOptions): BatchEntry[] {
  const limits = { ...DEFAULT_BATCH_LIMITS, ...opts.limits };
  const credLimits = { ...DEFAULT_CREDENTIAL_LIMITS, ...opts.credentialLimits };
  const entries: BatchEntry[] = [];
  const problems: BatchProblem[] = [];
  let lineNo = 0;
  for (let start = 0; start < body.length; ) {
    let end = body.indexOf(NL, start);
    if (end < 0) end = body.length;
    const next = end + 1;
    lineNo++;
    if (end > start && body[end - 1] === CR) end--;
    if (end > start && body[start] !== 0x23 /* # */) {
      try {
        if (entries.length >= limits.maxEntries) throw new GuardError('KG2014', `more than ${limits.maxEntries} entries (admin.batch.maxEntries)`);
        entries.push(parseLine(body, start, end, lineNo));
      } catch (err) {
        problems.push(problemOf(lineNo, undefined, err, opts.language));
        if (toGuardError(err).code === 'KG2014') break;
      }
    }
    start = next;
  }
  const seen = new Map<string, number>();
  for (const e of entries) {
    // A bot id that is not one (a key pasted into the wrong column) is not quoted back: the line number names it.
    const id = typeof e.id === 'string' && BOT_ID_PATTERN.test(e.id) ? e.id : undefined;
    try {
      validateEntry(e, credLimits, opts.requireBotSecret);
      const first = seen.get(e.id);
      if (first !== undefined) throw new GuardError('KG2011', `bot ${e.id} is also on line ${first} of the batch`);
      seen.set(e.id, e.line);
    } catch (err) {
      problems.push(problemOf(e.line, id, err, opts.language));
    }
  }
  if (entries.length === 0 && problems.length === 0) problems.push(problemOf(0, undefined, new GuardError('KG2010', 'the batch is empty'), opts.language));
  refuseIf(entries, problems, limits);
  return entries;
}

function refuseIf(entries: readonly BatchEntry[], problems: BatchProblem[], limits: BatchLimits): void {
  if (problems.length === 0) return;
  wipeBatch(entries);
  problems.sort((a, b) => a.line - b.line);
  throw new BatchRefused(problems.slice(0, limits.maxProblemsListed), Math.max(0, problems.length - limits.maxProblemsListed));
}

export interface ApplyDeps {
  readonly bots: BotRegistry;
  readonly vault: ManagedVault;
  readonly language: Language;
  readonly limits?: Partial<BatchLimits>;
}

/**
 * Checks the entries against what is registered (bots, credential records),
 * then writes: the credential records (one envelope seal each, seconds for
 * thousands with KMS), then the bots (one hash each); if the bots fail, the
 * records just written are destroyed again. All or none; an import killed
 * while sealing leaves nothing, never a bot enabled without keys. Wipes every
 * secret of the entries whatever happens.
 */
export async function applyBatch(entries: BatchEntry[], d: ApplyDeps): Promise<BatchResult> {
  const limits = { ...DEFAULT_BATCH_LIMITS, ...d.limits };
  try {
    const ids = entries.map((e) => e.id);
    const bots = await d.bots.existing(ids);
    const records = new Set(await d.vault.recordIds());
    const problems: BatchProblem[] = [];
    for (const e of entries) {
      if (bots.has(e.id)) problems.push(problemOf(e.line, e.id, new GuardError('KG2011', `bot ${e.id}`), d.language));
      if (e.appKey && records.has(e.id)) problems.push(problemOf(e.line, e.id, new GuardError('KG4008', `bot ${e.id}: use keys rotate`), d.language));
      if (!e.botSecret) problems.push(problemOf(e.line, e.id, new GuardError('KG2010', 'botSecret missing'), d.language));
    }
    refuseIf(entries, problems, limits);
    const botInputs: BatchBotInput[] = entries.map((e) => ({
      id: e.id,
      owner: e.owner,
      account: e.account,
      ...(e.allowed ? { allowed: e.allowed } : {}),
      secret: e.botSecret!,
    }));
    const creds = entries.filter((e) => e.appKey && e.secretKey);
    await d.vault.importMany(creds.map((e) => ({ botId: e.id, account: e.account, appKey: e.appKey!, secretKey: e.secretKey! })));
    try {
      await d.bots.addMany(botInputs);
    } catch (err) {
      // Every record is tried; the bots' failure is what the caller hears.
      await forEachLimited(creds, 16, (e) =>
        d.vault.destroyCredentials(e.id).then(
          () => undefined,
          () => undefined,
        ),
      );
      throw err;
    }
    return { bots: entries.length, credentials: creds.length, ids };
  } finally {
    wipeBatch(entries);
  }
}

/** A digest of the ids a batch created, for the audit record (the ids themselves go in chunks). */
export function idsDigest(ids: readonly string[]): string {
  return createHash('sha256').update(ids.join('\n')).digest('hex');
}
