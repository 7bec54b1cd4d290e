// Sidecar tokens: short-lived HS256 JWTs (jose) bound to one bot. A call is
// accepted only if the signature, algorithm, issuer, audience and expiry are
// right, its jti was not revoked, and it was issued in the bot's current
// session epoch (so "kill all sessions" is one write).
import { createHash, createSecretKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { GuardError } from '../common/errors.js';
import { messageObject } from '../common/json.js';
import { readPrivateFile, writeFileAtomic } from '../common/fsutil.js';
import type { Store, Unsubscribe } from '../state/types.js';

export interface SessionOptions {
  ttlSeconds: number;
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  /** Tokens whose signature and claims were checked, kept by SHA-256 digest (never the token) until they expire; 0 = none. */
  verifiedCacheSize?: number;
}

const DEFAULT_VERIFIED_CACHE_SIZE = 10_000;

export interface SessionClaims {
  readonly botId: string;
  readonly jti: string;
  readonly epoch: number;
  readonly exp: number;
  /** The createdAt of the bot registration it was issued to (claim `bc`); absent in tokens issued before tokens named it. */
  readonly botCreatedAt?: string;
}

/**
 * Whether a token was issued to this registration of its bot id, not to an earlier bot removed and registered
 * again under the same id (another owner, account and secret; the epoch key outlives the bot). A token without
 * the claim is taken as this bot's: only an earlier version issued it, and it expires within the token TTL.
 */
export function issuedTo(claims: SessionClaims, bot: { readonly createdAt: string }): boolean {
  return claims.botCreatedAt === undefined || claims.botCreatedAt === bot.createdAt;
}

/** A bot's sessions ended (killed, or the bot disabled), told to every replica: their realtime sockets close at once. */
export const SESSIONS_ENDED_CHANNEL = 'auth:sessions-ended';

export interface SessionsEnded {
  readonly botId: string;
  /** Sessions of earlier epochs ended. */
  readonly epoch: number;
  /** What their next check would say: KG2006 disabled, KG2007 killed. */
  readonly code: 'KG2006' | 'KG2007';
}

/** The message, or undefined when it is not one. */
export function parseSessionsEnded(raw: string): SessionsEnded | undefined {
  const m = messageObject(raw);
  if (!m) return undefined;
  const { botId, epoch, code } = m;
  if (typeof botId !== 'string' || !botId || !Number.isSafeInteger(epoch) || (code !== 'KG2006' && code !== 'KG2007')) return undefined;
  return { botId, epoch: epoch as number, code };
}

/**
 * A refusal of a token that can no longer be used (bad, expired, revoked, its session ended): it carries Kiwoom's
 * [8005] as well, on which Kiwoom clients log in again (a sidecar token lives minutes where Kiwoom's lives a day).
 */
export function unusableToken(code: 'KG2002' | 'KG2003' | 'KG2004' | 'KG2007', detail?: string): GuardError {
  return new GuardError(code, detail, { kiwoom: '8005' });
}

const ALG = 'HS256';
const MAX_TOKEN_LENGTH = 4096;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Loads the signing key, creating it (0600) on first run. Replicas share it through keyFile. */
export async function loadSigningKey(dataDir: string, keyFile?: string): Promise<Buffer> {
  const file = keyFile ?? path.join(dataDir, 'jwt.key');
  try {
    // Judged on the opened descriptor, as every secret file: no symlink followed, 0600 or tighter, ours.
    const key = await readPrivateFile(file, `JWT signing key ${file}`, 4096);
    if (key.length < 32) throw new GuardError('KG9003', `${file}: signing key must be at least 32 bytes`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || keyFile) throw err;
    const key = randomBytes(32);
    await writeFileAtomic(file, key, 0o600);
    return key;
  }
}

/** The scheme is case-insensitive (RFC 7235): the token answer names it `bearer`, and clients build `${token_type} ${token}`. */
const BEARER = /^bearer +([A-Za-z0-9_.-]+)$/i;

/** `authorization: Bearer <jwt>` → the token (as authenticateBearer reads it). */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new GuardError('KG2001');
  const m = BEARER.exec(header);
  if (!m) throw new GuardError('KG2002', 'authorization must be "Bearer <token>"');
  return m[1]!;
}

export class Sessions {
  /** The HMAC key as a KeyObject: jose keeps its CryptoKey, instead of importing raw bytes on every sign and verify. */
  private readonly signingKey: KeyObject;
  /**
   * A bot presents the same token on every call for its lifetime: its signature is checked once,
   * then the claims are found by the token's digest (insertion order evicts the oldest). The store
   * half (revocation, disable, epoch) is still checked on every call.
   */
  private readonly verified = new Map<string, SessionClaims>();
  private readonly verifiedCap: number;

  constructor(
    key: Buffer,
    private readonly store: Store,
    private readonly opts: SessionOptions,
  ) {
    this.signingKey = createSecretKey(key);
    this.verifiedCap = opts.verifiedCacheSize ?? DEFAULT_VERIFIED_CACHE_SIZE;
  }

  private epochKey(botId: string): string {
    return `epoch:${botId}`;
  }

  async currentEpoch(botId: string): Promise<number> {
    return Number((await this.store.get(this.epochKey(botId))) ?? 0);
  }

  /** The latest token issued to a bot from one source address (latestIssued). The address is hashed: any text a socket gives. */
  private latestKey(botId: string, source: string): string {
    return `session:latest:${botId}:${createHash('sha256').update(source).digest('hex').slice(0, 16)}`;
  }

  /**
   * `bot`: the registration the token is for (its createdAt goes into the token: see issuedTo). `source`: the
   * address that logged in; the token is remembered as the bot's latest from there, until it expires (latestIssued).
   */
  async issue(botId: string, bot?: { readonly createdAt: string }, source?: string): Promise<{ token: string; expiresAt: Date; jti: string }> {
    const epoch = await this.currentEpoch(botId);
    const jti = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.opts.ttlSeconds;
    const token = await new SignJWT({ ep: epoch, ...(bot ? { bc: bot.createdAt } : {}) })
      .setProtectedHeader({ alg: ALG, typ: 'JWT' })
      .setSubject(botId)
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .setIssuedAt(now)
      .setNotBefore(now - 1)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(this.signingKey);
    if (source !== undefined) {
      const latest = JSON.stringify({ jti, ep: epoch, exp, ...(bot ? { bc: bot.createdAt } : {}) });
      await this.store.set(this.latestKey(botId, source), latest, (this.opts.ttlSeconds + this.opts.clockToleranceSeconds) * 1000);
    }
    return { token, expiresAt: new Date(exp * 1000), jti };
  }

  /**
   * The claims of the latest token issued to `botId` from `source` while it is still accepted, if any: a realtime
   * session opened from there carries on under it when its own token expires, as if the bot had sent LOGIN again
   * with it. Only the holder of the bot secret gets a token, so a socket opened with a token taken from the bot
   * ends at that token's expiry, unless the bot itself logs in again from the socket's address. Not yet live-checked.
   */
  async latestIssued(botId: string, source: string): Promise<SessionClaims | undefined> {
    const raw = await this.store.get(this.latestKey(botId, source));
    if (raw === null) return undefined;
    let v: { jti?: unknown; ep?: unknown; exp?: unknown; bc?: unknown };
    try {
      v = JSON.parse(raw) as typeof v;
    } catch {
      return undefined;
    }
    if (typeof v.jti !== 'string' || typeof v.ep !== 'number' || typeof v.exp !== 'number') return undefined;
    const claims: SessionClaims = { botId, jti: v.jti, epoch: v.ep, exp: v.exp, ...(typeof v.bc === 'string' ? { botCreatedAt: v.bc } : {}) };
    return Date.now() <= this.acceptedUntilMs(claims) ? claims : undefined;
  }

  /** Signature, alg, iss, aud, exp; then revocation and epoch against the store. */
  async verify(token: string, opts: { allowExpired?: boolean } = {}): Promise<SessionClaims> {
    const claims = await this.verifySignature(token, opts);
    if (!opts.allowExpired) await this.checkLive(claims);
    return claims;
  }

  /**
   * The local half of verify(): signature, alg, iss, aud, exp — no store.
   * Claims from here are NOT yet trusted: checkLive() must pass before
   * anything acts on the call (the server overlaps it with other reads).
   */
  async verifySignature(token: string, opts: { allowExpired?: boolean } = {}): Promise<SessionClaims> {
    if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) throw unusableToken('KG2002', 'malformed token');
    const digest = this.verifiedCap > 0 ? createHash('sha256').update(token).digest('base64url') : '';
    const known = digest ? this.verified.get(digest) : undefined;
    if (known) {
      if (!opts.allowExpired && known.exp + this.opts.clockToleranceSeconds < Date.now() / 1000) {
        this.verified.delete(digest);
        throw unusableToken('KG2003');
      }
      return known;
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.signingKey, {
        algorithms: [ALG],
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        clockTolerance: opts.allowExpired ? 10 * 365 * 86400 : this.opts.clockToleranceSeconds,
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unusableToken('KG2003');
      throw unusableToken('KG2002', err instanceof joseErrors.JOSEError ? err.code : 'invalid token');
    }
    const claims: SessionClaims = {
      botId: String(payload.sub),
      jti: String(payload.jti),
      epoch: Number(payload.ep ?? 0),
      exp: Number(payload.exp),
      ...(typeof payload.bc === 'string' ? { botCreatedAt: payload.bc } : {}),
    };
    if (digest) {
      if (this.verified.size >= this.verifiedCap) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(digest, claims);
    }
    return claims;
  }

  /** When the token stops being accepted (ms since the epoch): its exp and the clock tolerance, as verify() reads them. */
  acceptedUntilMs(claims: SessionClaims): number {
    return (claims.exp + this.opts.clockToleranceSeconds) * 1000;
  }

  /** The store half of verify(): jti not revoked (KG2004), bot not disabled (KG2006), epoch current (KG2007). One MGET. */
  async checkLive(claims: SessionClaims): Promise<void> {
    const [revoked, epoch, disabled] = await this.store.mget([`jti:${claims.jti}`, this.epochKey(claims.botId), this.disabledKey(claims.botId)]);
    if (revoked !== null) throw unusableToken('KG2004');
    if (disabled !== null) throw new GuardError('KG2006');
    if (claims.epoch < Number(epoch ?? 0)) throw unusableToken('KG2007');
  }

  private disabledKey(botId: string): string {
    return `bot-disabled:${botId}`;
  }

  /**
   * Disables a bot for every replica sharing the store (its local bot file
   * may differ per pod), and ends its sessions. Enabling clears the flag.
   */
  async setDisabled(botId: string, disabled: boolean, reason = ''): Promise<void> {
    if (disabled) {
      await this.store.set(this.disabledKey(botId), reason || 'disabled');
      await this.endAll(botId, 'KG2006');
    } else {
      await this.store.del(this.disabledKey(botId));
    }
  }

  /**
   * A removed bot (server/bot-remove.ts): its disabled flag goes, since the bot itself is gone. Its epoch
   * (`epoch:<id>`) deliberately stays: were it deleted, a bot registered again under the id would start at
   * epoch 0, and what is bound to the old bot by id and epoch alone would pass for the new one's: an approval
   * granted to the old bot (approval records keep `sessionEpoch`, not the registration's createdAt) could be
   * consumed by the new one, and a token without the `bc` claim (issuedTo takes it as the current bot's) or a
   * restored copy of the old bot file would be live again. Kept, the new bot carries on from the old epoch and
   * everything of the old one stays ended. Its cost: one integer per bot id ever ended.
   */
  async forget(botId: string): Promise<void> {
    await this.store.del(this.disabledKey(botId));
  }

  async isDisabled(botId: string): Promise<boolean> {
    return (await this.store.get(this.disabledKey(botId))) !== null;
  }

  /** Revokes one token until it would have expired anyway. */
  async revoke(claims: SessionClaims): Promise<void> {
    const ttlMs = Math.max(1000, claims.exp * 1000 - Date.now() + this.opts.clockToleranceSeconds * 1000);
    await this.store.set(`jti:${claims.jti}`, '1', ttlMs);
  }

  /** Terminates every session of a bot: tokens from earlier epochs stop working at once. */
  async killAll(botId: string): Promise<number> {
    return this.endAll(botId, 'KG2007');
  }

  /** Calls `handler` for every bot's sessions ended on any replica (this one included), in the message's own turn. */
  onEnded(handler: (e: SessionsEnded) => void): Promise<Unsubscribe> {
    return this.store.subscribe(SESSIONS_ENDED_CHANNEL, (raw) => {
      const e = parseSessionsEnded(raw);
      if (e) handler(e);
    });
  }

  private async endAll(botId: string, code: SessionsEnded['code']): Promise<number> {
    const epoch = await this.store.incr(this.epochKey(botId));
    // Best effort: the epoch is written, so a replica that misses this still ends the sessions at their next check.
    await this.store.publish(SESSIONS_ENDED_CHANNEL, JSON.stringify({ botId, epoch, code } satisfies SessionsEnded)).catch(() => undefined);
    return epoch;
  }
}
