// Transparent mode, wired: the leaf certificate from the local CA (when
// enabled), CONNECT handling on the bot port (always attached, so a CONNECT
// while the mode is off is refused and audited rather than silently dropped),
// and the name-override addresses: TLS servers for Kiwoom's names whose
// decrypted connections go to the same bot HTTP server.
import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../../common/config.js';
import { GuardError, kiwoomErrorBody } from '../../common/errors.js';
import { counter } from '../../common/metrics.js';
import { JSON_CONTENT_TYPE } from '../context.js';
import type { Auditor } from '../../audit/index.js';
import type { KeyProvider } from '../../vault/index.js';
import { loadCa } from './ca.js';
import { attachConnect, auditTlsFailure } from './connect.js';
import { createLeafManager, type LeafManager } from './leaf.js';
import { assertUpstreamNotSelf, type Lookup } from './self-loop.js';

export { initCa, issueLeaf, loadCa, caFiles, type LocalCa, type Leaf, type CaLocation } from './ca.js';
export type { CaKeyStorage, CaKeyStore } from './ca-key.js';
export type { LeafManager, LeafInfo } from './leaf.js';

export interface TransparentParts {
  /** The in-memory leaf (renew() forces a renewal); undefined while the mode is off. */
  readonly leaf?: LeafManager;
  /** The name-override addresses actually bound (https://host:port). */
  readonly urls: readonly string[];
  /** The dedicated CONNECT ports actually bound (http://host:port), for HTTPS_PROXY. */
  readonly proxyUrls: readonly string[];
}

export interface TransparentDeps {
  config: Config;
  botServer: Server;
  auditor: Pick<Auditor, 'append'>;
  logger: Logger;
  registry: Registry;
  /** The vault's primary provider: unseals the CA key when transparent.caKeyStore is key-provider. */
  keyProvider?: KeyProvider;
  /** Kiwoom's REST base the upstream client calls: must not resolve to this sidecar. */
  upstreamUrl?: string;
  lookup?: Lookup;
}

export async function setupTransparent(deps: TransparentDeps, closers: (() => Promise<unknown>)[]): Promise<TransparentParts> {
  const { config, botServer, registry } = deps;
  const t = config.transparent;
  const logger = deps.logger.child({ part: 'transparent' });
  let leaf: LeafManager | undefined;
  if (t.enabled) {
    if (deps.upstreamUrl) await assertUpstreamNotSelf(deps.upstreamUrl, t.hosts, deps.lookup);
    const ca = await loadCa(config.dataDir, { dir: t.caDir, keyStorage: { store: t.caKeyStore, provider: deps.keyProvider } });
    const l = await createLeafManager({ ca, names: [...t.hosts, ...t.names], lifetimeMs: t.leafLifetimeMs, renewBeforeMs: t.renewBeforeMs, logger, registry });
    leaf = l;
    closers.push(async () => l.close());
    logger.info(
      { ca: ca.files.certFile, caKeyStore: t.caKeyStore, fingerprint256: ca.fingerprint256, hosts: t.hosts, ports: t.ports },
      'transparent mode on: CONNECT to Kiwoom is served here',
    );
  }
  const connectDeps = { config: t, leaf, auditor: deps.auditor, logger, registry, language: config.language };
  attachConnect(botServer, connectDeps);

  const urls: string[] = [];
  const proxyUrls: string[] = [];
  if (leaf) {
    // Dedicated forward-proxy ports: CONNECT only (same checks), tunnels go to the bot server.
    for (const addr of t.proxyListen) {
      const server = createHttpServer(
        { maxHeaderSize: config.limits.maxHeaderBytes, headersTimeout: config.limits.headersTimeoutMs, requestTimeout: config.limits.requestTimeoutMs },
        (_req, res) => {
          const body = JSON.stringify(kiwoomErrorBody(new GuardError('KG1009', 'this port answers CONNECT only'), config.language));
          res.writeHead(404, { 'content-type': JSON_CONTENT_TYPE, connection: 'close' }).end(body);
        },
      );
      attachConnect(server, { ...connectDeps, target: botServer });
      proxyUrls.push(await listenOn(server, addr, 'http'));
      // Stops accepting; open tunnels belong to the bot server now and drain with it.
      closers.push(async () => {
        server.close();
      });
    }
    if (proxyUrls.length > 0) logger.info({ proxyUrls }, 'forward-proxy mode: dedicated CONNECT ports');

    const handshakeFailures = counter(registry, 'kguard_transparent_tls_failures_total', 'Failed TLS handshakes on the name-override addresses');
    for (const addr of t.listen) {
      const l = leaf;
      const server: TlsServer = createTlsServer({ ...l.options(), handshakeTimeout: t.handshakeTimeoutMs, ALPNProtocols: ['http/1.1'] }, (socket) =>
        botServer.emit('connection', socket),
      );
      // A failed handshake's socket is already destroyed (no remoteAddress): note the source on arrival.
      const sources = new WeakMap<object, string>();
      server.on('connection', (raw: Socket) => sources.set(raw, raw.remoteAddress ?? 'unknown'));
      server.on('tlsClientError', (err, socket) => {
        handshakeFailures.inc();
        const raw = (socket as { _parent?: object })._parent;
        const why = (err as NodeJS.ErrnoException).code ?? 'tls error';
        const servername = (socket as { servername?: unknown }).servername;
        auditTlsFailure(
          { auditor: deps.auditor, logger },
          {
            mode: 'name-override',
            host: typeof servername === 'string' ? servername : undefined,
            port: (server.address() as AddressInfo | null)?.port ?? addr.port,
            source: socket.remoteAddress ?? (raw && sources.get(raw)) ?? 'unknown',
            why,
          },
        );
      });
      l.onRenew(() => server.setSecureContext(l.options()));
      urls.push(await listenOn(server, addr, 'https'));
      closers.push(async () => {
        server.close();
      });
    }
    if (urls.length > 0) logger.info({ urls }, "name-override mode: TLS for Kiwoom's names served here");
  }
  return { leaf, urls, proxyUrls };
}

async function listenOn(server: Server | TlsServer, addr: { host: string; port: number }, scheme: 'http' | 'https'): Promise<string> {
  server.listen(addr.port, addr.host);
  await once(server, 'listening');
  const a = server.address() as AddressInfo;
  return `${scheme}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}
