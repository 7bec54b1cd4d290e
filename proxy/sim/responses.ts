// Kiwoom-shaped bodies. Detail codes and messages follow Kiwoom's published
// error table; HTTP status is 200 for business errors (as clients observe);
// rate-limit refusals are 200 or 429 (both are seen on Kiwoom).

export const OK_MSG = '정상적으로 처리되었습니다';

export interface KiwoomBody {
  return_code: number;
  return_msg: string;
  [field: string]: unknown;
}

/** A Kiwoom error answer: HTTP status plus body. */
export class KiwoomReply extends Error {
  constructor(
    readonly status: number,
    readonly body: KiwoomBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.return_msg);
    this.name = 'KiwoomReply';
  }
}

/** Input errors (15xx/19xx): `잘못된 요청입니다[1504:...]`, return_code 1 as observed for 1504. */
export function inputError(detail: number, message: string): KiwoomReply {
  return new KiwoomReply(200, { return_code: 1, return_msg: `잘못된 요청입니다[${detail}:${message}]` });
}

/** Authentication errors (15xx header, 80xx): return_code 3. */
export function authError(detail: number | string, message: string): KiwoomReply {
  return new KiwoomReply(200, { return_code: 3, return_msg: `인증에 실패했습니다[${detail}:${message}]` });
}

export const INVALID_TOKEN_MESSAGE = 'Token이 유효하지 않습니다';
export const invalidToken = (): KiwoomReply => authError(8005, INVALID_TOKEN_MESSAGE);

/** Order rejections: `[2000](308003:주문단가를 입력하십시요)`; return_code 20 as measured on Kiwoom's mock host. */
export function orderRejected(detail: string, message: string): KiwoomReply {
  return new KiwoomReply(200, { return_code: 20, return_msg: `[2000](${detail}:${message})` });
}

const OVER_LIMIT = '허용된 요청 개수를 초과하였습니다';

export type RateLimitDetail = '1700' | '1701' | '1702';

/** The inner messages of Kiwoom's error table (as quoted by public clients), per detail code. */
const RATE_MESSAGES: Record<RateLimitDetail, (apiId: string, limit?: number) => string> = {
  1700: (apiId, limit) => `허용된 API 요청 개수를 초과하였습니다. ${limit === undefined ? '' : `유량=${limit}, `}API ID=${apiId}`,
  1701: (_apiId, limit) => `허용된 전체 요청 개수를 초과하였습니다. 총유량=${limit ?? '?'}`,
  1702: (apiId, limit) => `허용된 그룹 요청 개수를 초과하였습니다. 총유량=${limit ?? '?'}, API_ID=${apiId}`,
};

/**
 * Rate-limit refusal, return_code 5, e.g.
 * `허용된 요청 개수를 초과하였습니다[1700:허용된 API 요청 개수를 초과하였습니다. 유량=5, API ID=ka10081]`.
 * Without `limit` (the rateLimitNext fault) a 1700 names only the api-id.
 */
export function rateLimited(detail: RateLimitDetail, apiId: string, limit?: number, status = 429): KiwoomReply {
  return new KiwoomReply(status, { return_code: 5, return_msg: `${OVER_LIMIT}[${detail}:${RATE_MESSAGES[detail](apiId, limit)}]` });
}

/**
 * Too many codes in one stk_cd: return_code 5 like the rate limits, but
 * retrying never helps. Kiwoom's exact wording for 1634 was not found in
 * public material; this one is a guess.
 */
export function tooManySymbols(): KiwoomReply {
  return new KiwoomReply(200, { return_code: 5, return_msg: `${OVER_LIMIT}[1634:한 번에 조회할 수 있는 종목 수를 초과하였습니다]` });
}

/** The token was issued to another source address (wording from Kiwoom's error table). */
export const ADDRESS_MISMATCH_MESSAGE = 'Token을 발급받은 IP와 서비스를 요청한 IP가 동일하지 않습니다';
export const addressMismatch = (): KiwoomReply => authError(8010, ADDRESS_MISMATCH_MESSAGE);

/** The detail code inside an error message: '8005' from `...[8005:...]`, '2000' from `[2000](...)`. */
export function detailOf(body: { return_code?: unknown; return_msg?: unknown }): string | undefined {
  if (body.return_code === 0 || typeof body.return_msg !== 'string') return undefined;
  return /\[(\d{3,6})[:\]]/.exec(body.return_msg)?.[1];
}

export function serverFault(): KiwoomReply {
  return new KiwoomReply(500, {
    return_code: 1,
    return_msg: '예기치 못한 에러가 발생했습니다[1999:예기치 못한 에러가 발생했습니다. 실패사유=simulated fault]',
  });
}

export const missingField = (field: string): KiwoomReply => inputError(1511, `필수 입력 값에 값이 존재하지 않습니다. 필수입력 파라미터=${field}`);
export const badField = (field: string, reason: string): KiwoomReply =>
  inputError(1517, `입력 값 형식이 올바르지 않습니다. 파라미터=${field} 실패사유=${reason}`);
export const unknownStock = (stkCd: string): KiwoomReply => inputError(1902, `종목 정보가 없습니다. 입력한 종목코드 값을 확인바랍니다. 종목코드=${stkCd}`);

/** Typed error for the simulator's own programmatic and control API. */
export class SimError extends Error {
  readonly code = 'SIM_BAD_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'SimError';
  }
}
