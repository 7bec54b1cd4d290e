// A small admin-API client for the CLI commands that act on the running
// sidecar's shared state (approvals, lockdown, incidents). The admin token is
// read from a file (never argv), sent once and wiped.
import { readFile } from 'node:fs/promises';
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

export function createAdminClient(opts: AdminClientOptions): AdminClient {
  const base = opts.baseUrl.replace(/\/+$/, '');
  return {
    async call(method, path, body) {
      const token = await readFile(opts.tokenFile).catch((err: NodeJS.ErrnoException) => {
        throw new GuardError('KG2001', `cannot read admin token file ${opts.tokenFile} (${err.code ?? 'error'})`);
      });
      let auth: string;
      try {
        auth = `Bearer ${token.toString('latin1').trim()}`;
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
