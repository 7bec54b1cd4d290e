// audit-signing-keys.jsonl, beside the signing key: the public half of every
// key the audit log was signed with, oldest first, one JSON line each
// ({"keyId","publicKey" (SPKI PEM),"since","introducedBy"?}). Append-only and
// public (0644): what an operator hands auditors after a rotation. Verify
// trusts it only when no --public-key is given (as it does audit-signing.pub);
// the hand-over checkpoints in the log are what chain one key to the next.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { publicKeyId, publicKeyPem } from './keys.js';

export const KEY_HISTORY_FILE = 'audit-signing-keys.jsonl';

export interface KeyHistoryEntry {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly since?: string;
  /** The key whose hand-over introduces this one (absent for the first key). */
  readonly introducedBy?: string;
}

export function keyHistoryFileFor(signingKeyFile: string): string {
  return path.join(path.dirname(signingKeyFile), KEY_HISTORY_FILE);
}

/** The keys in a history file (none if it does not exist); a line that is not a usable Ed25519 key is skipped. */
export async function readKeyHistory(file: string): Promise<KeyHistoryEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: KeyHistoryEntry[] = [];
  for (const line of text.split('\n')) {
    try {
      const v = JSON.parse(line) as { publicKey?: unknown; since?: unknown; introducedBy?: unknown };
      if (typeof v.publicKey !== 'string') continue;
      const publicKey = createPublicKey({ key: v.publicKey, format: 'pem' });
      if (publicKey.asymmetricKeyType !== 'ed25519') continue;
      out.push({
        keyId: publicKeyId(publicKey),
        publicKey,
        ...(typeof v.since === 'string' ? { since: v.since } : {}),
        ...(typeof v.introducedBy === 'string' ? { introducedBy: v.introducedBy } : {}),
      });
    } catch {
      // a blank, torn or foreign line
    }
  }
  return out;
}

/** Public keys (SPKI PEM) of earlier signing keys: the history's and `also` (a retiring key), without `currentKeyId`. */
export async function previousPublicKeys(
  historyFile: string,
  currentKeyId: string,
  also?: KeyObject,
): Promise<{ readonly keyId: string; readonly publicKeyPem: string }[]> {
  const keys = new Map<string, string>();
  for (const e of await readKeyHistory(historyFile).catch(() => [])) keys.set(e.keyId, publicKeyPem(e.publicKey));
  if (also) keys.set(publicKeyId(also), publicKeyPem(also));
  keys.delete(currentKeyId);
  return [...keys].map(([keyId, pem]) => ({ keyId, publicKeyPem: pem }));
}

/** Appends `publicKey` unless the history already lists it. Returns whether it was added. */
export async function addToKeyHistory(file: string, publicKey: KeyObject, introducedBy?: string): Promise<boolean> {
  const keyId = publicKeyId(publicKey);
  if ((await readKeyHistory(file)).some((e) => e.keyId === keyId)) return false;
  const entry = { keyId, publicKey: publicKeyPem(publicKey), since: new Date().toISOString(), ...(introducedBy ? { introducedBy } : {}) };
  // After a torn line (a crash mid-append) the new one starts on a line of its own.
  const text = await readFile(file, 'utf8').catch(() => '');
  await appendFile(file, `${text.length > 0 && !text.endsWith('\n') ? '\n' : ''}${JSON.stringify(entry)}\n`, { mode: 0o644 });
  return true;
}
