// A small admin-API client for the CLI commands that act on the running
// sidecar's shared state (approvals, lockdown, incidents). The admin token is
// read from a file (never argv), sent once and wiped. A regular token file
// must be 0600 or tighter, as every secret file the CLI reads; a pipe
// (`--token-file <(pass show kguard)`) is taken as it is.
import { open } from 'node:fs/promises';
import { request } from 'undici';
import { GuardError } from '../common/errors.js';

export interface AdminClientOptions {
  /** e.g. http://127.0.0.1:9090/admin/v1 */
  readonly baseUrl: string;
  readonly tokenFile: string;
  readonly timeoutMs?: number;
}

export interface AdminClient {
  call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; text: string; json: unknown }>;
}

/** What `kguard admins add` hands out (proxy/admin/tokens.ts). */
const ADMIN_TOKEN = /^kga_[A-Za-z0-9_-]{43}$/;

/** Longest admin token file read (a token is 48 bytes; the rest is room for whitespace). */
const MAX_TOKEN_FILE_BYTES = 4096;

/** The token file's bytes (the caller wipes them): a regular file group or others can read is refused (KG4007). */
async function readTokenFile(file: string): Promise<Buffer> {
  const unreadable = (err: unknown) => new GuardError('KG2001', `cannot read admin token file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  const fh = await open(file, 'r').catch((err: unknown) => {
    throw unreadable(err);
  });
  const buf = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
  try {
    const st = await fh.stat();
    if (st.isFile() && (st.mode & 0o077) !== 0)
      throw new GuardError('KG4007', `admin token file ${file} has mode ${(st.mode & 0o777).toString(8)}; it must be 0600 or tighter (chmod 600 ${file})`);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null).catch((err: unknown) => {
        throw unreadable(err);
      });
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > MAX_TOKEN_FILE_BYTES) throw new GuardError('KG2001', `admin token file ${file} is larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
    return Buffer.from(buf.subarray(0, n));
  } finally {
    buf.fill(0);
    await fh.close();
  }
}

export function createAdminClient(opts: AdminClientOptions): AdminClient {
  const base = opts.baseUrl.replace(/\/+$/, '');
  return {
    async call(method, path, body) {
      const token = await readTokenFile(opts.tokenFile);
      let auth: string;
      try {
        const text = token.toString('latin1').trim();
        // Only an admin token leaves: a bot secret or key file named by mistake is never sent as a Bearer.
        if (!ADMIN_TOKEN.test(text))
          throw new GuardError('KG2001', `admin token file ${opts.tokenFile} does not hold an admin token (kga_ and 43 more characters, alone on one line)`);
        auth = `Bearer ${text}`;
      } finally {
        token.fill(0);
      }
      const res = await request(`${base}${path}`, {
        method,
        // A Buffer body goes as bytes (a batch with secrets: the caller wipes it); anything else as JSON.
        headers: { authorization: auth, 'content-type': Buffer.isBuffer(body) ? 'application/x-ndjson' : 'application/json;charset=UTF-8' },
        body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
        headersTimeout: opts.timeoutMs ?? 30_000,
        bodyTimeout: opts.timeoutMs ?? 30_000,
      }).catch((err: NodeJS.ErrnoException) => {
        // Which sidecar could not be reached, and why, in one line (never the token).
        throw new Error(`cannot reach the admin API at ${base} (${err.code ?? err.message})`);
      });
      const text = await res.body.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, text, json };
    },
  };
}

/** Reads one line (a TOTP code) from stdin into a Buffer; the caller wipes it. */
export async function readCodeFromStdin(stdin: NodeJS.ReadableStream, maxBytes = 64): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(b);
    size += b.length;
    if (b.includes(0x0a) || size > maxBytes) break;
  }
  const all = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  const nl = all.indexOf(0x0a);
  let end = nl < 0 ? all.length : nl;
  while (end > 0 && (all[end - 1] === 0x0d || all[end - 1] === 0x20)) end--;
  const code = Buffer.from(all.subarray(0, Math.min(end, maxBytes)));
  all.fill(0);
  return code;
}
