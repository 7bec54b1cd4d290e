// RFC 6238 TOTP over RFC 4226 HOTP with HMAC-SHA1 (what authenticator apps
// implement), plus RFC 4648 base32 for the enrolment secret. Secrets are
// Buffers; callers zero-fill them.
import { createHmac, timingSafeEqual } from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Base32 without padding, as ASCII bytes in a Buffer (so the caller can zero it). */
export function base32Encode(data: Buffer): Buffer {
  const out = Buffer.alloc(Math.ceil((data.length * 8) / 5));
  let bits = 0,
    value = 0,
    o = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out[o++] = B32.charCodeAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out[o++] = B32.charCodeAt((value << (5 - bits)) & 31);
  value = 0;
  return out.subarray(0, o);
}

export function base32Decode(text: Buffer): Buffer {
  const out = Buffer.alloc(Math.floor((text.length * 5) / 8));
  let bits = 0,
    value = 0,
    o = 0;
  for (const c of text) {
    if (c === 0x3d /* = */ || c === 0x20) continue;
    const idx = B32.indexOf(String.fromCharCode(c).toUpperCase());
    if (idx < 0) throw new Error('invalid base32');
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out[o++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return out.subarray(0, o);
}

export function hotp(secret: Buffer, counter: number, digits = 6): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const bin = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  mac.fill(0);
  return String(bin % 10 ** digits).padStart(digits, '0');
}

export interface TotpOptions {
  readonly periodSec: number;
  readonly digits: number;
  /** Steps accepted either side of now (clock skew). */
  readonly window: number;
}

export function totpAt(secret: Buffer, nowMs: number, opts: TotpOptions): string {
  return hotp(secret, Math.floor(nowMs / 1000 / opts.periodSec), opts.digits);
}

/** Returns the matched time step, or undefined. Constant-time per comparison. */
export function verifyTotp(secret: Buffer, code: Buffer, nowMs: number, opts: TotpOptions): number | undefined {
  if (code.length !== opts.digits) return undefined;
  const step = Math.floor(nowMs / 1000 / opts.periodSec);
  let matched: number | undefined;
  for (let d = -opts.window; d <= opts.window; d++) {
    const expected = Buffer.from(hotp(secret, step + d, opts.digits));
    if (timingSafeEqual(expected, code) && matched === undefined) matched = step + d;
  }
  return matched;
}
