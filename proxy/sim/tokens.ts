// Apps (app key + secret key -> account) and the broker tokens issued to them.
// Keys are kept as Buffers; tokens are looked up by SHA-256 digest. In the
// faithful (shared) mode each app's current live token is also kept, as a
// Buffer, so au10001 can hand the same token out again as Kiwoom does; it is
// zero-filled as soon as the token is revoked, found expired or cleared.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SimError } from './responses.js';

export interface SimApp {
  readonly id: string;
  readonly appKey: Buffer;
  readonly secretKey: Buffer;
  readonly accountNo: string;
}

export interface TokenRecord {
  readonly appId: string;
  readonly accountNo: string;
  readonly expiresAt: number;
  /** Source address of the au10001 that created the token, without '::ffff:'. */
  readonly issuedFrom: string;
  revoked: boolean;
}

interface CurrentToken {
  readonly digest: string;
  readonly token: Buffer;
  readonly expiresAt: number;
}

/** An au10001 answer. The caller owns `token` (a copy) and should zero-fill it once sent. */
export interface Issued {
  readonly token: Buffer;
  readonly expiresAt: number;
  /** False when the app's live token was handed out again. */
  readonly fresh: boolean;
}

export type RevokeOutcome = 'revoked' | 'already-revoked' | 'unknown';

const MAX_KEY_BYTES = 512;
// Revoked and expired records are kept (so a repeated revoke is recognised)
// until the map reaches this size, then pruned.
const PRUNE_AT = 100_000;

function digest(data: Buffer | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Throws SimError unless the key is 1..512 bytes; keeps no copy. */
export function checkKey(value: Buffer | string, name: string): void {
  toBuffer(value, name).fill(0);
}

function toBuffer(value: Buffer | string, name: string): Buffer {
  const buf = Buffer.isBuffer(value) ? Buffer.from(value) : Buffer.from(String(value), 'utf8');
  if (buf.length === 0 || buf.length > MAX_KEY_BYTES) throw new SimError(`${name} must be 1..${MAX_KEY_BYTES} bytes`);
  return buf;
}

export class Credentials {
  private readonly apps = new Map<string, SimApp>();
  private readonly tokens = new Map<string, TokenRecord>();
  /** appId -> the token au10001 returns while it is live (shared mode only). */
  private readonly current = new Map<string, CurrentToken>();
  issued = 0;
  reused = 0;
  revoked = 0;

  register(appKey: Buffer | string, secretKey: Buffer | string, accountNo: string): SimApp {
    const key = toBuffer(appKey, 'appKey');
    const secret = toBuffer(secretKey, 'secretKey');
    const id = digest(key).toString('hex');
    this.apps.get(id)?.secretKey.fill(0);
    const app: SimApp = { id, appKey: key, secretKey: secret, accountNo };
    this.apps.set(id, app);
    return app;
  }

  /** The app whose keys both match, compared in constant time; undefined otherwise. */
  verify(appKey: string, secretKey: string): SimApp | undefined {
    const app = this.apps.get(digest(appKey).toString('hex'));
    const given = digest(secretKey);
    const expected = digest(app?.secretKey ?? Buffer.alloc(1));
    const ok = timingSafeEqual(given, expected);
    return app && ok ? app : undefined;
  }

  /**
   * shared (Kiwoom): the app's live token again, expiry unchanged, or a new
   * one when there is none. Not shared (ideal): always a new independent token.
   */
  issue(app: SimApp, now: number, ttlMs: number, shared: boolean, address: string): Issued {
    if (shared) {
      const cur = this.currentLive(app.id, now);
      if (cur) {
        this.reused++;
        return { token: Buffer.from(cur.token), expiresAt: cur.expiresAt, fresh: false };
      }
    }
    if (this.tokens.size >= PRUNE_AT) this.prune(now);
    const token = Buffer.from(randomBytes(48).toString('base64url'), 'utf8');
    const key = digest(token).toString('hex');
    const expiresAt = now + ttlMs;
    this.tokens.set(key, { appId: app.id, accountNo: app.accountNo, expiresAt, issuedFrom: address, revoked: false });
    if (shared) this.current.set(app.id, { digest: key, token: Buffer.from(token), expiresAt });
    this.issued++;
    return { token, expiresAt, fresh: true };
  }

  /** The record of a live token, or undefined (unknown, revoked or expired). */
  lookup(token: string, now: number): TokenRecord | undefined {
    const key = digest(token).toString('hex');
    const rec = this.tokens.get(key);
    if (!rec) return undefined;
    if (this.isLive(rec, now)) return rec;
    this.forgetCurrent(rec.appId, key);
    return undefined;
  }

  revoke(app: SimApp, token: string): RevokeOutcome {
    const key = digest(token).toString('hex');
    const rec = this.tokens.get(key);
    if (!rec || rec.appId !== app.id) return 'unknown';
    if (rec.revoked) return 'already-revoked';
    rec.revoked = true;
    this.revoked++;
    this.forgetCurrent(rec.appId, key);
    return 'revoked';
  }

  /** Revokes every live token (of `accountNo`'s apps, when given); returns how many. */
  revokeAll(now: number, accountNo?: string): number {
    let n = 0;
    for (const [key, rec] of this.tokens) {
      if (!this.isLive(rec, now) || (accountNo !== undefined && rec.accountNo !== accountNo)) continue;
      rec.revoked = true;
      this.revoked++;
      n++;
      this.forgetCurrent(rec.appId, key);
    }
    return n;
  }

  live(now: number): number {
    let n = 0;
    for (const rec of this.tokens.values()) if (this.isLive(rec, now)) n++;
    for (const appId of [...this.current.keys()]) this.currentLive(appId, now);
    return n;
  }

  clear(): void {
    for (const app of this.apps.values()) {
      app.appKey.fill(0);
      app.secretKey.fill(0);
    }
    for (const cur of this.current.values()) cur.token.fill(0);
    this.current.clear();
    this.apps.clear();
    this.tokens.clear();
    this.issued = 0;
    this.reused = 0;
    this.revoked = 0;
  }

  private currentLive(appId: string, now: number): CurrentToken | undefined {
    const cur = this.current.get(appId);
    if (!cur) return undefined;
    const rec = this.tokens.get(cur.digest);
    if (rec && this.isLive(rec, now)) return cur;
    this.forgetCurrent(appId, cur.digest);
    return undefined;
  }

  private forgetCurrent(appId: string, key: string): void {
    const cur = this.current.get(appId);
    if (cur?.digest !== key) return;
    cur.token.fill(0);
    this.current.delete(appId);
  }

  private isLive(rec: TokenRecord, now: number): boolean {
    return !rec.revoked && rec.expiresAt > now;
  }

  private prune(now: number): void {
    for (const [k, rec] of this.tokens) if (!this.isLive(rec, now)) this.tokens.delete(k);
  }
}
