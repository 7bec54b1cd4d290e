// Apps (app key + secret key -> account) and the broker tokens issued to them.
// Keys are kept as Buffers; tokens are kept only as SHA-256 digests.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SimError } from './responses.js';

export interface SimApp {
  readonly id: string;
  readonly appKey: Buffer;
  readonly secretKey: Buffer;
  readonly accountNo: string;
}

interface TokenRecord {
  readonly appId: string;
  readonly accountNo: string;
  readonly expiresAt: number;
  revoked: boolean;
  superseded: boolean;
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
  issued = 0;
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

  issue(app: SimApp, now: number, ttlMs: number, singleTokenPerApp: boolean): { token: string; expiresAt: number } {
    if (singleTokenPerApp) {
      for (const rec of this.tokens.values()) if (rec.appId === app.id && !rec.revoked) rec.superseded = true;
    }
    if (this.tokens.size >= PRUNE_AT) this.prune(now);
    const token = randomBytes(48).toString('base64url');
    const expiresAt = now + ttlMs;
    this.tokens.set(digest(token).toString('hex'), { appId: app.id, accountNo: app.accountNo, expiresAt, revoked: false, superseded: false });
    this.issued++;
    return { token, expiresAt };
  }

  /** The account a live token speaks for, or undefined. */
  accountFor(token: string, now: number): string | undefined {
    const rec = this.tokens.get(digest(token).toString('hex'));
    return rec && this.isLive(rec, now) ? rec.accountNo : undefined;
  }

  revoke(app: SimApp, token: string): RevokeOutcome {
    const rec = this.tokens.get(digest(token).toString('hex'));
    if (!rec || rec.appId !== app.id) return 'unknown';
    if (rec.revoked) return 'already-revoked';
    rec.revoked = true;
    this.revoked++;
    return 'revoked';
  }

  live(now: number): number {
    let n = 0;
    for (const rec of this.tokens.values()) if (this.isLive(rec, now)) n++;
    return n;
  }

  clear(): void {
    for (const app of this.apps.values()) {
      app.appKey.fill(0);
      app.secretKey.fill(0);
    }
    this.apps.clear();
    this.tokens.clear();
    this.issued = 0;
    this.revoked = 0;
  }

  private isLive(rec: TokenRecord, now: number): boolean {
    return !rec.revoked && !rec.superseded && rec.expiresAt > now;
  }

  private prune(now: number): void {
    for (const [k, rec] of this.tokens) if (!this.isLive(rec, now)) this.tokens.delete(k);
  }
}
