// Bodies bots send: one JSON object in UTF-8, parsed once; anything else is KG1001.
// A key twice in one object is refused too: JSON.parse keeps the last, other
// parsers the first or neither, and what the sidecar judged must be what
// everyone after it reads. Bytes that are not UTF-8 are refused rather than
// read as U+FFFD: the sidecar would judge (and send on) a character the bot
// never wrote, where another reader drops the bytes, stops at them or reads
// them in the bot's own code page.
import { GuardError } from './errors.js';

/** Strict UTF-8 (RFC 8259 8.1); one leading byte order mark is skipped, as RFC 8259 lets a parser do (clients' files may carry one). */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * How deep a body's objects and arrays may nest (limits.maxBodyDepth). Kiwoom's bodies are flat; JSON.parse reads
 * tens of thousands of levels, but JSON.stringify and every recursive reader after it run out of stack.
 */
export const DEFAULT_MAX_BODY_DEPTH = 32;

/**
 * Parses a bot's body: must be a JSON object in UTF-8 (Kiwoom sends `{}` when there are no inputs), nested at most
 * `maxDepth` levels; one leading BOM is skipped.
 */
export function parseJsonObject(body: Buffer, maxDepth = DEFAULT_MAX_BODY_DEPTH): Record<string, unknown> {
  if (body.length === 0) return {};
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new GuardError('KG1001', 'the body is not UTF-8');
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new GuardError('KG1001');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GuardError('KG1001', 'body must be a JSON object');
  const flaw = objectFlaw(text, maxDepth);
  if (flaw === 'deep') throw new GuardError('KG1001', `the body nests deeper than ${maxDepth} levels`);
  if (flaw === 'duplicate') throw new GuardError('KG1001', 'a key appears twice in one object');
  return v as Record<string, unknown>;
}

/** A message the sidecar's own replicas exchange (pub/sub): its JSON object, or undefined when it is not one. */
export function messageObject(raw: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * True when some object in `text`, a document JSON.parse accepted, holds one key twice, compared as JSON.parse
 * decodes them ("stk_cd" and "stk\u005fcd" are one key). One pass; a string is decoded only when it is a key.
 */
export function hasDuplicateKey(text: string): boolean {
  return objectFlaw(text, Infinity) === 'duplicate';
}

/** hasDuplicateKey's pass, which also finds objects and arrays nested deeper than maxDepth (whichever comes first). */
function objectFlaw(text: string, maxDepth: number): 'duplicate' | 'deep' | undefined {
  const objects: (Set<string> | undefined)[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      if (objects.length >= maxDepth) return 'deep';
      objects.push(ch === 0x7b ? new Set() : undefined);
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) objects.pop();
    else if (ch === 0x22 /* " */) {
      const start = i;
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
      const keys = objects.at(-1);
      if (!keys) continue;
      let next = i + 1;
      while (/\s/.test(text[next] ?? '')) next++;
      if (text[next] !== ':') continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (keys.has(key)) return 'duplicate';
      keys.add(key);
    }
  }
  return undefined;
}

// Characters a lenient reader may drop or look through when it matches a field name: separators, spaces,
// zero-width and other format characters, and combining marks (what is left of "İ" after case folding).
const PLAIN_KEY = /^[a-z0-9_]*$/;
const FOLD_DROPPED = /[\p{M}\p{Cf}\p{Z}\p{Cc}\s_-]/gu;

/**
 * A key as the most lenient reader could match it to a field: compatibility forms folded ("ｏｒｄ＿ｑｔｙ",
 * the Kelvin sign, "ſ"), case folded both ways (Java's equalsIgnoreCase matches "ı" to "i"), and separators,
 * spaces, zero-width characters and combining marks dropped. "ORD_QTY", " ord_qty" and "ordQty" all fold to
 * "ordqty". Only ever compared, never sent.
 */
export function foldKey(key: string): string {
  // Kiwoom's own names (lower-case ASCII, digits, underscores), every key of a well-formed body: the same fold without
  // two Unicode normalisations per key on every call.
  if (PLAIN_KEY.test(key)) return key.replaceAll('_', '');
  return key.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKD').replace(FOLD_DROPPED, '');
}

/**
 * The first two keys of one object, anywhere in a parsed JSON value, that are different but fold to one name
 * (foldKey); undefined when there are none. Iterative: a deeply nested body cannot exhaust the stack.
 */
export function aliasedKeys(value: unknown): [string, string] | undefined {
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const v = todo.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const inner of v) todo.push(inner);
      continue;
    }
    const seen = new Map<string, string>();
    for (const [key, inner] of Object.entries(v)) {
      const folded = foldKey(key);
      const other = seen.get(folded);
      if (other !== undefined) return [other, key];
      seen.set(folded, key);
      todo.push(inner);
    }
  }
  return undefined;
}
