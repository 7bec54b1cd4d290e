// The drop-in token exchange. A bot that used to send its Kiwoom app key and
// secret key to /oauth2/token now sends its bot id and bot secret in the same
// fields, and gets back a sidecar token in Kiwoom's response shape.
import { GuardError } from '../common/errors.js';
import { takeJsonString } from '../common/secret.js';
import { parseJsonObject } from '../common/json.js';
import { formatExpiresDt } from '../kiwoom/protocol/index.js';
import type { BotRecord, BotRegistry } from './bots.js';
import type { SessionClaims, Sessions } from './sessions.js';

export const OK_MESSAGE = { ko: '정상적으로 처리되었습니다', en: 'Processed successfully' } as const;

export interface ExchangeBody {
  readonly fields: Record<string, unknown>;
  /** The bot secret, lifted out of the bytes before JSON.parse ever saw it. */
  readonly secret: Buffer;
}

/**
 * Parses a token/revoke body keeping the bot secret out of JS strings: the
 * secret's bytes are copied out and masked, then the masked document is
 * parsed; the caller's raw bytes are zero-filled. If JSON.parse sees a different `secretkey` than the one masked
 * (duplicate keys, tricks), the request is refused: no parser differential.
 */
export function parseExchangeBody(raw: Buffer): ExchangeBody {
  const copy = Buffer.from(raw);
  // The request bytes hold the bot secret too: wipe them, only the copy is read.
  raw.fill(0);
  const taken = takeJsonString(copy, 'secretkey');
  const secret = taken?.value;
  try {
    const fields = parseJsonObject(copy);
    const seen = fields.secretkey;
    if (!taken || !secret || secret.length === 0 || typeof seen !== 'string' || seen !== '*'.repeat(taken.masked)) {
      throw new GuardError('KG1010', 'secretkey');
    }
    return { fields, secret };
  } catch (err) {
    secret?.fill(0);
    throw err;
  } finally {
    copy.fill(0);
  }
}

/**
 * Whether an `appkey` looks like a real Kiwoom app key rather than a bot id:
 * bot ids are lower-case (BOT_ID_PATTERN), Kiwoom's keys are long
 * base64-style strings of mixed case and digits. Only asked about an appkey
 * that is no known bot id.
 */
export function looksLikeKiwoomAppKey(v: string): boolean {
  return v.length >= 20 && v.length <= 512 && /^[A-Za-z0-9+/=_-]+$/.test(v) && /[A-Z]/.test(v) && /[a-z]/.test(v) && /[0-9]/.test(v);
}

/**
 * Refuses a real Kiwoom app key (KG2013, no detail: the key is never echoed,
 * logged or forwarded); `onRealKey` hears of it first (alert, metric, audit).
 */
function refuseRealKey(fields: Record<string, unknown>, bots: BotRegistry, onRealKey?: (appkey: string) => void): void {
  const v = fields.appkey;
  if (typeof v !== 'string' || bots.get(v) || !looksLikeKiwoomAppKey(v)) return;
  onRealKey?.(v);
  throw new GuardError('KG2013');
}

function requireString(fields: Record<string, unknown>, name: string, max = 4096): string {
  const v = fields[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new GuardError('KG1010', name);
  return v;
}

/** What the token exchange and revoke tell, and ask, their caller. */
export interface ExchangeHooks {
  /** Hears of a real Kiwoom app key presented as `appkey` (refused KG2013). */
  onRealKey?: (appkey: string) => void;
  /** Hears of a failed secret (or unknown bot id) before the refusal is thrown. */
  onBadSecret?: (botId: string) => Promise<void>;
  /** Asked before the secret is checked: throws to refuse, else returns a release, called once it has been checked. */
  admit?: (botId: string) => Promise<() => void>;
  /** Asked once the secret is good, before a token is issued: throws to refuse (a bot under lockdown). */
  mayIssue?: (bot: BotRecord) => Promise<void>;
  /** Hears that the secret is good, before anything else may refuse (disabled, locked down): the caller is that bot. */
  onAuthenticated?: (bot: BotRecord) => void;
}

/** bots.authenticate once `admit` lets it, telling `onBadSecret` of a failed secret (token and revoke alike: both take a bot's secret). */
async function authenticateBot(bots: BotRegistry, botId: string, secret: Buffer, hooks: ExchangeHooks): Promise<BotRecord> {
  // The bot id comes from the masked parse: the raw bytes are wiped by now and the secret never becomes a string.
  const release = await hooks.admit?.(botId);
  try {
    const bot = await bots.authenticate(botId, secret);
    hooks.onAuthenticated?.(bot);
    return bot;
  } catch (err) {
    if (err instanceof GuardError && err.code === 'KG2005') await hooks.onBadSecret?.(botId);
    // A disabled bot is refused only once its secret was found good (bots.authenticate): the caller is that bot.
    const known = err instanceof GuardError && err.code === 'KG2006' ? bots.get(botId) : undefined;
    if (known) hooks.onAuthenticated?.(known);
    throw err;
  } finally {
    release?.();
  }
}

export interface TokenResponse {
  expires_dt: string;
  token_type: 'bearer';
  token: string;
  return_code: 0;
  return_msg: string;
}

export async function exchangeToken(
  raw: Buffer,
  bots: BotRegistry,
  sessions: Sessions,
  okMessage: string,
  hooks: ExchangeHooks = {},
  /** The address that logs in (Sessions.latestIssued). */
  source?: string,
): Promise<{ bot: BotRecord; response: TokenResponse; jti: string }> {
  const { fields, secret } = parseExchangeBody(raw);
  try {
    refuseRealKey(fields, bots, hooks.onRealKey);
    if (fields.grant_type !== 'client_credentials') throw new GuardError('KG2008');
    const botId = requireString(fields, 'appkey', 64);
    const bot = await authenticateBot(bots, botId, secret, hooks);
    if (await sessions.isDisabled(bot.id)) throw new GuardError('KG2006');
    await hooks.mayIssue?.(bot);
    const { token, expiresAt, jti } = await sessions.issue(bot.id, bot, source);
    return {
      bot,
      jti,
      response: { expires_dt: formatExpiresDt(expiresAt), token_type: 'bearer', token, return_code: 0, return_msg: okMessage },
    };
  } finally {
    secret.fill(0);
  }
}

/** Kiwoom's revoke shape: appkey + secretkey + token. Revokes the sidecar token's jti. */
export async function revokeToken(
  raw: Buffer,
  bots: BotRegistry,
  sessions: Sessions,
  hooks: ExchangeHooks = {},
): Promise<{ bot: BotRecord; claims: SessionClaims }> {
  const { fields, secret } = parseExchangeBody(raw);
  try {
    refuseRealKey(fields, bots, hooks.onRealKey);
    const botId = requireString(fields, 'appkey', 64);
    const token = requireString(fields, 'token');
    const bot = await authenticateBot(bots, botId, secret, hooks);
    // An expired token may still be revoked (idempotent); it must be ours and this bot's.
    const claims = await sessions.verify(token, { allowExpired: true });
    if (claims.botId !== bot.id) throw new GuardError('KG2002', 'token belongs to another bot');
    await sessions.revoke(claims);
    return { bot, claims };
  } finally {
    secret.fill(0);
  }
}
