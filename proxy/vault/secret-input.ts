// Reading Kiwoom keys from an operator: piped stdin or a 0600 file, never
// argv. Everything stays in Buffers; the JSON file form is scanned byte by
// byte rather than JSON.parse'd, because JSON.parse would make JS strings of
// the secrets that live until the garbage collector gets to them.
import { GuardError } from '../common/errors.js';
import { isJsonSafeAscii } from '../common/secret.js';
import { readPrivateFile } from './files.js';

export const DEFAULT_MAX_SECRET_INPUT_BYTES = 8 * 1024;

export type SecretSource = { file: string } | { stdin: NodeJS.ReadableStream };

/**
 * Reads a secret from a file that must be mode 0600 or tighter (refused
 * otherwise) or from a piped stream. Returns a Buffer the caller zero-fills.
 */
export async function readSecretInput(source: SecretSource, opts: { maxBytes?: number } = {}): Promise<Buffer> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_SECRET_INPUT_BYTES;
  if ('file' in source) {
    try {
      return await readPrivateFile(source.file, 'secret input file', maxBytes);
    } catch (err) {
      if (err instanceof GuardError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new GuardError('KG4006', code === 'ELOOP' ? 'secret input file must not be a symlink' : `cannot read secret input file (${code ?? 'error'})`);
    }
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of source.stdin) {
      if (typeof chunk === 'string') throw new GuardError('KG4006', 'stdin must be a byte stream (no encoding set)');
      const buf = chunk as Buffer;
      total += buf.length;
      chunks.push(buf);
      if (total > maxBytes) throw new GuardError('KG4006', `secret input is larger than ${maxBytes} bytes`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    for (const c of chunks) c.fill(0);
  }
}

export interface CredentialLimits {
  minKeyBytes: number;
  maxKeyBytes: number;
}

export const DEFAULT_CREDENTIAL_LIMITS: CredentialLimits = { minKeyBytes: 8, maxKeyBytes: 512 };

/** Printable ASCII without `"` or `\` (so JSON bodies can be built by concatenation), within length bounds. */
export function validateSecretKeyMaterial(value: Buffer, name: 'appKey' | 'secretKey', limits: CredentialLimits): void {
  if (value.length < limits.minKeyBytes || value.length > limits.maxKeyBytes) {
    throw new GuardError('KG4006', `${name} must be ${limits.minKeyBytes}-${limits.maxKeyBytes} bytes long (got ${value.length})`);
  }
  if (!isJsonSafeAscii(value)) {
    throw new GuardError('KG4006', `${name} must be printable ASCII without spaces, quotes or backslashes`);
  }
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** An unknown field's name for an error: only a plain lower-case word is quoted (a key has capitals or digits). */
function fieldNameShown(name: Buffer): string {
  const plain = name.length >= 1 && name.length <= 32 && name.every((c) => (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d);
  return plain ? JSON.stringify(name.toString('latin1')) : '(name not shown: it may be a key)';
}

/** Scans a flat JSON object of string fields without escapes; returns copies of the wanted fields' bytes. */
function scanFlatJson(buf: Buffer, wanted: readonly string[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const fail = (why: string): never => {
    for (const v of out.values()) v.fill(0);
    throw new GuardError('KG4006', `credential JSON: ${why}`);
  };
  let i = 0;
  const skip = (): void => {
    while (isSpace(buf[i])) i++;
  };
  const readString = (): [number, number] => {
    if (buf[i] !== 0x22) fail('expected a string');
    const start = ++i;
    while (i < buf.length && buf[i] !== 0x22) {
      if (buf[i] === 0x5c) fail('escapes are not allowed in key material');
      i++;
    }
    if (i >= buf.length) fail('unterminated string');
    return [start, i++];
  };
  skip();
  if (buf[i++] !== 0x7b) fail('expected an object');
  skip();
  if (buf[i] === 0x7d) i++;
  else {
    for (;;) {
      skip();
      const [ks, ke] = readString();
      // Compared as bytes: what stands where a name goes may be a key pasted in the wrong place.
      const nameBytes = buf.subarray(ks, ke);
      const name = wanted.find((w) => nameBytes.equals(Buffer.from(w, 'latin1')));
      skip();
      if (buf[i++] !== 0x3a) fail('expected ":"');
      skip();
      const [vs, ve] = readString();
      if (name !== undefined) {
        if (out.has(name)) fail(`duplicate field ${name}`);
        out.set(name, Buffer.from(buf.subarray(vs, ve)));
      } else fail(`unknown field ${fieldNameShown(nameBytes)}`);
      skip();
      if (buf[i] === 0x2c) {
        i++;
        continue;
      }
      if (buf[i] === 0x7d) {
        i++;
        break;
      }
      fail('expected "," or "}"');
    }
  }
  skip();
  if (i !== buf.length) fail('trailing bytes after the object');
  for (const w of wanted) if (!out.has(w)) fail(`missing field ${w}`);
  return out;
}

/**
 * Parses operator input into the two keys: either a JSON object
 * `{"appkey": "...", "secretkey": "..."}` or two lines (app key, then secret key).
 * Zero-fills `input`. The returned Buffers are the caller's to zero-fill.
 */
export function parseCredentialInput(input: Buffer, limits: CredentialLimits = DEFAULT_CREDENTIAL_LIMITS): { appKey: Buffer; secretKey: Buffer } {
  let appKey: Buffer | undefined;
  let secretKey: Buffer | undefined;
  try {
    let first = 0;
    while (isSpace(input[first])) first++;
    if (input[first] === 0x7b) {
      const fields = scanFlatJson(input, ['appkey', 'secretkey']);
      appKey = fields.get('appkey')!;
      secretKey = fields.get('secretkey')!;
    } else {
      const lines: Buffer[] = [];
      let start = 0;
      for (let i = 0; i <= input.length; i++) {
        if (i === input.length || input[i] === 0x0a) {
          let end = i;
          if (end > start && input[end - 1] === 0x0d) end--;
          if (end > start) lines.push(input.subarray(start, end));
          start = i + 1;
        }
      }
      if (lines.length !== 2) throw new GuardError('KG4006', `expected two lines (app key, secret key), got ${lines.length} non-empty line(s)`);
      appKey = Buffer.from(lines[0]!);
      secretKey = Buffer.from(lines[1]!);
    }
    validateSecretKeyMaterial(appKey, 'appKey', limits);
    validateSecretKeyMaterial(secretKey, 'secretKey', limits);
    return { appKey, secretKey };
  } catch (err) {
    appKey?.fill(0);
    secretKey?.fill(0);
    throw err;
  } finally {
    input.fill(0);
  }
}
