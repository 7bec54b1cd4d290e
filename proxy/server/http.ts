// Bot-facing HTTP hygiene: framing checks against request smuggling, bounded
// body reading, header validation. Pure helpers apart from reading the body.
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { GuardError, kiwoomErrorBody, type Language } from '../common/errors.js';
import { JSON_CONTENT_TYPE } from './context.js';
export { parseJsonObject } from '../common/json.js';
export { readBody } from '../common/body.js';

/** Headers the sidecar reads of which Node keeps only the first copy (another reader may keep the last): one each. */
const FIRST_WINS: ReadonlySet<string> = new Set(['host', 'authorization', 'content-type']);

/**
 * Rejects ambiguous framing that front-ends and back-ends may read
 * differently: TE together with CL, more than one CL or TE header, any TE
 * other than a single `chunked` (and any in HTTP/1.0), a second Host, Authorization or Content-Type. Node's strict parser already refuses many of
 * these; this makes the rule explicit and independent of parser versions.
 */
export function checkFraming(req: IncomingMessage): void {
  let cl = 0;
  let te = 0;
  let teValue = '';
  let once = '';
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'content-length') cl++;
    else if (name === 'transfer-encoding') {
      te++;
      teValue = raw[i + 1]!;
    } else if (FIRST_WINS.has(name)) {
      if (once.includes(`|${name}|`)) throw new GuardError('KG1003', `duplicate ${name}`);
      once += `|${name}|`;
    }
  }
  if (cl > 1) throw new GuardError('KG1003', 'duplicate Content-Length');
  if (te > 1) throw new GuardError('KG1003', 'duplicate Transfer-Encoding');
  if (te === 1 && cl === 1) throw new GuardError('KG1003', 'both Transfer-Encoding and Content-Length');
  if (te === 1 && teValue.trim().toLowerCase() !== 'chunked') throw new GuardError('KG1003', 'unsupported Transfer-Encoding');
  // HTTP/1.0 has no Transfer-Encoding (RFC 9112 6.1: faulty framing): an HTTP/1.0 front reads such a body to the end of
  // the connection, so what follows the last chunk would be a request it never saw.
  if (te === 1 && req.httpVersion !== '1.1') throw new GuardError('KG1003', `Transfer-Encoding in HTTP/${req.httpVersion}`);
  // The listener answers these itself (requireHostHeader off, checkExpectation heard) so the refusal is Kiwoom's shape.
  if (req.httpVersion === '1.1' && req.headers.host === undefined) throw new GuardError('KG1003', 'missing Host');
  const expect = req.headers.expect;
  if (expect !== undefined && expect.toLowerCase() !== '100-continue') throw new GuardError('KG1007', 'expect');
}

/** A charset parameter (RFC 9110: token or quoted string). Every one must name UTF-8: readers differ on which of two wins. */
const CHARSET_PARAM = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/gi;
const UTF8_NAMES: ReadonlySet<string> = new Set(['utf-8', 'utf8']);

/**
 * Kiwoom's bodies are JSON in UTF-8 (`application/json;charset=UTF-8`); `application/json` without a charset is
 * accepted as UTF-8 (RFC 8259 8.1). A body declared in another charset (EUC-KR, UTF-16) is refused: the sidecar reads
 * it as UTF-8 and sends it on as UTF-8, so what the bot meant and what was judged could differ. A request that
 * carries no body at all (Content-Length: 0, or neither length nor Transfer-Encoding) may leave the type out: it is
 * read as `{}`, as an empty JSON body is, and nothing of it could be read another way. .NET's HttpClient sends a POST
 * without content so (KiwoomRestApi.Net does for TRs without inputs, kt00013 and kt00017). A Content-Encoding other than
 * identity is refused too (RFC 9110 15.5.16).
 */
export function checkContentType(req: IncomingMessage): void {
  // No content coding is decoded: a body declared gzip would be judged as the plain bytes the bot did not say it sent.
  const coding = req.headers['content-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'identity')
    throw new GuardError('KG1011', 'Content-Encoding is not supported: send the body uncompressed');
  const ct = req.headers['content-type'];
  if (ct === undefined && hasNoBody(req)) return;
  if (!ct || !/^application\/json\s*(;|$)/i.test(ct)) throw new GuardError('KG1011');
  for (const charset of ct.matchAll(CHARSET_PARAM))
    if (!UTF8_NAMES.has((charset[1] ?? charset[2] ?? '').trim().toLowerCase())) throw new GuardError('KG1011', 'the charset must be UTF-8');
}

/** No body by the framing alone (checkFraming has run: at most one Content-Length, no Transfer-Encoding with it). */
function hasNoBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (cl === undefined || cl.trim() === '0');
}

const API_ID = /^[a-z]{2}\d{5}$/;
const NEXT_KEY = /^[\x21-\x7e]{1,50}$/;

export function readApiId(req: IncomingMessage): string {
  const v = req.headers['api-id'];
  if (v === undefined) throw new GuardError('KG1006');
  if (typeof v !== 'string' || !API_ID.test(v)) throw new GuardError('KG1007', 'api-id');
  return v;
}

export function readPaging(req: IncomingMessage): { contYn?: string; nextKey?: string } {
  const contYn = req.headers['cont-yn'];
  const nextKey = req.headers['next-key'];
  // An empty cont-yn is no continuation, as an empty next-key is no key: clients that build every call from one header
  // map send both empty on a first page (KiwoomRestApi.Net's ContYn/NextKey default to ""), and Kiwoom takes it.
  if (contYn !== undefined && contYn !== '' && (typeof contYn !== 'string' || !/^[YN]$/.test(contYn))) throw new GuardError('KG1007', 'cont-yn');
  if (nextKey !== undefined && nextKey !== '' && (typeof nextKey !== 'string' || !NEXT_KEY.test(nextKey))) throw new GuardError('KG1007', 'next-key');
  return { contYn: contYn || undefined, nextKey: (nextKey as string | undefined) || undefined };
}

/**
 * The headers Kiwoom puts on every TR answer, for one the sidecar refuses itself: no more pages, and the api-id
 * asked for when it is one. A client that reads them before return_msg (headers['cont-yn']) still gets to it.
 */
export function refusedTrHeaders(req: IncomingMessage): Record<string, string> {
  const apiId = req.headers['api-id'];
  return { ...(typeof apiId === 'string' && API_ID.test(apiId) ? { 'api-id': apiId } : {}), 'cont-yn': 'N', 'next-key': '' };
}

/** Validates a value we copy from the upstream into the bot's response headers. */
export function safeHeaderValue(v: string | undefined, pattern = NEXT_KEY): string | undefined {
  return v !== undefined && pattern.test(v) ? v : undefined;
}

/** A whole HTTP/1.1 error response in Kiwoom's shape, for a socket no ServerResponse owns; the connection closes after it. */
export function rawErrorResponse(ge: GuardError, lang: Language): string {
  const body = JSON.stringify(kiwoomErrorBody(ge, lang));
  return (
    `HTTP/1.1 ${ge.status} ${STATUS_CODES[ge.status] ?? 'Error'}\r\n` +
    `content-type: ${JSON_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

/** For parser errors Node raises before a request exists: answer in Kiwoom's shape and close. */
export function writeClientError(socket: Socket, err: NodeJS.ErrnoException, lang: Language): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'KG1012' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'KG1013' : 'KG1003';
  socket.end(rawErrorResponse(new GuardError(code), lang));
}
