// Shared fixtures for vault tests: a temp data dir, a capturing logger, a
// registry, and canary secrets that must never show up outside ciphertext.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger } from '../../proxy/common/logger.js';

export const CANARY_APP_KEY = 'CANARYappKEY0123456789abcdefXYZ';
export const CANARY_SECRET_KEY = 'CANARYsecretKEY9876543210zyxwvuSECRET';

export function canaryBuffers(suffix = ''): { appKey: Buffer; secretKey: Buffer } {
  return { appKey: Buffer.from(CANARY_APP_KEY + suffix), secretKey: Buffer.from(CANARY_SECRET_KEY + suffix) };
}

export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix = 'kguard-vault-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: () => string } {
  const chunks: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: dest });
  return { logger, lines: () => chunks.join('') };
}

export function freshRegistry(): Registry {
  return new Registry();
}

/** Every byte of every file under dir (recursively), for canary scans. */
export async function allFileBytes(dir: string): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(await readFile(path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)));
  }
  return Buffer.concat(out);
}

/** Looks for a secret as UTF-8, UTF-16LE and base64 (the forms a careless writer would produce). */
export function containsSecret(haystack: Buffer | string, secret: string): boolean {
  const hay = typeof haystack === 'string' ? Buffer.from(haystack) : haystack;
  return (
    hay.includes(Buffer.from(secret, 'utf8')) ||
    hay.includes(Buffer.from(secret, 'utf16le')) ||
    hay.includes(Buffer.from(Buffer.from(secret).toString('base64').slice(0, 24)))
  );
}
