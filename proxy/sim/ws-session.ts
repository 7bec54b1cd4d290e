// One connection to the simulator's realtime WebSocket: Kiwoom's message
// protocol after the upgrade. The first message must be LOGIN (anything else
// gets SYSTEM R10004 and the socket closes); a logged-in session answers REG,
// REMOVE, CNSRLST, CNSRREQ and CNSRCLR, and takes echoed PINGs without an
// answer. Who may log in, pings, pushes and the one-session-per-app-key rule
// live in ws.ts (the host).
//
// Choices where Kiwoom's documents are silent (guesses, marked [G] in
// KIWOOM.md terms):
//  - Rejected REG/REMOVE/CNSR* requests answer {trnm, return_code: 1,
//    return_msg} (return_code 1 = 오류 in Kiwoom's REG spec); the REST error
//    table's wording (1511 missing field, 1517 bad value) is reused.
//  - CNSRREQ before CNSRLST on the connection gets no answer at all, as
//    Kiwoom's own examples warn ("CNSRREQ 단독 호출 시 응답 없이 PING만 올 수 있으므로").
//  - A second LOGIN on a logged-in connection answers return_code 1 and
//    changes nothing; a frame that is not a JSON object answers return_code 1
//    without trnm.
//  - REG refresh "0" replaces the registrations of that grp_no only; without
//    data (optional in Kiwoom's spec) it releases them all, refresh "1" without
//    data changes nothing. A REMOVE without data is refused (1511).

import { type RawData, WebSocket } from 'ws';
import { lookupApi } from '../kiwoom/catalogue.js';
import { baseCode, isStockCode } from '../kiwoom/protocol/index.js';
import { type ConditionBook, type Reply, clearReply, conditionError, listReply, liveSearchReply, searchReply } from './conditions.js';
import { badField, missingField } from './responses.js';
import type { TokenRecord } from './tokens.js';

/** What a session needs from the hub. */
export interface SessionHost {
  readonly maxRegistrations: number;
  readonly maxLiveConditions: number;
  readonly conditions: ConditionBook;
  /** Validates a LOGIN token and answers it (and closes the session when refused). */
  login(session: WsSession, token: unknown): void;
  /** One CNSRREQ search_type 0 row for a stock. */
  searchRow(code: string): Record<string, string>;
  /** Registrations or live condition searches changed (timers may start or stop). */
  changed(): void;
}

export type SessionState = 'new' | 'live' | 'closed';

type Json = Record<string, unknown>;

/** Realtime types a REG may name: the catalogue's 실시간시세 rows (00, 04, 0A ... 1h). */
const REAL_TYPES: ReadonlySet<string> = new Set(
  ['00', '04', '0A', '0B', '0C', '0D', '0E', '0F', '0G', '0H', '0I', '0J', '0U', '0g', '0m', '0s', '0u', '0w', '1h'].filter(
    (t) => lookupApi(t)?.kind === 'realtime',
  ),
);
/** Account types register with item "". */
const ACCOUNT_TYPES: ReadonlySet<string> = new Set(['00', '04']);
/** Market-wide types: no stock, item "" (Kiwoom's own 0s 장시작시간 example registers items ['']). */
const MARKET_WIDE_TYPES: ReadonlySet<string> = new Set(['0s']);
/** Market-wide or one stock: 1h VI발동/해제 (Kiwoom's own example registers items ['']). */
const MARKET_OR_STOCK_TYPES: ReadonlySet<string> = new Set(['1h']);
/** Sector (업종) types take a 3-digit sector code. */
const SECTOR_TYPES: ReadonlySet<string> = new Set(['0J', '0U']);
/**
 * Gold types: 0I (국제금환산가격) takes an international gold symbol, 'MGD' in Kiwoom's own example
 * (subscribe_domestic_international_gold_converted_price_async.py: items=['MGD']), or a KRX gold code (M04020000).
 */
const GOLD_TYPES: ReadonlySet<string> = new Set(['0I']);
/** Types whose items get quote pushes (0B 주식체결, 0D 주식호가잔량); the others are accepted and stay quiet. */
const QUOTE_TYPES: ReadonlySet<string> = new Set(['0B', '0D']);

const SEP = '\t';
const OK = { return_code: 0, return_msg: '' };

function asStringList(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return undefined;
}

function validItem(type: string, item: string): boolean {
  if (ACCOUNT_TYPES.has(type)) return item === '';
  if (MARKET_WIDE_TYPES.has(type)) return item === '';
  if (MARKET_OR_STOCK_TYPES.has(type)) return item === '' || isStockCode(item);
  if (SECTOR_TYPES.has(type)) return /^\d{3}$/.test(item);
  if (GOLD_TYPES.has(type)) return /^[A-Z]{3}$/.test(item) || isStockCode(item);
  return isStockCode(item);
}

/** REG/REMOVE `data` -> "type<TAB>item" pairs, or the refusal message. */
function parsePairs(data: unknown): string[] | string {
  if (!Array.isArray(data) || data.length === 0) return missingField('data').body.return_msg;
  const pairs: string[] = [];
  for (const entry of data) {
    if (typeof entry !== 'object' || entry === null) return badField('data', '객체의 목록이어야 합니다').body.return_msg;
    const e = entry as Json;
    const types = asStringList(e.type);
    if (!types || types.length === 0) return missingField('type').body.return_msg;
    const items = e.item === undefined ? [''] : asStringList(e.item);
    if (!items || items.length === 0) return badField('item', '문자열의 목록이어야 합니다').body.return_msg;
    for (const type of types) {
      if (!REAL_TYPES.has(type)) return badField('type', `실시간 항목이 아닙니다. type=${type.slice(0, 10)}`).body.return_msg;
      for (const item of items) {
        if (!validItem(type, item)) return badField('item', `${type}에 쓸 수 없는 값입니다. item=${item.slice(0, 20)}`).body.return_msg;
        pairs.push(`${type}${SEP}${item}`);
      }
    }
  }
  return pairs;
}

export class WsSession {
  state: SessionState = 'new';
  /** The app this session logged in for (set on LOGIN). */
  appId = '';
  accountNo = '';
  /** The token's record, read (never changed) to notice revocation and expiry. */
  record: TokenRecord | undefined;
  awaitingPong = false;
  missedPings = 0;
  loginTimer: NodeJS.Timeout | undefined;
  readonly liveConditions = new Set<string>();
  private readonly groups = new Map<string, Set<string>>();
  private listed = false;

  constructor(
    readonly socket: WebSocket,
    readonly remoteAddress: string,
    private readonly host: SessionHost,
    private readonly onClosed: (session: WsSession) => void,
  ) {}

  send(body: unknown): boolean {
    if (this.state === 'closed' || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(body));
    return true;
  }

  /** Sends SYSTEM {code, message} and closes the connection. */
  end(code: string, message: string): void {
    if (this.state === 'closed') return;
    this.send({ trnm: 'SYSTEM', code, message });
    this.close();
  }

  /** Closes with a close frame (1000); the session stops counting at once. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.socket.close(1000);
    this.onClosed(this);
  }

  /** Destroys the socket without a close frame (a network drop). */
  terminate(): void {
    this.state = 'closed';
    this.socket.terminate();
    this.onClosed(this);
  }

  becomeLive(record: TokenRecord): void {
    this.state = 'live';
    this.appId = record.appId;
    this.accountNo = record.accountNo;
    this.record = record;
    clearTimeout(this.loginTimer);
    this.loginTimer = undefined;
  }

  // Registrations ----------------------------------------------------------

  registrationCount(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.size;
    return n;
  }

  hasType(type: string): boolean {
    const prefix = `${type}${SEP}`;
    for (const g of this.groups.values()) for (const key of g) if (key.startsWith(prefix)) return true;
    return false;
  }

  /** The registered spellings of `code` (e.g. '005930', '005930_NX') for a type. */
  itemsFor(type: string, code: string): string[] {
    const items = new Set<string>();
    const prefix = `${type}${SEP}`;
    for (const g of this.groups.values())
      for (const key of g) if (key.startsWith(prefix) && baseCode(key.slice(prefix.length)) === code) items.add(key.slice(prefix.length));
    return [...items];
  }

  /** Base codes registered for quote types. */
  quoteCodes(): Set<string> {
    const codes = new Set<string>();
    for (const g of this.groups.values())
      for (const key of g) {
        const [type, item] = key.split(SEP) as [string, string];
        if (QUOTE_TYPES.has(type)) codes.add(baseCode(item));
      }
    return codes;
  }

  // Messages ---------------------------------------------------------------

  handle(raw: RawData): void {
    if (this.state === 'closed') return;
    const bytes = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
    let msg: unknown;
    try {
      msg = JSON.parse(bytes.toString('utf8'));
    } catch {
      msg = undefined;
    } finally {
      bytes.fill(0); // a LOGIN frame holds the broker token
    }
    const body = typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? (msg as Json) : undefined;
    const trnm = typeof body?.trnm === 'string' ? body.trnm : undefined;
    if (this.state === 'new') {
      if (body && trnm === 'LOGIN') this.host.login(this, body.token);
      else this.end('R10004', '접속허용 요청(LOGIN)이 없습니다. 연결을 종료합니다');
      return;
    }
    if (!body || trnm === undefined) {
      this.send({ return_code: 1, return_msg: badField('trnm', 'trnm이 있는 JSON 객체여야 합니다').body.return_msg });
      return;
    }
    switch (trnm) {
      case 'PING':
        this.awaitingPong = false;
        this.missedPings = 0;
        return;
      case 'LOGIN':
        this.send({ trnm, return_code: 1, return_msg: '이미 로그인된 세션입니다' });
        return;
      case 'REG':
      case 'REMOVE':
        this.register(trnm, body);
        return;
      case 'CNSRLST':
        this.listed = true;
        this.send(listReply(this.host.conditions.list()));
        return;
      case 'CNSRREQ':
        if (this.listed) this.search(body);
        return;
      case 'CNSRCLR':
        this.clear(body);
        return;
      default:
        this.send({ trnm, return_code: 1, return_msg: `지원하지 않는 서비스입니다. trnm=${trnm.slice(0, 20)}` });
    }
  }

  private register(trnm: 'REG' | 'REMOVE', body: Json): void {
    const error = this.applyRegistration(trnm, body);
    this.send(error === undefined ? { trnm, ...OK } : { trnm, return_code: 1, return_msg: error });
    if (error === undefined) this.host.changed();
  }

  /** Validates a REG/REMOVE in full, then applies it; returns the refusal message, if any. */
  private applyRegistration(trnm: 'REG' | 'REMOVE', body: Json): string | undefined {
    const grp = body.grp_no;
    if (grp === undefined || grp === '') return missingField('grp_no').body.return_msg;
    if (typeof grp !== 'string' || !/^\d{1,4}$/.test(grp)) return badField('grp_no', '4자리 이하 숫자여야 합니다').body.return_msg;
    const refresh = body.refresh;
    if (trnm === 'REG') {
      if (refresh === undefined || refresh === '') return missingField('refresh').body.return_msg;
      if (refresh !== '0' && refresh !== '1') return badField('refresh', '0 또는 1이어야 합니다').body.return_msg;
    }
    // data is optional in Kiwoom's spec: a REG without it adds nothing (refresh 0 still releases the group).
    const bare = trnm === 'REG' && (body.data === undefined || body.data === null || (Array.isArray(body.data) && body.data.length === 0));
    const pairs = bare ? [] : parsePairs(body.data);
    if (typeof pairs === 'string') return pairs;
    if (trnm === 'REMOVE') {
      const group = this.groups.get(grp);
      for (const p of pairs) group?.delete(p);
      if (group?.size === 0) this.groups.delete(grp);
      return undefined;
    }
    const next = new Set(refresh === '0' ? [] : (this.groups.get(grp) ?? []));
    for (const p of pairs) next.add(p);
    const total = this.registrationCount() - (this.groups.get(grp)?.size ?? 0) + next.size;
    if (total > this.host.maxRegistrations) return `실시간 등록 가능 개수를 초과하였습니다. 최대=${this.host.maxRegistrations}, 요청 후=${total}`;
    if (next.size > 0) this.groups.set(grp, next);
    else this.groups.delete(grp);
    return undefined;
  }

  private search(body: Json): void {
    const seq = typeof body.seq === 'string' ? body.seq : undefined;
    const answer = this.answerSearch(seq, body);
    this.send(typeof answer === 'string' ? conditionError('CNSRREQ', seq, answer) : answer);
  }

  /** The CNSRREQ answer, or the refusal message. */
  private answerSearch(seq: string | undefined, body: Json): Reply | string {
    if (seq === undefined || seq === '') return missingField('seq').body.return_msg;
    const type = body.search_type;
    if (type !== '0' && type !== '1') return badField('search_type', '0 또는 1이어야 합니다').body.return_msg;
    const stex = body.stex_tp;
    if (stex !== 'K' && stex !== 'N' && stex !== 'A') return badField('stex_tp', 'K, N, A 중 하나여야 합니다').body.return_msg;
    if (!this.host.conditions.has(seq)) return `조건검색식이 존재하지 않습니다. seq=${seq.slice(0, 10)}`;
    const codes = this.host.conditions.matches(seq);
    if (type === '0') {
      const contYn = body.cont_yn ?? 'N';
      if (contYn !== 'N' && contYn !== 'Y' && contYn !== '') return badField('cont_yn', 'Y 또는 N이어야 합니다').body.return_msg;
      // Every simulated result fits one answer, so no next_key is ever handed out.
      if (contYn === 'Y') return badField('next_key', '연속조회키가 올바르지 않습니다').body.return_msg;
      return searchReply(
        seq,
        codes.map((c) => this.host.searchRow(c)),
      );
    }
    if (!this.liveConditions.has(seq) && this.liveConditions.size >= this.host.maxLiveConditions)
      return `실시간 조건검색은 최대 ${this.host.maxLiveConditions}개까지 요청할 수 있습니다`;
    this.liveConditions.add(seq);
    this.host.changed();
    return liveSearchReply(seq, codes);
  }

  private clear(body: Json): void {
    const seq = typeof body.seq === 'string' ? body.seq : undefined;
    if (seq === undefined || seq === '') {
      this.send(conditionError('CNSRCLR', seq, missingField('seq').body.return_msg));
      return;
    }
    if (!this.liveConditions.delete(seq)) {
      this.send(conditionError('CNSRCLR', seq, `실시간 조건검색 중이 아닌 조건식입니다. seq=${seq.slice(0, 10)}`));
      return;
    }
    this.send(clearReply(seq));
    this.host.changed();
  }
}
