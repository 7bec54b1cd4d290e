// Optional TLS for a listener (the bot listener, the admin listener). Without
// a `tls` section the factory is node:http's createServer. With one, the
// server is node:https; the key file must be 0600 or tighter (as every secret
// file here), the certificate and key must match, and both are polled for
// change (stat: mtime, ctime, inode, size — an atomic rename or a Kubernetes
// secret's symlink swap shows) and swapped in with setSecureContext: new
// connections get the new certificate, open ones keep theirs, no restart.
// A rotation that does not load (half-written pair, loose mode, mismatch)
// keeps the certificate in force, is logged once and counted, and is retried
// on the next poll.
import { X509Certificate } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { GuardError, isGuardError } from './errors.js';
import { counter, gauge } from './metrics.js';

export interface TlsFilesConfig {
  /** PEM certificate (chain: leaf first). */
  certFile: string;
  /** PEM private key; mode 0600 or 0400 (group and others: nothing), or the listener does not start. */
  keyFile: string;
  /** How often the two files are checked for a rotation. */
  reloadIntervalMs: number;
}

export const DEFAULT_TLS_RELOAD_INTERVAL_MS = 5_000;

/** Builds the listener's server; the bot listener and the admin listener take one instead of calling node:http. */
export type ServerFactory = (options: ServerOptions, handler: RequestListener) => Server;

export interface ListenerServerFactory {
  readonly createServer: ServerFactory;
  readonly scheme: 'http' | 'https';
  /** Checks the files now (the poll does this every reloadIntervalMs); true when a new certificate went into force. */
  reload(): Promise<boolean>;
  /** Stops the poll. */
  close(): void;
}

export interface CertificateInfo {
  readonly fingerprint256: string;
  readonly serialNumber: string;
  readonly subject: string;
  readonly validTo: string;
}

interface Material {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly info: CertificateInfo;
  readonly notAfterMs: number;
}

/** Identity of the two files as the poll sees them; a change in any field means "look again". */
async function stampOf(cfg: TlsFilesConfig): Promise<string> {
  const [c, k] = await Promise.all([stat(cfg.certFile), stat(cfg.keyFile)]);
  return [c.mtimeMs, c.ctimeMs, c.ino, c.size, k.mtimeMs, k.ctimeMs, k.ino, k.size].join(':');
}

function failure(name: string, err: unknown): GuardError {
  if (isGuardError(err)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  // OpenSSL's messages name the failure (e.g. key values mismatch), never key material.
  const what = code ?? (err instanceof Error ? err.message.split('\n', 1)[0]!.slice(0, 200) : 'error');
  return new GuardError('KG9003', `${name} TLS certificate or key unusable (${what})`);
}

/**
 * The key file's bytes, if group and others can do nothing with it. The mode is read from the
 * open file, not the path: a rename between a check and a read (a rotation) cannot slip a loose file in.
 */
export async function readPrivateKey(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const mode = (await fh.stat()).mode;
    if ((mode & 0o077) !== 0) throw new GuardError('KG4007', `${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** Reads and checks a certificate/key pair: key file mode (0600 or tighter), PEM parse, and that the key belongs to the certificate. */
export async function loadTlsMaterial(name: string, cfg: TlsFilesConfig): Promise<Material> {
  let key: Buffer | undefined;
  try {
    key = await readPrivateKey(cfg.keyFile);
    const cert = await readFile(cfg.certFile);
    // Throws on a bad PEM and on a key that does not match the certificate.
    createSecureContext({ cert, key });
    const x509 = new X509Certificate(cert);
    return {
      cert,
      key,
      info: { fingerprint256: x509.fingerprint256, serialNumber: x509.serialNumber, subject: x509.subject.replace(/\n/g, ', '), validTo: x509.validTo },
      notAfterMs: Date.parse(x509.validTo),
    };
  } catch (err) {
    key?.fill(0);
    throw failure(name, err);
  }
}

/**
 * The server factory for one listener (`name`: bot | admin, a metric label).
 * Without tls it is plain node:http. Loads the pair once before the listener
 * exists, so a bad pair stops the start (fail closed), then polls.
 */
export async function createListenerServerFactory(
  name: string,
  tls: TlsFilesConfig | undefined,
  deps: { logger: Logger; registry: Registry },
): Promise<ListenerServerFactory> {
  if (!tls) return { createServer: (o, h) => createHttpServer(o, h), scheme: 'http', reload: async () => false, close: () => undefined };
  const { logger, registry } = deps;
  const reloads = counter(registry, 'kguard_tls_reloads_total', 'TLS certificate rotations seen by a listener, by result (ok | failed)', [
    'listener',
    'result',
  ]);
  const expiry = gauge(registry, 'kguard_tls_certificate_expiry_timestamp_seconds', 'notAfter of the certificate a listener serves (Unix seconds)', [
    'listener',
  ]);

  let stamp = await stampOf(tls);
  const first = await loadTlsMaterial(name, tls);
  expiry.set({ listener: name }, Math.floor(first.notAfterMs / 1000));
  logger.info({ listener: name, certificate: first.info }, 'TLS certificate loaded');
  let server: HttpsServer | undefined;
  let failedStamp: string | undefined;
  let running: Promise<boolean> | undefined;
  let closed = false;

  const currentStamp = (): Promise<string> => stampOf(tls!).catch((err: NodeJS.ErrnoException) => `missing:${err.code ?? 'error'}`);

  async function check(): Promise<boolean> {
    if (!server || closed) return false;
    const now = await currentStamp();
    if (now === stamp || now === failedStamp) return false;
    // A rotation writes two files: read mid-way, the pair is half old, half new. Files seen
    // changing under the read are neither a rotation nor a failure: the next tick reads them whole.
    const changedUnderRead = async () => (await currentStamp()) !== now;
    try {
      const m = await loadTlsMaterial(name, tls!);
      try {
        if (await changedUnderRead()) return false;
        server.setSecureContext({ cert: m.cert, key: m.key, minVersion: 'TLSv1.2' });
      } finally {
        m.key.fill(0);
      }
      stamp = now;
      failedStamp = undefined;
      reloads.inc({ listener: name, result: 'ok' });
      expiry.set({ listener: name }, Math.floor(m.notAfterMs / 1000));
      logger.info({ listener: name, certificate: m.info }, 'TLS certificate reloaded; new connections use it');
      return true;
    } catch (err) {
      if (await changedUnderRead()) return false;
      // Logged once per state of the files; the next change is tried again.
      failedStamp = now;
      reloads.inc({ listener: name, result: 'failed' });
      const ge = failure(name, err);
      logger.warn({ listener: name, code: ge.code, detail: ge.detail }, 'TLS certificate rotation not loaded; the previous certificate stays in force');
      return false;
    }
  }
  const reload = (): Promise<boolean> => {
    running ??= check().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void reload(), tls.reloadIntervalMs);
  timer.unref();

  return {
    scheme: 'https',
    createServer(options, handler) {
      if (server) throw new Error(`the ${name} TLS server factory builds one server`);
      server = createHttpsServer({ ...options, cert: first.cert, key: first.key, minVersion: 'TLSv1.2' }, handler);
      // The secure context holds its own copy.
      first.key.fill(0);
      return server;
    },
    reload,
    close() {
      closed = true;
      clearInterval(timer);
      first.key.fill(0);
    },
  };
}
