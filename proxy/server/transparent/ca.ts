// The sidecar's private certificate authority for transparent mode: bots
// that hard-code https://api.kiwoom.com trust this CA and reach the sidecar
// instead. Keys come from node:crypto (ECDSA P-256); certificates are built
// with @peculiar/x509 over node's webcrypto. The CA key lives in the data
// directory (ca/ca.key, mode 0600, checked on every load like every secret
// file here) or, sealed by the vault's key provider, in ca/ca.key.sealed
// (ca-key.ts); the public certificate (ca/ca.pem) is what bots trust. In
// memory the CA key is a non-extractable CryptoKey: the key bytes are wiped
// as soon as it is imported.
import { X509Certificate as NodeX509, generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import type * as X509 from '@peculiar/x509';
import { GuardError } from '../../common/errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../../common/fsutil.js';
import { caKeyPresent, readCaKey, writeCaKey, type CaKeyStorage } from './ca-key.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// Loaded on first use: only transparent mode and `kguard ca` build certificates, and the
// library with its ASN.1 stack is a quarter of a second of every other start.
let x509Module: Promise<typeof X509> | undefined;
function x509Lib(): Promise<typeof X509> {
  x509Module ??= import('@peculiar/x509').then((lib) => {
    lib.cryptoProvider.set(webcrypto as unknown as Parameters<typeof lib.cryptoProvider.set>[0]);
    return lib;
  });
  return x509Module;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
export const DEFAULT_CA_LIFETIME_DAYS = 1825;

export interface CaFiles {
  readonly dir: string;
  /** The public certificate bots trust (PEM, mode 0644). */
  readonly certFile: string;
  /** The CA private key (PKCS#8 PEM, mode 0600), caKeyStore `file`. */
  readonly keyFile: string;
  /** The CA private key sealed by the key provider, caKeyStore `key-provider`. */
  readonly sealedKeyFile: string;
}

export function caFiles(dataDir: string, dir?: string): CaFiles {
  const d = dir ?? path.join(dataDir, 'ca');
  return { dir: d, certFile: path.join(d, 'ca.pem'), keyFile: path.join(d, 'ca.key'), sealedKeyFile: path.join(d, 'ca.key.sealed') };
}

/** Options both initCa and loadCa take: the CA's directory and where its key is kept (default: a 0600 file). */
export interface CaLocation {
  dir?: string;
  keyStorage?: CaKeyStorage;
}

const FILE_STORAGE: CaKeyStorage = { store: 'file' };

export interface LocalCa {
  readonly files: CaFiles;
  readonly certPem: string;
  readonly cert: X509.X509Certificate;
  /** Non-extractable: signs leaves, can never be exported again from this process. */
  readonly key: CryptoKey;
  readonly fingerprint256: string;
  readonly notAfter: Date;
}

export interface Leaf {
  /** Leaf certificate then the CA certificate (PEM). */
  readonly certPem: string;
  /** The leaf's private key (PKCS#8 PEM); the caller wipes it once a secure context holds it. */
  readonly key: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialNumber: string;
  readonly names: readonly string[];
}

function serial(): string {
  // Positive, 16 bytes of randomness (RFC 5280: at most 20 octets, non-negative).
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString('hex');
}

async function cryptoKeys(pair: { privateKey: KeyObject; publicKey: KeyObject }, extractable = false): Promise<CryptoKeyPair> {
  const der = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ALG, extractable, ['sign']);
    const publicKey = await webcrypto.subtle.importKey('spki', pair.publicKey.export({ type: 'spki', format: 'der' }), ALG, true, ['verify']);
    return { privateKey, publicKey } as CryptoKeyPair;
  } finally {
    der.fill(0);
  }
}

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(
    () => true,
    () => false,
  );
}

export interface InitResult {
  readonly created: boolean;
  readonly ca: LocalCa;
}

/**
 * Creates the CA if it does not exist (never overwrites one unless `force`).
 * `created` is false when an existing, loadable CA was kept.
 */
export async function initCa(dataDir: string, opts: CaLocation & { lifetimeDays?: number; force?: boolean; now?: () => number } = {}): Promise<InitResult> {
  const files = caFiles(dataDir, opts.dir);
  const keyStorage = opts.keyStorage ?? FILE_STORAGE;
  await ensurePrivateDir(dataDir);
  await ensurePrivateDir(files.dir);
  if (!opts.force && ((await caKeyPresent(files)) || (await exists(files.certFile))))
    return { created: false, ca: await loadCa(dataDir, { dir: opts.dir, keyStorage }) };
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = await cryptoKeys(pair);
  const now = opts.now?.() ?? Date.now();
  const x509 = await x509Lib();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=kiwoom-guard local CA ${randomBytes(4).toString('hex')}, O=kiwoom-guard`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (opts.lifetimeDays ?? DEFAULT_CA_LIFETIME_DAYS) * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  await writeCaKey(files, pair.privateKey, new NodeX509(certPem).fingerprint256, keyStorage);
  await writeFileAtomic(files.certFile, certPem, 0o644);
  return { created: true, ca: await loadCa(dataDir, { dir: opts.dir, keyStorage }) };
}

/** Loads the CA: the key in its configured form (a file 0600 or tighter, or sealed), a CA certificate, and the key belongs to it. */
export async function loadCa(dataDir: string, opts: CaLocation = {}): Promise<LocalCa> {
  const files = caFiles(dataDir, opts.dir);
  try {
    const certPem = await readFile(files.certFile, 'utf8');
    const nodeCert = new NodeX509(certPem);
    if (!nodeCert.ca) throw new GuardError('KG9003', `${files.certFile} is not a CA certificate`);
    const privateKey = await readCaKey(files, nodeCert.fingerprint256, opts.keyStorage ?? FILE_STORAGE);
    if (!nodeCert.checkPrivateKey(privateKey)) throw new GuardError('KG9003', `${files.keyFile} does not belong to ${files.certFile}`);
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    let key: CryptoKey;
    try {
      key = await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
    } finally {
      der.fill(0);
    }
    const x509 = await x509Lib();
    return { files, certPem, cert: new x509.X509Certificate(certPem), key, fingerprint256: nodeCert.fingerprint256, notAfter: new Date(nodeCert.validTo) };
  } catch (err) {
    if (err instanceof GuardError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GuardError('KG9003', `no local CA in ${files.dir}; run kguard ca init`);
    // Parser messages name the failure, never key material.
    throw new GuardError(
      'KG9003',
      `local CA in ${files.dir} unusable (${code ?? (err instanceof Error ? err.message.split('\n', 1)[0]!.slice(0, 120) : 'error')})`,
    );
  }
}

/** The sidecar's own names next to Kiwoom's: DNS names and IP addresses go to the matching SAN type. */
export async function issueLeaf(ca: LocalCa, names: readonly string[], lifetimeMs: number, now = Date.now()): Promise<Leaf> {
  if (names.length === 0) throw new GuardError('KG9003', 'a leaf certificate needs at least one name');
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = await cryptoKeys(pair, false);
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + lifetimeMs);
  const sn = serial();
  const dns = names.find((n) => isIP(n) === 0) ?? names[0]!;
  const x509 = await x509Lib();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: sn,
    subject: `CN=${dns}`,
    issuer: ca.cert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return {
    certPem: `${cert.toString('pem')}\n${ca.certPem.trim()}\n`,
    key: Buffer.from(pair.privateKey.export({ type: 'pkcs8', format: 'pem' })),
    notBefore,
    notAfter,
    serialNumber: sn,
    names: [...names],
  };
}
