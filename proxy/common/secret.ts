// Helpers for secrets held in Buffers. Nothing here converts a secret to a string.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function wipe(...buffers: (Buffer | undefined | null)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** Runs fn with the buffer and zero-fills it afterwards, whatever happens. */
export async function usingSecret<T>(secret: Buffer, fn: (s: Buffer) => Promise<T>): Promise<T> {
  try {
    return await fn(secret);
  } finally {
    secret.fill(0);
  }
}

export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const BACKSLASH = 0x5c;
const PERCENT = 0x25;

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/**
 * True when `text` (an answer from upstream) holds `secret` as whoever reads it would: verbatim, or with some of
 * its characters written as JSON escapes (\u0041, \/) or percent-encoded (%41). A serializer that escapes every
 * character, or a WAF quoting a header URL-encoded, hides a token from a plain byte search while the bot's JSON
 * parser (or the operator's eyes) restores it. The decoded copy is zero-filled; nothing becomes a string.
 */
export function holdsSecret(text: Buffer, secret: Buffer): boolean {
  if (secret.length === 0) return false;
  if (text.includes(secret)) return true;
  if (text.indexOf(BACKSLASH) < 0 && text.indexOf(PERCENT) < 0) return false;
  const decoded = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === BACKSLASH && text[i + 1] === 0x75 /* u */) {
      const v = (hexValue(text[i + 2]) << 12) | (hexValue(text[i + 3]) << 8) | (hexValue(text[i + 4]) << 4) | hexValue(text[i + 5]);
      // An escaped ASCII character is the byte itself (a bad hex digit makes v negative); anything else cannot be
      // part of an ASCII secret.
      if (v >= 0 && v < 0x80) {
        decoded[n++] = v;
        i += 5;
        continue;
      }
    } else if (c === BACKSLASH && text[i + 1] !== undefined && text[i + 1] !== 0x75) {
      decoded[n++] = text[i + 1]!; // \/ \" \\ (and the rest, harmlessly)
      i += 1;
      continue;
    } else if (c === PERCENT && hexValue(text[i + 1]) >= 0 && hexValue(text[i + 2]) >= 0) {
      decoded[n++] = (hexValue(text[i + 1]) << 4) | hexValue(text[i + 2]);
      i += 2;
      continue;
    }
    decoded[n++] = c;
  }
  const found = decoded.subarray(0, n).includes(secret);
  decoded.fill(0);
  return found;
}

/** Keyed fingerprint for logs and audit: reveals nothing without the key. */
export function keyedFingerprint(key: Buffer, value: Buffer, length = 16): string {
  return createHmac('sha256', key).update(value).digest('hex').slice(0, length);
}

/** Printable ASCII without quote or backslash: safe to splice into JSON bytes without escaping. */
export function isJsonSafeAscii(b: Buffer): boolean {
  for (const c of b) if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  return true;
}

/**
 * Builds a JSON object body from string-safe parts and secret Buffers without
 * ever turning the secret into a JS string. Secret values must pass
 * isJsonSafeAscii (checked here; throws otherwise).
 */
export function jsonBodyWithSecrets(fields: readonly (readonly [string, string | Buffer])[]): Buffer {
  const parts: Buffer[] = [Buffer.from('{')];
  fields.forEach(([name, value], i) => {
    parts.push(Buffer.from(`${i ? ',' : ''}${JSON.stringify(name)}:`));
    if (typeof value === 'string') {
      parts.push(Buffer.from(JSON.stringify(value)));
    } else {
      if (!isJsonSafeAscii(value)) throw new TypeError(`field ${name} holds bytes that cannot be embedded in JSON`);
      parts.push(Buffer.from('"'), value, Buffer.from('"'));
    }
  });
  parts.push(Buffer.from('}'));
  const out = Buffer.concat(parts);
  // Buffer.concat copied the secrets; the intermediate list only references the caller's buffers.
  return out;
}

/**
 * Extracts a top-level JSON string field's raw bytes from a response without
 * materialising it as a JS string, then masks it in place so the remaining
 * document can be parsed safely for its non-secret fields. Only for flat
 * objects whose secret value is plain ASCII (Kiwoom tokens are).
 */
export function takeJsonStringField(body: Buffer, field: string): Buffer | undefined {
  const needle = Buffer.from(`"${field}"`);
  let at = body.indexOf(needle);
  while (at !== -1) {
    let i = at + needle.length;
    while (i < body.length && (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d)) i++;
    if (body[i] === 0x3a /* : */) {
      i++;
      while (i < body.length && (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d)) i++;
      if (body[i] !== 0x22) return undefined;
      const start = i + 1;
      let end = start;
      while (end < body.length && body[end] !== 0x22) {
        if (body[end] === 0x5c) return undefined; // escapes: not a token we accept
        end++;
      }
      if (end >= body.length) return undefined;
      const value = Buffer.from(body.subarray(start, end));
      body.fill(0x2a /* * */, start, end);
      return value;
    }
    at = body.indexOf(needle, at + 1);
  }
  return undefined;
}
