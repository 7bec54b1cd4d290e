// Bot identities: one JSON file per bot under <dataDir>/bots, written
// atomically. Bot secrets are stored only as hashes: 256-bit random secrets
// the sidecar generates take a salted SHA-256 (a slow KDF adds nothing
// against guessing 2^256 values; NIST SP 800-63B §5.1.1.2 asks for one only
// for memorised secrets), records written before keep their scrypt hash and
// still verify. The registry watches the folder so `kguard bots disable`
// takes effect in a running sidecar without a restart; a change re-reads only
// the file that changed.
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { readdirSync, readFileSync, statSync, watch, type BigIntStats, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createFilesExclusive, ensurePrivateDir, forEachLimited, writeFileAtomic } from '../common/fsutil.js';
import { GuardError } from '../common/errors.js';
import { BOT_ID_PATTERN, validateBotInput } from './bot-input.js';

export { BOT_ID_PATTERN, MAX_BOT_SECRET_BYTES, MIN_BOT_SECRET_BYTES, validateBotInput, validateBotSecret } from './bot-input.js';

const scrypt = promisify(scryptCb) as (pw: Buffer, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** Until the policy engine decides, a bot may call only these: read-only quotes and account inquiries. */
export const DEFAULT_ALLOWED = ['kind:query', 'kind:account'] as const;

type SecretHash = { alg: 'scrypt'; N: number; r: number; p: number; salt: string; hash: string } | { alg: 'sha256'; salt: string; hash: string };

export interface BotRecord {
  id: string;
  owner: string;
  account: string;
  /** api-ids (e.g. kt10000) or kinds (kind:query); least privilege. */
  allowed: string[];
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  secret: SecretHash;
}

export type PublicBot = Omit<BotRecord, 'secret'>;

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32, maxmem: 64 * 1024 * 1024 };

function sha256(salt: Buffer, secret: Buffer): Buffer {
  return createHash('sha256').update(salt).update(secret).digest();
}

/** The stored form of a high-entropy secret: salted SHA-256 (the salt keeps equal secrets apart and defeats precomputed tables). */
export function hashSecret(secret: Buffer, salt = randomBytes(16)): SecretHash {
  return { alg: 'sha256', salt: salt.toString('base64'), hash: sha256(salt, secret).toString('base64') };
}

async function verifySecret(secret: Buffer, h: SecretHash): Promise<boolean> {
  const expected = Buffer.from(h.hash, 'base64');
  const salt = Buffer.from(h.salt, 'base64');
  const actual = h.alg === 'scrypt' ? await scrypt(secret, salt, expected.length, { N: h.N, r: h.r, p: h.p, maxmem: SCRYPT.maxmem }) : sha256(salt, secret);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A new bot secret: base64url of 32 random bytes (printable, no JSON escaping needed). The caller shows it once and wipes it. */
export function generateBotSecret(): Buffer {
  const raw = randomBytes(32);
  const secret = Buffer.from(raw.toString('base64url'), 'latin1');
  raw.fill(0);
  return secret;
}

/** One bot of a batch, validated by the caller (validateBotInput, validateBotSecret). */
export interface BatchBotInput {
  id: string;
  owner: string;
  account: string;
  allowed?: string[];
  /** The bot's secret; only its hash is kept. The caller wipes it. */
  secret: Buffer;
}

/** How many bot files are read or written at once. */
const FILE_CONCURRENCY = 16;

export function publicBot(b: BotRecord): PublicBot {
  const { secret: _secret, ...rest } = b;
  return rest;
}

/** Whether a bot's own allowlist admits this api-id of this kind. */
export function botAllows(bot: BotRecord, apiId: string, kind: string): boolean {
  return bot.allowed.includes(apiId) || bot.allowed.includes(`kind:${kind}`) || bot.allowed.includes('*');
}

/** A bot file's record, or undefined when unreadable or not the record its name says. */
function parseBotFile(name: string, read: () => string): BotRecord | undefined {
  try {
    const rec = JSON.parse(read()) as BotRecord;
    return typeof rec.id === 'string' && BOT_ID_PATTERN.test(rec.id) && `${rec.id}.json` === name ? rec : undefined;
  } catch {
    return undefined; // a file being replaced; the next watch event reloads it
  }
}

/** What a file's re-check compares: any write, replace or removal changes it. */
function identity(st: BigIntStats | undefined): string {
  return st ? `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : '';
}

export class BotRegistry {
  private bots = new Map<string, BotRecord>();
  /**
   * Changes to the map per bot, counted: this process's own writes, and one file's re-read (a watch event).
   * A re-read that began before one of them read the file as it was, and must not put the older record back
   * (a bot enabled right after its disable, refused as disabled meanwhile; a disable by the CLI undone by a
   * folder re-read that read the file first).
   */
  private readonly changes = new Map<string, number>();
  private watcher?: FSWatcher;
  private reloadTimer?: NodeJS.Timeout;
  /**
   * The re-check (watch events never come for another host's writes on a shared volume: EFS, NFS):
   * each bot file's identity when last read, the folder's at the last pass, when a full pass last ran.
   */
  private readonly seen = new Map<string, string>();
  private folderSeen = '';
  private fullPassAt = 0;
  private rechecking = false;
  private recheckTimer?: NodeJS.Timeout;
  /** A fixed record so unknown bot ids cost the same scrypt as known ones. */
  private decoy?: SecretHash;

  private constructor(
    private readonly dir: string,
    private readonly readText: (file: string) => Promise<string>,
  ) {}

  /** `readText` reads a bot file after start-up (a test holds one read to order it against a write). */
  /** `recheckMs` (default 2 s with `watch`, else off): how often the folder is checked for changes no watch event reported. */
  static async open(dataDir: string, opts: { watch?: boolean; recheckMs?: number; readText?: (file: string) => Promise<string> } = {}): Promise<BotRegistry> {
    const reg = new BotRegistry(path.join(dataDir, 'bots'), opts.readText ?? ((file) => readFile(file, 'utf8')));
    await ensurePrivateDir(reg.dir);
    reg.loadAllSync();
    reg.decoy = hashSecret(randomBytes(32));
    if (opts.watch) {
      // Named changes are re-read one file each; an unnamed event (overflow) re-reads the folder.
      const pending = new Set<string>();
      let full = false;
      reg.watcher = watch(reg.dir, (_event, filename) => {
        const name = filename === null || filename === undefined ? undefined : String(filename);
        if (name === undefined) full = true;
        else if (name.endsWith('.json') && !name.startsWith('.')) pending.add(name.slice(0, -'.json'.length));
        else return;
        clearTimeout(reg.reloadTimer);
        reg.reloadTimer = setTimeout(() => {
          const ids = [...pending];
          const all = full || ids.length > 1_000;
          pending.clear();
          full = false;
          void (all ? reg.reload() : forEachLimited(ids, FILE_CONCURRENCY, (id) => reg.reloadOne(id))).catch(() => undefined);
        }, 50);
      });
      reg.watcher.unref();
    }
    const recheckMs = opts.recheckMs ?? (opts.watch ? 2_000 : 0);
    if (recheckMs > 0) {
      reg.recheckTimer = setInterval(() => void reg.recheck(recheckMs).catch(() => undefined), recheckMs);
      reg.recheckTimer.unref();
    }
    return reg;
  }

  /**
   * Re-reads the bot files whose identity changed since they were read, and drops removed ones. Every
   * write here is a rename or link, which changes the folder: a pass runs when it did, and every 10 checks.
   */
  private async recheck(recheckMs: number): Promise<void> {
    if (this.rechecking) return;
    this.rechecking = true;
    try {
      const folder = identity(await stat(this.dir, { bigint: true }));
      if (folder === this.folderSeen && Date.now() - this.fullPassAt < 10 * recheckMs) return;
      this.folderSeen = folder; // before the pass: a change during it shows at the next check
      this.fullPassAt = Date.now();
      const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
      const changed: string[] = [];
      await forEachLimited(names, FILE_CONCURRENCY, async (name) => {
        const now = identity(await stat(path.join(this.dir, name), { bigint: true }).catch(() => undefined));
        if (this.seen.get(name) !== now) changed.push(name);
      });
      const present = new Set(names);
      for (const name of this.seen.keys()) if (!present.has(name)) changed.push(name);
      await forEachLimited(changed, FILE_CONCURRENCY, (name) => this.reloadOne(name.slice(0, -'.json'.length)));
    } finally {
      this.rechecking = false;
    }
  }

  async reload(): Promise<void> {
    const before = new Map(this.changes);
    const next = new Map<string, BotRecord>();
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
    await forEachLimited(names, FILE_CONCURRENCY, async (name) => {
      const rec = await this.readOne(name);
      if (rec) next.set(rec.id, rec);
    });
    for (const [id, n] of this.changes) {
      if (before.get(id) === n) continue;
      const mine = this.bots.get(id);
      if (mine) next.set(id, mine);
      else next.delete(id);
    }
    this.bots = next;
  }

  /** Records a change this process made to one bot (see `changes`). */
  private changed(id: string): void {
    this.changes.set(id, (this.changes.get(id) ?? 0) + 1);
  }

  /**
   * The first load, before anything is served: synchronous reads are several
   * times faster than thread-pool round trips (10,000 bots: ~0.2 s instead of
   * ~1.5 s on a busy 2-core machine) and there is no one to block yet.
   */
  private loadAllSync(): void {
    const next = new Map<string, BotRecord>();
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      this.seen.set(name, identity(statSync(path.join(this.dir, name), { bigint: true, throwIfNoEntry: false })));
      const rec = parseBotFile(name, () => readFileSync(path.join(this.dir, name), 'utf8'));
      if (rec) next.set(rec.id, rec);
    }
    this.bots = next;
  }

  /** One bot file, or undefined when it is absent, being replaced, or not a bot record. */
  private async readOne(name: string): Promise<BotRecord | undefined> {
    const file = path.join(this.dir, name);
    // Taken before the read: a change after it shows as a new identity at the next re-check.
    const now = identity(await stat(file, { bigint: true }).catch(() => undefined));
    if (now) this.seen.set(name, now);
    else this.seen.delete(name);
    let text: string;
    try {
      text = await this.readText(file);
    } catch {
      return undefined; // a file being replaced; the next watch event reloads it
    }
    return parseBotFile(name, () => text);
  }

  /** Re-reads one bot's file after a watch event named it. */
  private async reloadOne(id: string): Promise<void> {
    const before = this.changes.get(id);
    const rec = await this.readOne(`${id}.json`);
    // Changed here meanwhile: what was read may be older than that change; the file now holds it or something newer.
    if (this.changes.get(id) !== before) return this.reloadOne(id);
    if (rec) this.bots.set(id, rec);
    else this.bots.delete(id);
    this.changed(id);
  }

  get(id: string): BotRecord | undefined {
    return this.bots.get(id);
  }

  list(): PublicBot[] {
    return [...this.bots.values()].map(publicBot).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Creates a bot and returns its secret once (a Buffer the caller shows and wipes). */
  async add(input: { id: string; owner: string; account: string; allowed?: string[] }): Promise<{ bot: PublicBot; secret: Buffer }> {
    if (!BOT_ID_PATTERN.test(input.id)) throw new GuardError('KG2010', `bot id must match ${BOT_ID_PATTERN}`);
    const allowed = input.allowed?.length ? input.allowed : [...DEFAULT_ALLOWED];
    validateBotInput({ ...input, allowed });
    await this.reloadOne(input.id);
    if (this.bots.has(input.id)) throw new GuardError('KG2011', `bot ${input.id}`);
    const secret = generateBotSecret();
    const now = new Date().toISOString();
    const rec: BotRecord = {
      id: input.id,
      owner: input.owner,
      account: input.account,
      allowed,
      enabled: true,
      createdAt: now,
      updatedAt: now,
      secret: hashSecret(secret),
    };
    await this.write(rec);
    return { bot: publicBot(rec), secret };
  }

  /** Which of these ids are registered (read from the files, not the possibly stale map). */
  async existing(ids: readonly string[]): Promise<Set<string>> {
    const names = new Set(await readdir(this.dir));
    return new Set(ids.filter((id) => names.has(`${id}.json`)));
  }

  /**
   * Registers many bots at once, all or none (validated by the caller): one
   * hash each, the files written concurrently and linked into place without
   * replacing any existing one (KG2011 if an id appeared meanwhile; the
   * bots already linked are removed again), one directory fsync.
   */
  async addMany(inputs: readonly BatchBotInput[]): Promise<PublicBot[]> {
    const now = new Date().toISOString();
    const recs: BotRecord[] = inputs.map((i) => ({
      id: i.id,
      owner: i.owner,
      account: i.account,
      allowed: i.allowed?.length ? [...i.allowed] : [...DEFAULT_ALLOWED],
      enabled: true,
      createdAt: now,
      updatedAt: now,
      secret: hashSecret(i.secret),
    }));
    try {
      await createFilesExclusive(
        this.dir,
        recs.map((r) => ({ name: `${r.id}.json`, data: `${JSON.stringify(r, null, 2)}\n` })),
        { concurrency: FILE_CONCURRENCY },
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new GuardError('KG2011', 'a bot of the batch was registered meanwhile; nothing was added');
      throw err;
    }
    for (const r of recs) {
      this.bots.set(r.id, r);
      this.changed(r.id);
    }
    return recs.map(publicBot);
  }

  /** Removes bots this process just added (a batch rolled back after a later step failed). */
  async removeAdded(ids: readonly string[]): Promise<void> {
    await forEachLimited(ids, FILE_CONCURRENCY, async (id) => {
      await unlink(path.join(this.dir, `${id}.json`)).catch(() => undefined);
      this.bots.delete(id);
      this.changed(id);
    });
  }

  /** Deletes a bot's registration file (offboarding, server/bot-remove.ts); KG2012 when there is none. */
  async remove(id: string): Promise<void> {
    if (!BOT_ID_PATTERN.test(id)) throw new GuardError('KG2012', 'bot id');
    try {
      await unlink(path.join(this.dir, `${id}.json`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.bots.delete(id);
      this.changed(id);
      throw new GuardError('KG2012', `bot ${id}`);
    }
    this.bots.delete(id);
    this.changed(id);
  }

  async setEnabled(id: string, enabled: boolean): Promise<PublicBot> {
    await this.reloadOne(id);
    const rec = this.bots.get(id);
    if (!rec) throw new GuardError('KG2012', `bot ${id}`);
    const next = { ...rec, enabled, updatedAt: new Date().toISOString() };
    await this.write(next);
    return publicBot(next);
  }

  /** Verifies bot id + secret; the same work whether or not the bot exists. */
  async authenticate(id: string, secret: Buffer): Promise<BotRecord> {
    const rec = this.bots.get(id);
    const ok = await verifySecret(secret, rec?.secret ?? this.decoy!);
    if (!rec || !ok) throw new GuardError('KG2005');
    if (!rec.enabled) throw new GuardError('KG2006');
    return rec;
  }

  close(): void {
    this.watcher?.close();
    clearTimeout(this.reloadTimer);
    clearInterval(this.recheckTimer);
  }

  private async write(rec: BotRecord): Promise<void> {
    await writeFileAtomic(path.join(this.dir, `${rec.id}.json`), `${JSON.stringify(rec, null, 2)}\n`);
    this.bots.set(rec.id, rec);
    this.changed(rec.id);
  }
}
