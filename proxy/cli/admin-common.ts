// Shared by the commands that act through the admin API (bots, approvals,
// lockdown, incidents, state): where the admin API is and how the answer is
// printed. Precedence: flags, then environment, then config.
import { isIPv4 } from 'node:net';
import type { CliIO } from './types.js';
import { UsageError } from './usage.js';
import { createAdminClient, type AdminClient } from './admin-client.js';

export async function adminClientFrom(
  values: Record<string, unknown>,
  io: CliIO,
  configured?: () => Promise<{ host: string; port: number }>,
): Promise<AdminClient> {
  let baseUrl = typeof values['admin-url'] === 'string' ? values['admin-url'] : io.env.KGUARD_ADMIN_URL;
  if (!baseUrl && configured) {
    const a = await configured();
    baseUrl = `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}/admin/v1`;
  }
  if (!baseUrl) throw new UsageError('admin API unknown: pass --admin-url or set KGUARD_ADMIN_URL');
  const tokenFile = typeof values['token-file'] === 'string' ? values['token-file'] : io.env.KGUARD_ADMIN_TOKEN_FILE;
  if (!tokenFile) throw new UsageError('admin token unknown: pass --token-file FILE or set KGUARD_ADMIN_TOKEN_FILE (tokens are never taken from argv)');
  refuseCleartextToRemote(baseUrl, io.env.KGUARD_ADMIN_ALLOW_HTTP === '1');
  return createAdminClient({ baseUrl, tokenFile });
}

/**
 * The admin token (and, for `bots import`, Kiwoom keys and bot secrets) goes in the request: over plain HTTP only to
 * this machine (loopback, or a port-forward to it). Elsewhere it takes https (admin.tls), or KGUARD_ADMIN_ALLOW_HTTP=1
 * where something else encrypts the path (a service mesh's mTLS).
 */
function refuseCleartextToRemote(baseUrl: string, allowed: boolean): void {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new UsageError(`admin API URL ${JSON.stringify(baseUrl.slice(0, 100))} is not a URL`);
  }
  if (url.protocol !== 'http:' || allowed) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const local = host === 'localhost' || host === '::1' || host === '::' || host === '0.0.0.0' || (isIPv4(host) && host.startsWith('127.'));
  if (!local)
    throw new UsageError(
      `refusing to send the admin token over plain HTTP to ${host}: use https (admin.tls) or a loopback address (kubectl port-forward); KGUARD_ADMIN_ALLOW_HTTP=1 if a service mesh encrypts the path`,
    );
}

/** Prints the answer; returns the exit code (0 on 2xx, 1 otherwise with the Kiwoom-shaped message). */
export function printResult(io: CliIO, r: { status: number; text: string; json: unknown }, render?: (json: unknown, text: string) => string): number {
  if (r.status >= 200 && r.status < 300) {
    io.stdout.write(render ? render(r.json, r.text) : `${JSON.stringify(r.json, null, 2)}\n`);
    return 0;
  }
  const msg = (r.json as { return_msg?: string } | undefined)?.return_msg ?? r.text.slice(0, 300);
  io.stderr.write(`error (HTTP ${r.status}): ${msg}\n`);
  return 1;
}
