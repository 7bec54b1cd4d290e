// Forward-proxy mode: a bot that honours HTTPS_PROXY sends
// `CONNECT api.kiwoom.com:443` (or :10000 for the realtime WebSocket) to the
// bot port. The sidecar answers 200, terminates TLS on that socket with the
// leaf certificate (the SNI must name the CONNECT host) and hands the
// decrypted stream to the same HTTP server, so exactly the same pipeline and
// the same WebSocket upgrade path run. A CONNECT to any other host or port,
// or any CONNECT while transparent mode is off, is refused (403) and audited:
// never a general-purpose proxy, and nothing is ever dialled.
import type { Server, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TransparentConfig } from '../../common/config.js';
import { GuardError, kiwoomErrorBody, type Language } from '../../common/errors.js';
import { counter } from '../../common/metrics.js';
import type { Auditor } from '../../audit/index.js';
import { JSON_CONTENT_TYPE } from '../context.js';
import type { LeafManager } from './leaf.js';

export interface ConnectDeps {
  config: TransparentConfig;
  /** Undefined while transparent mode is off: every CONNECT is refused. */
  leaf?: LeafManager;
  auditor: Pick<Auditor, 'append'>;
  logger: Logger;
  registry: Registry;
  language: Language;
  /** Where a tunnel's decrypted connection goes (the bot server); default the server the CONNECT came to. */
  target?: Server;
}

/** `host:port` of a CONNECT request line (authority form only); undefined when it is anything else. */
export function parseConnectTarget(url: string | undefined): { host: string; port: number } | undefined {
  const m = /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):(\d{1,5})$/.exec(url ?? '');
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.toLowerCase().replace(/\.$/, ''), port };
}

/** Shown in the audit record: the target as asked, trimmed and without control characters. */
function shown(url: string | undefined): string {
  return (url ?? '').replace(/[^\x21-\x7e]/g, '?').slice(0, 260);
}

/**
 * A TLS handshake to the sidecar that did not finish (the client does not
 * trust the CA, no SNI for the name, a timeout): audited and logged with the
 * reason the TLS stack gave, never with anything the client sent.
 */
export function auditTlsFailure(
  deps: Pick<ConnectDeps, 'auditor' | 'logger'>,
  e: { mode: 'connect' | 'name-override'; host?: string; port: number; source: string; why: string },
): void {
  const record = { mode: e.mode, host: e.host ?? null, port: e.port, source: e.source, reason: e.why.replace(/[^\x20-\x7e]/g, '?').slice(0, 120) };
  deps.auditor
    .append({ type: 'transparent.tls_failed', ...record })
    .catch((err) => deps.logger.error({ err: String(err) }, 'audit of a failed TLS handshake failed'));
  deps.logger.info(record, 'TLS to the sidecar failed before the handshake finished');
}

export function attachConnect(server: Server, deps: ConnectDeps): void {
  const { config, logger } = deps;
  const hosts = new Set(config.hosts.map((h) => h.toLowerCase()));
  const ports = new Set(config.ports);
  const tunnels = counter(
    deps.registry,
    'kguard_transparent_connect_total',
    'CONNECT requests (bot port and transparent.proxyListen), by result (tunnelled | refused | tls_failed)',
    ['result'],
  );

  function refuse(req: IncomingMessage, socket: Duplex, reason: string): void {
    tunnels.inc({ result: 'refused' });
    const target = parseConnectTarget(req.url);
    const source = req.socket.remoteAddress ?? 'unknown';
    deps.auditor
      .append({
        type: 'transparent.connect_refused',
        host: target?.host ?? shown(req.url),
        port: target?.port ?? null,
        source,
        reason,
      })
      .catch((err) => logger.error({ err: String(err) }, 'audit of a refused CONNECT failed'));
    logger.warn({ host: target?.host ?? shown(req.url), port: target?.port, source, reason }, 'CONNECT refused');
    const body = JSON.stringify(kiwoomErrorBody(new GuardError('KG1014', reason), deps.language));
    socket.end(
      `HTTP/1.1 403 Forbidden\r\ncontent-type: ${JSON_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const target = parseConnectTarget(req.url);
    if (!deps.leaf || !config.enabled) return refuse(req, socket, 'transparent mode is off');
    if (!target) return refuse(req, socket, 'malformed CONNECT target');
    if (!hosts.has(target.host)) return refuse(req, socket, 'host not allowed');
    if (!ports.has(target.port)) return refuse(req, socket, 'port not allowed');
    const leaf = deps.leaf;
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: leaf.context(),
      // Taken at handshake time: a renewal in between is served at once.
      SNICallback: (name, cb) => (name.toLowerCase() === target.host ? cb(null, leaf.context()) : cb(new Error('SNI does not name the CONNECT host'))),
      ALPNProtocols: ['http/1.1'],
    });
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      tunnels.inc({ result: 'tls_failed' });
      auditTlsFailure(deps, { mode: 'connect', host: target.host, port: target.port, source: req.socket.remoteAddress ?? 'unknown', why });
      tls.destroy();
      socket.destroy();
    };
    const timer = setTimeout(() => fail('handshake timed out'), config.handshakeTimeoutMs);
    timer.unref();
    tls.once('error', (err) => fail((err as NodeJS.ErrnoException).code ?? 'tls error'));
    // A client that does not trust the CA may just hang up after our certificate.
    tls.once('close', () => fail('closed before the handshake finished'));
    tls.once('secure', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      tls.removeAllListeners('error');
      tls.on('error', () => tls.destroy());
      if (typeof tls.servername !== 'string' || tls.servername.toLowerCase() !== target.host) {
        settled = false;
        return fail('no SNI naming the CONNECT host');
      }
      tunnels.inc({ result: 'tunnelled' });
      (deps.target ?? server).emit('connection', tls);
    });
  });
}
