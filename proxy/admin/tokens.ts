// Admin API credentials: random 256-bit bearer tokens shown once, stored as
// SHA-256 digests (high-entropy tokens need no slow hash) in <dataDir>/admins.json.
// Roles are ordered: viewer < approver < admin. A change reads, edits and
// rewrites the whole file under a cross-process lock (admins.json.lock), so
// two `kguard admins` runs at once lose neither change. Reads are asynchronous and
// re-read the file only when its identity changed: admins.json may sit on a network
// volume, and a stalled read must hold only the admin request, not every bot's call.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { GuardError } from '../common/errors.js';
import { PERSON_NAME } from '../common/validate.js';
import { writeFileAtomic } from '../common/fsutil.js';
import { withFileLock } from '../vault/files.js';

import type { AdminPrincipal, Role } from '../common/admin-route.js';

export type { AdminPrincipal, Role };
const RANK: Record<Role, number> = { viewer: 1, approver: 2, admin: 3 };
export const ROLES = Object.keys(RANK) as Role[];

interface StoredAdmin extends AdminPrincipal {
  readonly digest: string;
  readonly createdAt: string;
}

const PREFIX = 'kga_';
const NAME = PERSON_NAME;

/** How long a change waits for another one, and when a crashed writer's lock is broken. */
const LOCK = { timeoutMs: 10_000, staleMs: 30_000 };

function digest(token: Buffer): Buffer {
  return createHash('sha256').update(token).digest();
}

export class AdminTokens {
  private admins: StoredAdmin[] = [];

  constructor(private readonly file: string) {}

  static forDataDir(dataDir: string): AdminTokens {
    return new AdminTokens(path.join(dataDir, 'admins.json'));
  }

  /** The file's identity when it was last read (inode, size, mtime in ns); absent file: 'none'. */
  private readIdentity: string | undefined;
  private reading: Promise<void> | undefined;

  /** Brings the list up to date with the file: one stat per call, a read only when it changed (concurrent calls share it). */
  private refresh(): Promise<void> {
    this.reading ??= this.reread().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async reread(): Promise<void> {
    const identity = await this.identity();
    if (identity === this.readIdentity) return;
    this.admins = await this.readAll(identity);
    this.readIdentity = identity;
  }

  private async identity(): Promise<string> {
    const st = await stat(this.file, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    return st ? `${st.ino}:${st.size}:${st.mtimeNs}` : 'none';
  }

  private async readAll(identity: string): Promise<StoredAdmin[]> {
    return identity === 'none' ? [] : (JSON.parse(await readFile(this.file, 'utf8')) as StoredAdmin[]);
  }

  async list(): Promise<AdminPrincipal[]> {
    await this.refresh();
    return this.admins.map(({ name, role }) => ({ name, role }));
  }

  /** Creates an admin token; returns it once as a Buffer for the caller to print and wipe. */
  async create(name: string, role: Role): Promise<Buffer> {
    if (!NAME.test(name)) throw new GuardError('KG2010', `admin name must match ${NAME}`);
    if (!ROLES.includes(role)) throw new GuardError('KG2010', `role must be one of ${ROLES.join(', ')}`);
    return this.change(async (admins) => {
      if (admins.some((a) => a.name === name)) throw new GuardError('KG2011', `admin ${name}`);
      const token = Buffer.from(PREFIX + randomBytes(32).toString('base64url'), 'latin1');
      try {
        await this.save([...admins, { name, role, digest: digest(token).toString('hex'), createdAt: new Date().toISOString() }]);
      } catch (err) {
        token.fill(0);
        throw err;
      }
      return token;
    });
  }

  async remove(name: string): Promise<void> {
    await this.change((admins) => this.save(admins.filter((a) => a.name !== name)));
  }

  /**
   * Read-modify-write of admins.json, one writer at a time across processes. The file is read afresh under the
   * lock, not from this process's copy (a read begun before the lock may predate another writer's change).
   */
  private change<T>(fn: (admins: StoredAdmin[]) => Promise<T>): Promise<T> {
    return withFileLock(`${this.file}.lock`, LOCK, async () => fn(await this.readAll(await this.identity())));
  }

  private async save(admins: StoredAdmin[]): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(admins, null, 2)}\n`);
    this.readIdentity = undefined; // read back at the next use
  }

  async authenticate(header: string | undefined): Promise<AdminPrincipal> {
    const m = header ? /^Bearer (kga_[A-Za-z0-9_-]{43})$/.exec(header) : null;
    if (!m) throw new GuardError('KG2001');
    await this.refresh();
    const d = digest(Buffer.from(m[1]!, 'latin1'));
    const found = this.admins.find((a) => timingSafeEqual(Buffer.from(a.digest, 'hex'), d));
    if (!found) throw new GuardError('KG2002');
    return { name: found.name, role: found.role };
  }

  /** When the named admin's token was made, while they exist with at least `role`; undefined once removed. */
  async enrolledAt(name: string, role: Role): Promise<string | undefined> {
    await this.refresh();
    const a = this.admins.find((x) => x.name === name);
    return a && RANK[a.role] >= RANK[role] ? a.createdAt : undefined;
  }

  permits(p: AdminPrincipal, needed: Role): boolean {
    return RANK[p.role] >= RANK[needed];
  }
}
