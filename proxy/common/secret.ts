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

const SIMPLE_ESCAPE: Readonly<Record<number, number>> = { 34: 0x22, 92: 0x5c, 47: 0x2f, 98: 0x08, 102: 0x0c, 110: 0x0a, 114: 0x0d, 116: 0x09 };

/** The 4 hex digits of a \uXXXX escape at raw[at..at+4), read from the bytes (never a string); -1 if they are not. */
function hex4(raw: Buffer, at: number): number {
  let v = 0;
  for (let k = at; k < at + 4; k++) {
    const c = raw[k];
    const d = c === undefined ? -1 : c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Writes a code point as UTF-8 at out[n] (a lone surrogate as its 3 bytes, as JSON allows it); returns the new n. */
function putUtf8(out: Buffer, n: number, cp: number): number {
  if (cp < 0x80) out[n++] = cp;
  else if (cp < 0x800) {
    out[n++] = 0xc0 | (cp >> 6);
    out[n++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[n++] = 0xe0 | (cp >> 12);
    out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    out[n++] = 0x80 | (cp & 0x3f);
  } else {
    out[n++] = 0xf0 | (cp >> 18);
    out[n++] = 0x80 | ((cp >> 12) & 0x3f);
    out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    out[n++] = 0x80 | (cp & 0x3f);
  }
  return n;
}

/**
 * A JSON string's raw bytes (between its quotes) decoded into a fresh Buffer, escapes included (a client's encoder
 * may write '/' as \/, '=' as \u003d, '&' as \u0026), never through a JS string; undefined for an escape JSON
 * does not know. Decoded bytes are never more than raw ones.
 */
function unescapeJsonBytes(raw: Buffer): Buffer | undefined {
  const out = Buffer.alloc(raw.length);
  let n = 0;
  let ok = true;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x5c) {
      out[n++] = raw[i]!;
      continue;
    }
    const e = raw[++i];
    const simple = e === undefined ? undefined : SIMPLE_ESCAPE[e];
    if (simple !== undefined) {
      out[n++] = simple;
      continue;
    }
    let cp = e === 0x75 /* u */ ? hex4(raw, i + 1) : -1;
    if (cp < 0) {
      ok = false;
      break;
    }
    i += 4;
    const low = cp >= 0xd800 && cp < 0xdc00 && raw[i + 1] === 0x5c && raw[i + 2] === 0x75 ? hex4(raw, i + 3) : -1;
    if (low >= 0xdc00 && low < 0xe000) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      i += 6;
    }
    n = putUtf8(out, n, cp);
  }
  const value = ok ? Buffer.from(out.subarray(0, n)) : undefined;
  out.fill(0);
  return value;
}

/**
 * Extracts a top-level JSON string field's value (escapes decoded) without
 * materialising it as a JS string, then masks its raw bytes in place with
 * `*` so the remaining document can be parsed safely for its non-secret
 * fields; `masked` is how many were masked. Only for flat objects (Kiwoom
 * tokens and bot secrets are).
 */
export function takeJsonString(body: Buffer, field: string): { value: Buffer; masked: number } | undefined {
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
      while (end < body.length && body[end] !== 0x22) end += body[end] === 0x5c ? 2 : 1;
      if (end >= body.length) return undefined;
      const value = unescapeJsonBytes(body.subarray(start, end));
      if (!value) return undefined;
      body.fill(0x2a /* * */, start, end);
      return { value, masked: end - start };
    }
    at = body.indexOf(needle, at + 1);
  }
  return undefined;
}

/** takeJsonString's value alone. */
export function takeJsonStringField(body: Buffer, field: string): Buffer | undefined {
  return takeJsonString(body, field)?.value;
}
