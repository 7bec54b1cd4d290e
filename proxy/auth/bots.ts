// Bot identities: one JSON file per bot under <dataDir>/bots, written
// atomically. Bot secrets are stored only as scrypt hashes. The registry
// watches the folder so `kguard bots disable` takes effect in a running
// sidecar without a restart.
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensurePrivateDir, writeFileAtomic } from '../common/fsutil.js';
import { GuardError } from '../common/errors.js';

const scrypt = promisify(scryptCb) as (pw: Buffer, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

export const BOT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{2,63}$/;
/** Until the policy engine decides, a bot may call only these: read-only quotes and account inquiries. */
export const DEFAULT_ALLOWED = ['kind:query', 'kind:account'] as const;

interface SecretHash {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

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

async function hashSecret(secret: Buffer, salt = randomBytes(16)): Promise<SecretHash> {
  const hash = await scrypt(secret, salt, SCRYPT.keylen, SCRYPT);
  return { alg: 'scrypt', N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64'), hash: hash.toString('base64') };
}

async function verifySecret(secret: Buffer, h: SecretHash): Promise<boolean> {
  const expected = Buffer.from(h.hash, 'base64');
  const actual = await scrypt(secret, Buffer.from(h.salt, 'base64'), expected.length, { N: h.N, r: h.r, p: h.p, maxmem: SCRYPT.maxmem });
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export function publicBot(b: BotRecord): PublicBot {
  const { secret: _secret, ...rest } = b;
  return rest;
}

/** Whether a bot's own allowlist admits this api-id of this kind. */
export function botAllows(bot: BotRecord, apiId: string, kind: string): boolean {
  return bot.allowed.includes(apiId) || bot.allowed.includes(`kind:${kind}`) || bot.allowed.includes('*');
}

export class BotRegistry {
  private bots = new Map<string, BotRecord>();
  private watcher?: FSWatcher;
  private reloadTimer?: NodeJS.Timeout;
  /** A fixed record so unknown bot ids cost the same scrypt as known ones. */
  private decoy?: SecretHash;

  private constructor(private readonly dir: string) {}

  static async open(dataDir: string, opts: { watch?: boolean } = {}): Promise<BotRegistry> {
    const reg = new BotRegistry(path.join(dataDir, 'bots'));
    await ensurePrivateDir(reg.dir);
    await reg.reload();
    reg.decoy = await hashSecret(randomBytes(32));
    if (opts.watch) {
      reg.watcher = watch(reg.dir, () => {
        clearTimeout(reg.reloadTimer);
        reg.reloadTimer = setTimeout(() => void reg.reload().catch(() => undefined), 50);
      });
      reg.watcher.unref();
    }
    return reg;
  }

  async reload(): Promise<void> {
    const next = new Map<string, BotRecord>();
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      try {
        const rec = JSON.parse(await readFile(path.join(this.dir, name), 'utf8')) as BotRecord;
        if (BOT_ID_PATTERN.test(rec.id)) next.set(rec.id, rec);
      } catch {
        // a file being replaced; the next watch event reloads it
      }
    }
    this.bots = next;
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
    await this.reload();
    if (this.bots.has(input.id)) throw new GuardError('KG2011', `bot ${input.id}`);
    const allowed = input.allowed?.length ? input.allowed : [...DEFAULT_ALLOWED];
    for (const a of allowed) {
      if (!/^(\*|kind:[a-z]+|[a-z]{2}\d{5})$/.test(a)) throw new GuardError('KG2010', `allowed entry '${a}' must be an api-id (kt10000), kind:<kind> or *`);
    }
    // base64url of 32 random bytes: printable, no JSON escaping needed.
    const secret = Buffer.from(randomBytes(32).toString('base64url'), 'latin1');
    const now = new Date().toISOString();
    const rec: BotRecord = {
      id: input.id,
      owner: input.owner,
      account: input.account,
      allowed,
      enabled: true,
      createdAt: now,
      updatedAt: now,
      secret: await hashSecret(secret),
    };
    await this.write(rec);
    return { bot: publicBot(rec), secret };
  }

  async setEnabled(id: string, enabled: boolean): Promise<PublicBot> {
    await this.reload();
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
  }

  private async write(rec: BotRecord): Promise<void> {
    await writeFileAtomic(path.join(this.dir, `${rec.id}.json`), `${JSON.stringify(rec, null, 2)}\n`);
    this.bots.set(rec.id, rec);
  }
}
