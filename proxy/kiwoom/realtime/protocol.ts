// Kiwoom's realtime WebSocket protocol (KIWOOM.md "WebSocket"): the frames a
// bot may send, checked once into typed messages, and the frames the sidecar
// answers with, in Kiwoom's shape. Nothing here touches a socket.
import { type GuardError, KIWOOM_DETAIL, type Language, errorMessage, kiwoomErrorBody } from '../../common/errors.js';
import { hasDuplicateKey } from '../../common/json.js';

/** Realtime types that carry one account's private data, registered with item [""]. */
export const ACCOUNT_TYPES: ReadonlySet<string> = new Set(['00', '04']);
/**
 * Realtime types a bot may register market-wide, with item "", as Kiwoom's own examples do: 0s 장시작시간 and 1h
 * VI발동/해제 (Kiwoom-Securities/Kiwoom-REST-API examples/국내주식/실시간시세/subscribe_domestic_market_open_time_async.py,
 * subscribe_domestic_vi_event_async.py: items=['']). 1h may name a stock as well.
 */
export const MARKET_WIDE_TYPES: ReadonlySet<string> = new Set(['0s', '1h']);
/**
 * Realtime types whose item is not a stock: the account's feeds, 0I gold (an international symbol), 0J and 0U
 * sectors (a sector code) and 0s the market's opening time. The rest name a stock (1h may name none).
 */
export const NON_STOCK_TYPES: ReadonlySet<string> = new Set([...ACCOUNT_TYPES, '0I', '0J', '0U', '0s']);
/** Condition search results arrive as REAL type 02. */
export const CONDITION_RESULT_TYPE = '02';
/** Kiwoom's cap on live condition searches per login. */
export const MAX_LIVE_CONDITION_SEARCHES = 10;

const TYPE = /^[0-9A-Za-z]{2}$/;
const ITEM = /^[0-9A-Za-z_]{0,12}$/;
const GROUP = /^[0-9]{1,4}$/;
const SEQ = /^[0-9]{1,3}$/;

export interface Registration {
  readonly type: string;
  readonly item: string;
}

export type BotMessage =
  | { trnm: 'LOGIN'; token: string }
  | { trnm: 'PING'; raw: string }
  | { trnm: 'REG'; group: string; refresh: boolean; items: Registration[] }
  | { trnm: 'REMOVE'; group: string; items: Registration[] }
  | { trnm: 'CNSRLST' }
  | { trnm: 'CNSRREQ'; seq: string; live: boolean; frame: Record<string, unknown> }
  | { trnm: 'CNSRCLR'; seq: string };

export class RealtimeProtocolError extends Error {
  constructor(
    readonly trnm: string,
    message: string,
  ) {
    super(message);
    this.name = 'RealtimeProtocolError';
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isInteger(v) ? String(v) : undefined;
}

function registrations(trnm: string, data: unknown, maxItems: number): Registration[] {
  // Kiwoom's spec marks data optional (grp_no, refresh and trnm are required): a REG without it registers nothing,
  // and with refresh 0 releases the group's registrations — what KiwoomRestApi.Net's UnsubscribeAllAsync sends
  // ({"trnm":"REG","grp_no":"1","refresh":"0","data":[]}). A REMOVE must name what it removes.
  if (trnm === 'REG' && (data === undefined || data === null || (Array.isArray(data) && data.length === 0))) return [];
  if (!Array.isArray(data) || data.length === 0) throw new RealtimeProtocolError(trnm, 'data must be a non-empty list');
  const out: Registration[] = [];
  for (const d of data) {
    if (d === null || typeof d !== 'object') throw new RealtimeProtocolError(trnm, 'data entries must be objects');
    const { item, type } = d as { item?: unknown; type?: unknown };
    if (!Array.isArray(item) || !Array.isArray(type) || type.length === 0) throw new RealtimeProtocolError(trnm, 'each entry needs item and type lists');
    for (const t of type) {
      if (typeof t !== 'string' || !TYPE.test(t)) throw new RealtimeProtocolError(trnm, 'bad realtime type');
      const items = ACCOUNT_TYPES.has(t) ? [''] : item;
      for (const i of items) {
        if (typeof i !== 'string' || !ITEM.test(i) || (i === '' && !ACCOUNT_TYPES.has(t) && !MARKET_WIDE_TYPES.has(t)))
          throw new RealtimeProtocolError(trnm, 'bad item code');
        out.push({ type: t, item: i });
        if (out.length > maxItems) throw new RealtimeProtocolError(trnm, `too many registrations in one message (max ${maxItems})`);
      }
    }
  }
  return out;
}

/** Parses one text frame from a bot; throws RealtimeProtocolError with a message fit for the bot. */
export function parseBotMessage(text: string, maxItems: number): BotMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new RealtimeProtocolError('', 'malformed JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RealtimeProtocolError('', 'a frame must be a JSON object');
  if (hasDuplicateKey(text)) throw new RealtimeProtocolError('', 'a key appears twice in one object');
  const o = v as Record<string, unknown>;
  const trnm = str(o.trnm) ?? '';
  switch (trnm) {
    case 'LOGIN': {
      if (typeof o.token !== 'string' || o.token.length === 0 || o.token.length > 4096) throw new RealtimeProtocolError(trnm, 'token missing');
      return { trnm, token: o.token };
    }
    case 'PING':
      return { trnm, raw: text };
    case 'REG':
    case 'REMOVE': {
      const group = str(o.grp_no) ?? '1';
      if (!GROUP.test(group)) throw new RealtimeProtocolError(trnm, 'bad grp_no');
      const items = registrations(trnm, o.data, maxItems);
      if (trnm === 'REMOVE') return { trnm, group, items };
      const refresh = str(o.refresh) ?? '1';
      if (refresh !== '0' && refresh !== '1') throw new RealtimeProtocolError(trnm, 'refresh must be 0 or 1');
      return { trnm, group, refresh: refresh === '1', items };
    }
    case 'CNSRLST':
      return { trnm };
    case 'CNSRREQ': {
      const seq = str(o.seq);
      if (seq === undefined || !SEQ.test(seq)) throw new RealtimeProtocolError(trnm, 'bad seq');
      const searchType = str(o.search_type) ?? '0';
      if (searchType !== '0' && searchType !== '1') throw new RealtimeProtocolError(trnm, 'search_type must be 0 or 1');
      const frame: Record<string, unknown> = { trnm, seq, search_type: searchType, stex_tp: str(o.stex_tp) ?? 'K' };
      if (o.cont_yn !== undefined) frame.cont_yn = str(o.cont_yn) ?? 'N';
      if (o.next_key !== undefined) frame.next_key = str(o.next_key) ?? '';
      return { trnm, seq, live: searchType === '1', frame };
    }
    case 'CNSRCLR': {
      const seq = str(o.seq);
      if (seq === undefined || !SEQ.test(seq)) throw new RealtimeProtocolError(trnm, 'bad seq');
      return { trnm, seq };
    }
    default:
      throw new RealtimeProtocolError(trnm, `unknown trnm ${JSON.stringify(trnm.slice(0, 16))}`);
  }
}

export function regFrame(trnm: 'REG' | 'REMOVE', group: string, items: readonly Registration[], refresh = true): string {
  const byType = new Map<string, string[]>();
  for (const r of items) {
    const list = byType.get(r.type);
    if (list) list.push(r.item);
    else byType.set(r.type, [r.item]);
  }
  const data = [...byType].map(([type, list]) => ({ item: list, type: [type] }));
  return JSON.stringify(trnm === 'REG' ? { trnm, grp_no: group, refresh: refresh ? '1' : '0', data } : { trnm, grp_no: group, data });
}

export function reply(trnm: string, returnCode: number, message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ trnm, return_code: returnCode, return_msg: message, ...extra });
}

/**
 * Kiwoom's realtime LOGIN refusal of a token it no longer takes, as measured against the service:
 * {"trnm":"LOGIN","return_code":805004,"return_msg":"토큰 인증에 실패했습니다. 접속을 종료합니다 [CODE=8005, MESSAGE=Token이
 * 유효하지 않습니다]"} — the detail code as CODE=, not REST's [8005:...], under return_code 805004, not REST's 3.
 */
export const LOGIN_TOKEN_REFUSED = 805004;
/** Any other LOGIN refusal: Kiwoom's return_code for an authentication failure. */
const LOGIN_REFUSED = 3;

/** The realtime detail as Kiwoom writes it: [CODE=8005, MESSAGE=...]. */
export function realtimeDetail(code: string, message: string): string {
  return `[CODE=${code}, MESSAGE=${message}]`;
}

/**
 * The LOGIN answer refusing `err`. One that a new token cures (it carries Kiwoom's 8005) reads as Kiwoom's own, so a
 * client's re-login applies: return_code 805004 and CODE=8005 (Kiwoom's Python client, kiwoom/core/ws_client.py,
 * logs in again on `CODE=8005` in return_msg or return_code 8005/8031/8103), then REST's [8005:...] for clients that
 * read that form, then the sidecar's code, last as always. Any other refusal is return_code 3 (Kiwoom's 인증 실패) with no 8005.
 */
export function loginRefusal(err: GuardError, lang: Language): string {
  const body = kiwoomErrorBody(err, lang);
  if (err.kiwoom === undefined) return reply('LOGIN', LOGIN_REFUSED, body.return_msg);
  const head = errorMessage(err.code, lang);
  const detail = realtimeDetail(err.kiwoom, KIWOOM_DETAIL[err.kiwoom][lang]);
  return reply('LOGIN', LOGIN_TOKEN_REFUSED, `${head} ${detail}${body.return_msg.slice(head.length)}`);
}

/** A close frame's reason holds at most 123 bytes (ws throws beyond): a Korean message is 3 bytes a character. */
const MAX_CLOSE_REASON_BYTES = 123;

/** `message` cut to a close frame's reason, on a character boundary. */
export function closeReason(message: string): string {
  if (Buffer.byteLength(message) <= MAX_CLOSE_REASON_BYTES) return message;
  let out = '';
  let bytes = 0;
  for (const ch of message) {
    bytes += Buffer.byteLength(ch);
    if (bytes > MAX_CLOSE_REASON_BYTES) break;
    out += ch;
  }
  return out;
}

export function systemFrame(code: string, message: string): string {
  return JSON.stringify({ trnm: 'SYSTEM', code, message });
}

/** What an audit record keeps of a REG/REMOVE: how many, and the first 20 as type:item. */
export function registrationSummary(items: readonly Registration[]): { count: number; first: string[] } {
  return { count: items.length, first: items.slice(0, 20).map((r) => `${r.type}:${r.item}`) };
}

export function registrationKey(r: Registration): string {
  return `${r.type}|${r.item}`;
}

export function fromRegistrationKey(k: string): Registration {
  const i = k.indexOf('|');
  return { type: k.slice(0, i), item: k.slice(i + 1) };
}

/** One REAL entry's routing facts (type, item, account for 00/04, condition seq for 02). */
export interface PushEntry {
  readonly type: string;
  readonly item: string;
  readonly account?: string;
  readonly seq?: string;
  readonly entry: unknown;
}

/** Splits an upstream REAL frame into entries that can be routed one by one. */
export function pushEntries(frame: Record<string, unknown>): PushEntry[] {
  const data = frame.data;
  if (!Array.isArray(data)) return [];
  const out: PushEntry[] = [];
  for (const e of data) {
    if (e === null || typeof e !== 'object') continue;
    const o = e as { type?: unknown; item?: unknown; values?: Record<string, unknown> };
    const type = str(o.type);
    if (type === undefined) continue;
    const item = str(o.item) ?? '';
    const values = o.values && typeof o.values === 'object' ? o.values : {};
    const account = ACCOUNT_TYPES.has(type) ? str(values['9201'])?.trim() : undefined;
    const seq = type === CONDITION_RESULT_TYPE ? str(values['841'])?.trim() : undefined;
    out.push({ type, item, ...(account !== undefined ? { account } : {}), ...(seq !== undefined ? { seq } : {}), entry: e });
  }
  return out;
}
