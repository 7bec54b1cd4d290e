// Every error the sidecar raises is a GuardError with a stable code. The code
// maps to one HTTP status, one Kiwoom-style return_code and one message per
// language, so the bot sees the same shape Kiwoom itself uses:
//   {"return_code": 3, "return_msg": "인증에 실패했습니다[KG2002:...]"}
// `detail` must never contain a secret: it is shown to the bot and logged.

export type Language = 'ko' | 'en';

interface ErrorSpec {
  readonly status: number;
  /** Kiwoom's return_code family: 1 input, 2 policy, 3 auth, 5 rate, 9 sidecar. */
  readonly returnCode: number;
  readonly ko: string;
  readonly en: string;
}

export const ERROR_CATALOGUE = {
  // 1xxx: the request itself is bad
  KG1001: { status: 400, returnCode: 1, ko: '요청 본문이 올바른 JSON이 아닙니다', en: 'Request body is not valid JSON' },
  KG1002: { status: 413, returnCode: 1, ko: '요청 본문이 허용된 크기를 초과했습니다', en: 'Request body is too large' },
  KG1003: { status: 400, returnCode: 1, ko: '요청 형식이 올바르지 않습니다', en: 'Malformed HTTP request framing' },
  KG1004: { status: 400, returnCode: 1, ko: '알 수 없는 API ID입니다', en: 'Unknown api-id' },
  KG1005: { status: 400, returnCode: 1, ko: 'API ID와 요청 경로가 일치하지 않습니다', en: 'api-id does not belong to this path' },
  KG1006: { status: 400, returnCode: 1, ko: 'api-id 헤더가 필요합니다', en: 'The api-id header is required' },
  KG1007: { status: 400, returnCode: 1, ko: '허용되지 않는 헤더 값입니다', en: 'Invalid header value' },
  KG1008: { status: 405, returnCode: 1, ko: '허용되지 않는 메서드입니다', en: 'Method not allowed' },
  KG1009: { status: 404, returnCode: 1, ko: '존재하지 않는 경로입니다', en: 'No such path' },
  KG1010: { status: 400, returnCode: 1, ko: '필수 입력 항목이 없습니다', en: 'A required field is missing' },
  KG1011: { status: 415, returnCode: 1, ko: 'Content-Type은 application/json이어야 합니다', en: 'Content-Type must be application/json' },
  KG1012: { status: 431, returnCode: 1, ko: '요청 헤더가 너무 큽니다', en: 'Request headers are too large' },
  KG1013: { status: 408, returnCode: 1, ko: '요청 수신 시간이 초과되었습니다', en: 'Timed out reading the request' },
  KG1014: {
    status: 403,
    returnCode: 1,
    ko: '허용되지 않는 CONNECT 대상입니다. 이 사이드카는 키움 API로만 연결합니다',
    en: 'CONNECT target refused: this sidecar tunnels only to the Kiwoom API',
  },
  KG1015: { status: 400, returnCode: 1, ko: '입력 항목의 형식이 올바르지 않습니다', en: 'A field is malformed' },
  KG1017: {
    status: 403,
    returnCode: 1,
    ko: '다른 사이트에서 보낸 관리 요청은 허용되지 않습니다',
    en: 'An admin request sent from another site is refused',
  },
  KG1018: {
    status: 403,
    returnCode: 1,
    ko: '이 관리 포트가 응답하지 않는 호스트 이름으로 온 요청입니다',
    en: 'An admin request for a host name this listener does not serve',
  },
  KG1016: {
    status: 400,
    returnCode: 1,
    ko: '입력 항목 이름이 모호합니다: 대소문자, 전각 문자, 공백이나 구분자만 다른 이름은 같은 항목으로 읽힐 수 있습니다',
    en: 'A field name is ambiguous: names that differ only in case, width, spaces or separators may be read as one field',
  },
  KG1019: { status: 400, returnCode: 1, ko: '실시간 메시지 형식이 올바르지 않습니다', en: 'Malformed realtime message' },

  // 2xxx: who is calling
  KG2001: { status: 401, returnCode: 3, ko: '인증 토큰이 없습니다', en: 'No bearer token' },
  KG2002: { status: 401, returnCode: 3, ko: '인증에 실패했습니다', en: 'Authentication failed' },
  KG2003: { status: 401, returnCode: 3, ko: '토큰이 만료되었습니다', en: 'Token expired' },
  KG2004: { status: 401, returnCode: 3, ko: '폐기된 토큰입니다', en: 'Token revoked' },
  KG2005: { status: 401, returnCode: 3, ko: '봇 ID 또는 시크릿 검증에 실패했습니다', en: 'Bot id or bot secret verification failed' },
  KG2006: { status: 403, returnCode: 3, ko: '사용이 중지된 봇입니다', en: 'Bot is disabled' },
  KG2007: { status: 401, returnCode: 3, ko: '세션이 종료되었습니다', en: 'Session was terminated' },
  KG2008: { status: 400, returnCode: 3, ko: '지원하지 않는 grant_type입니다', en: 'Unsupported grant_type' },
  KG2009: { status: 403, returnCode: 3, ko: '이 작업을 할 권한이 없습니다', en: 'Your role does not permit this' },
  KG2010: { status: 400, returnCode: 1, ko: '봇 또는 관리자 등록 정보가 올바르지 않습니다', en: 'Invalid bot or admin registration input' },
  KG2011: { status: 409, returnCode: 1, ko: '이미 등록된 봇 또는 관리자입니다', en: 'Bot or admin is already registered' },
  KG2012: { status: 404, returnCode: 1, ko: '등록되지 않은 봇입니다', en: 'No such bot' },
  KG2014: {
    status: 422,
    returnCode: 1,
    ko: '일괄 등록 내용에 잘못된 항목이 있어 아무것도 변경하지 않았습니다',
    en: 'The batch has invalid entries; nothing was changed',
  },
  KG2015: {
    status: 409,
    returnCode: 1,
    ko: '긴급 잠금 중인 봇은 삭제할 수 없습니다. 증거를 보존하고 사고를 먼저 종료하십시오',
    en: 'A bot under an open incident cannot be removed; keep the evidence and close the incident first',
  },
  KG2016: {
    status: 503,
    returnCode: 9,
    ko: '증권사 토큰 폐기가 확인되지 않아 봇 삭제를 중단했습니다 (봇은 중지된 상태이며 자격 증명은 남아 있습니다). 다시 시도하십시오',
    en: 'Removal stopped: the broker token revoke is not confirmed (the bot stays disabled, its credentials kept); retry',
  },
  KG2013: {
    status: 401,
    returnCode: 3,
    ko: '실제 키움 앱키는 사용할 수 없습니다. 봇 ID와 봇 시크릿을 사용하십시오 (보안 경보가 발생했습니다)',
    en: 'A real Kiwoom app key was presented; use your bot id and bot secret instead (a security alert was raised)',
  },

  // 3xxx: policy and risk decisions
  KG3001: { status: 403, returnCode: 2, ko: '정책에 의해 거부되었습니다', en: 'Denied by policy' },
  KG3002: { status: 403, returnCode: 2, ko: '이 봇에 허용되지 않은 API입니다', en: 'This api-id is not allowed for this bot' },
  KG3003: { status: 503, returnCode: 9, ko: '유효한 정책이 없어 요청을 처리할 수 없습니다', en: 'No valid policy is loaded; calls are refused' },
  KG3004: { status: 202, returnCode: 2, ko: '승인 대기 중입니다', en: 'Pending approval' },
  KG3005: { status: 429, returnCode: 5, ko: '허용된 요청 개수를 초과하였습니다', en: 'Rate limit exceeded' },
  KG3006: { status: 403, returnCode: 2, ko: '승인이 거절되었습니다', en: 'Approval was refused' },
  KG3007: { status: 403, returnCode: 2, ko: '승인 대기 시간이 초과되었습니다', en: 'Approval timed out' },
  KG3008: { status: 423, returnCode: 2, ko: '긴급 잠금 상태입니다', en: 'Locked down' },
  KG3009: { status: 403, returnCode: 2, ko: '승인 정보가 이 요청과 일치하지 않습니다', en: 'Approval does not match this call' },
  KG3010: { status: 409, returnCode: 2, ko: '이미 사용된 승인입니다', en: 'Approval was already used' },
  KG3011: { status: 403, returnCode: 2, ko: '승인 권한 또는 2차 인증 코드가 올바르지 않습니다', en: 'Approver not permitted or second factor invalid' },
  KG3012: {
    status: 409,
    returnCode: 2,
    ko: '복구 절차가 완료되지 않아 잠금을 해제할 수 없습니다',
    en: 'Unlock refused: recovery checklist or approvals incomplete',
  },
  KG3013: { status: 500, returnCode: 9, ko: '위험 관리 설정이 올바르지 않습니다', en: 'Invalid risk, approval or response configuration' },
  KG3014: { status: 503, returnCode: 9, ko: '승인 대기열이 가득 찼습니다', en: 'Approval queue is full' },
  KG3015: { status: 404, returnCode: 2, ko: '해당 승인 또는 사고 기록이 없습니다', en: 'No such approval or incident' },
  KG3016: { status: 400, returnCode: 1, ko: '관리 요청 형식이 올바르지 않습니다', en: 'Invalid admin request' },
  KG3018: { status: 429, returnCode: 5, ko: '실시간 등록 또는 조건검색 한도를 초과했습니다', en: 'Realtime registration or condition search limit reached' },
  KG3017: { status: 500, returnCode: 9, ko: '정책 파일(또는 정책 테스트 파일)이 올바르지 않습니다', en: 'Policy file (or policy test file) is invalid' },

  // 4xxx: credentials and key custody
  KG4001: { status: 503, returnCode: 9, ko: '키 관리 서비스를 사용할 수 없습니다', en: 'Key provider unavailable' },
  KG4002: { status: 403, returnCode: 9, ko: '자격 증명이 비활성화되었습니다', en: 'Credentials are disabled' },
  KG4003: { status: 403, returnCode: 9, ko: '등록된 자격 증명이 없습니다', en: 'No credentials registered for this bot' },
  KG4004: { status: 500, returnCode: 9, ko: '자격 증명을 복호화할 수 없습니다', en: 'Credentials could not be decrypted' },
  KG4005: { status: 500, returnCode: 9, ko: '키 보관 설정이 올바르지 않습니다', en: 'Vault configuration is invalid' },
  KG4006: { status: 400, returnCode: 9, ko: '자격 증명 입력이 올바르지 않습니다', en: 'Credential input is invalid' },
  KG4007: { status: 500, returnCode: 9, ko: '키 파일의 권한이 안전하지 않습니다', en: 'Key material file permissions are unsafe' },
  KG4008: { status: 409, returnCode: 9, ko: '이미 등록된 자격 증명입니다', en: 'Credentials are already registered for this bot' },
  KG4009: { status: 503, returnCode: 9, ko: '자격 증명 기록이 다른 작업에 사용 중입니다', en: 'Credential record is locked by another operation' },

  // 5xxx: the broker upstream
  KG5001: { status: 502, returnCode: 9, ko: '증권사 서버에 연결할 수 없습니다', en: 'Broker upstream unavailable' },
  KG5002: { status: 504, returnCode: 9, ko: '증권사 서버 응답 시간이 초과되었습니다', en: 'Broker upstream timed out' },
  KG5003: { status: 502, returnCode: 9, ko: '증권사 서버 응답이 너무 큽니다', en: 'Broker response too large' },
  KG5004: { status: 502, returnCode: 9, ko: '증권사 토큰 발급에 실패했습니다', en: 'Broker token issue failed' },
  KG5005: { status: 502, returnCode: 9, ko: '증권사 서버 응답이 올바르지 않습니다', en: 'Broker response is malformed' },
  KG5006: {
    status: 429,
    returnCode: 5,
    ko: '증권사 호출 한도에 도달했습니다. 잠시 후 다시 시도하십시오',
    en: 'Kiwoom call limit for this key reached; retry after the indicated time',
  },
  KG5007: {
    status: 502,
    returnCode: 9,
    ko: '증권사 토큰이 다른 IP에서 발급되어 사용할 수 없습니다',
    en: 'Broker token was issued to another egress address; replicas sharing a key must leave through one address',
  },
  KG5008: { status: 503, returnCode: 9, ko: '증권사 세션을 준비하지 못했습니다', en: 'Broker session could not be established in time' },
  KG5010: { status: 503, returnCode: 9, ko: '실시간 데이터를 읽지 않아 연결을 종료합니다', en: 'Realtime connection closed: the bot is not reading its data' },
  KG5009: { status: 502, returnCode: 9, ko: '증권사가 실시간 요청을 거절했습니다', en: 'Kiwoom refused the realtime request' },
  KG5011: {
    status: 502,
    returnCode: 9,
    ko: '주문이 증권사로 전송되었으나 결과를 확인하지 못했습니다. 다시 보내기 전에 주문 내역을 확인하십시오',
    en: "The order was sent to the broker but its outcome is unknown; check the account's orders before sending it again",
  },

  // 6xxx: audit
  KG6001: { status: 503, returnCode: 9, ko: '감사 기록을 남길 수 없어 요청을 거부합니다', en: 'Audit sink unavailable; call refused' },
  KG6002: { status: 500, returnCode: 9, ko: '감사 이벤트를 기록할 수 없는 형식입니다', en: 'Audit event cannot be recorded (too large or malformed)' },
  KG6003: { status: 500, returnCode: 9, ko: '감사 키 파일을 사용할 수 없습니다', en: 'Audit key file unusable' },
  KG6004: { status: 500, returnCode: 9, ko: '감사 영수증을 발급할 수 없습니다', en: 'Audit receipt cannot be issued' },

  // 7xxx: shared state
  KG7001: { status: 503, returnCode: 9, ko: '공유 상태 저장소를 사용할 수 없습니다', en: 'Shared state store unavailable' },
  KG7002: { status: 500, returnCode: 9, ko: '공유 상태 저장소 요청이 올바르지 않습니다', en: 'Invalid shared state operation' },
  KG7003: { status: 503, returnCode: 9, ko: '공유 상태가 초기화되어 운영자 확인이 필요합니다', en: 'Shared state was reset; operator confirmation required' },
  KG7004: { status: 500, returnCode: 9, ko: '공유 상태 저장소 설정이 올바르지 않습니다', en: 'State store configuration is invalid' },
  KG7005: { status: 409, returnCode: 1, ko: '확인할 공유 상태 초기화가 없습니다', en: 'No shared-state reset is awaiting confirmation' },
  KG7006: { status: 400, returnCode: 1, ko: '공유 상태 관리 요청 형식이 올바르지 않습니다', en: 'Invalid shared-state admin request' },

  // 9xxx: the sidecar itself
  KG9001: { status: 500, returnCode: 9, ko: '내부 오류가 발생했습니다', en: 'Internal error' },
  KG9002: { status: 503, returnCode: 9, ko: '서버가 종료 중입니다', en: 'Server is shutting down' },
  KG9003: { status: 500, returnCode: 9, ko: '설정이 올바르지 않습니다', en: 'Invalid configuration' },
  KG9004: { status: 400, returnCode: 1, ko: '명령 사용법이 올바르지 않습니다', en: 'Invalid command usage' },
  KG9005: {
    status: 503,
    returnCode: 9,
    ko: '연결이 너무 많아 요청을 받지 않았습니다 (증권사로 보내지 않음). 잠시 후 다시 시도하십시오',
    en: 'Too many connections: the request was not read (nothing was sent to the broker); try again shortly',
  },
  KG9006: {
    status: 429,
    returnCode: 5,
    ko: '이 주소의 연결이 너무 많아 요청을 받지 않았습니다 (증권사로 보내지 않음). 쓰지 않는 연결을 닫으십시오',
    en: "Too many connections from this address: the request was not read (nothing was sent to the broker); close the connections it doesn't use",
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * Kiwoom's own detail codes a refusal may carry besides its sidecar code, so that what a Kiwoom client does on
 * Kiwoom's answer applies unchanged: on [8005] (the token is not valid) clients log in again once and retry; on
 * [1700] (too many requests) they back off and retry (a return_code 5 without it reads as a refusal for good).
 */
export const KIWOOM_DETAIL = {
  '8005': { ko: 'Token이 유효하지 않습니다', en: 'Token is not valid' },
  '1700': { ko: '허용된 요청 개수를 초과하였습니다', en: 'Too many requests' },
  // Kiwoom's own rate refusals passed on as it gave them: in all (총유량), per group.
  '1701': { ko: '허용된 요청 개수를 초과하였습니다', en: 'Too many requests in all' },
  '1702': { ko: '허용된 요청 개수를 초과하였습니다', en: 'Too many requests for this group' },
  // Input and credential refusals, in Kiwoom's words, so a client's input-error and bad-keys branches are taken.
  '1504': { ko: '해당 URI에서는 지원하는 API ID가 아닙니다', en: 'This URI does not serve this API ID' },
  '1511': { ko: '필수 입력 값에 값이 존재하지 않습니다', en: 'A required input value is missing' },
  '1517': { ko: '입력 값 형식이 올바르지 않습니다', en: 'An input value is malformed' },
  '8001': { ko: 'App Key와 Secret Key 검증에 실패했습니다', en: 'The app key and secret key could not be verified' },
} as const satisfies Record<string, { readonly ko: string; readonly en: string }>;

export type KiwoomDetailCode = keyof typeof KIWOOM_DETAIL;

/**
 * Kiwoom's detail code for the condition a sidecar code always names: a call on another api-id's path (1504), a
 * required field missing (1511) or malformed (1517), a bot id and secret that do not verify (8001, as Kiwoom's for
 * keys). A GuardError's own `kiwoom` comes first.
 */
const KIWOOM_DETAIL_OF: Partial<Record<ErrorCode, KiwoomDetailCode>> = { KG1005: '1504', KG1010: '1511', KG1015: '1517', KG2005: '8001' };

/** Kiwoom's rate detail code as given (1700, 1701, 1702), or 1700 for any other rate refusal. */
export function rateDetail(code: string | undefined): KiwoomDetailCode {
  return code === '1701' || code === '1702' ? code : '1700';
}

/** A refusal's reason within its code: a stable key and what it says in each language (never a secret). */
export interface LocalReason {
  readonly key: string;
  readonly ko: string;
  readonly en: string;
}

export class GuardError extends Error {
  readonly code: ErrorCode;
  /** Non-secret detail shown to the bot inside the brackets. */
  readonly detail: string | undefined;
  /** Extra headers for the bot response (e.g. retry-after). */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Kiwoom's detail code for the same condition, appended to return_msg as Kiwoom writes it ([8005:...]). */
  readonly kiwoom: KiwoomDetailCode | undefined;
  /** When the refused call could succeed, to the millisecond (retry-after rounds up to seconds). */
  readonly retryAfterMs: number | undefined;
  /**
   * Which of the conditions one code covers (a stable key, e.g. KG3011's code-reused), and the detail in each
   * language: the answer's bracket carries it in the answer's language; `detail` (English) stays for the logs.
   */
  readonly reason: LocalReason | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    options?: { cause?: unknown; headers?: Record<string, string>; kiwoom?: KiwoomDetailCode; retryAfterMs?: number; reason?: LocalReason },
  ) {
    super(`${code}: ${ERROR_CATALOGUE[code].en}${detail ? ` (${detail})` : ''}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GuardError';
    this.code = code;
    this.detail = detail;
    this.headers = options?.headers;
    this.kiwoom = options?.kiwoom;
    this.retryAfterMs = options?.retryAfterMs;
    this.reason = options?.reason;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  get returnCode(): number {
    return ERROR_CATALOGUE[this.code].returnCode;
  }
}

export function isGuardError(err: unknown): err is GuardError {
  return err instanceof GuardError;
}

/** Anything thrown that is not a GuardError becomes KG9001 with no detail (it may hold secrets). */
export function toGuardError(err: unknown): GuardError {
  return isGuardError(err) ? err : new GuardError('KG9001', undefined, { cause: err });
}

export function errorMessage(code: ErrorCode, lang: Language): string {
  return ERROR_CATALOGUE[code][lang];
}

/**
 * Kiwoom-shaped error body: the sidecar code sits in brackets the way Kiwoom puts its detail codes, always last (what
 * reads the last bracket finds it); Kiwoom's own detail code for the condition, when there is one, comes before it:
 * 토큰이 만료되었습니다[8005:Token이 유효하지 않습니다][KG2003].
 */
export function kiwoomErrorBody(err: GuardError, lang: Language): { return_code: number; return_msg: string } {
  const msg = errorMessage(err.code, lang);
  const code = err.kiwoom ?? KIWOOM_DETAIL_OF[err.code];
  const kiwoom = code ? `[${code}:${KIWOOM_DETAIL[code][lang]}]` : '';
  const detail = err.reason ? err.reason[lang] : err.detail;
  return {
    return_code: err.returnCode,
    return_msg: `${msg}${kiwoom}[${err.code}${detail ? `:${detail}` : ''}]`,
  };
}
