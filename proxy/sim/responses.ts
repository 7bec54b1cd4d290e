// Kiwoom-shaped bodies. Detail codes and messages follow Kiwoom's published
// error table; HTTP status is 200 for business errors (as clients observe),
// 429 for the rate limit.

export const OK_MSG = '정상적으로 처리되었습니다';

export interface KiwoomBody {
  return_code: number;
  return_msg: string;
  [field: string]: unknown;
}

/** A Kiwoom error answer: HTTP status plus body. */
export class KiwoomReply extends Error {
  constructor(readonly status: number, readonly body: KiwoomBody, readonly headers: Record<string, string> = {}) {
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

export const invalidToken = (): KiwoomReply => authError(8005, 'Token이 유효하지 않습니다');

/** Order rejections: `[2000](308003:주문단가를 입력하십시요)`; return_code 20 as measured on Kiwoom's mock host. */
export function orderRejected(detail: string, message: string): KiwoomReply {
  return new KiwoomReply(200, { return_code: 20, return_msg: `[2000](${detail}:${message})` });
}

export function rateLimited(apiId: string): KiwoomReply {
  return new KiwoomReply(429, {
    return_code: 5,
    return_msg: `허용된 요청 개수를 초과하였습니다[1700:허용된 요청 개수를 초과하였습니다. API ID=${apiId}]`,
  });
}

export function serverFault(): KiwoomReply {
  return new KiwoomReply(500, { return_code: 1, return_msg: '예기치 못한 에러가 발생했습니다[1999:예기치 못한 에러가 발생했습니다. 실패사유=simulated fault]' });
}

export const missingField = (field: string): KiwoomReply => inputError(1511, `필수 입력 값에 값이 존재하지 않습니다. 필수입력 파라미터=${field}`);
export const badField = (field: string, reason: string): KiwoomReply => inputError(1517, `입력 값 형식이 올바르지 않습니다. 파라미터=${field} 실패사유=${reason}`);
export const unknownStock = (stkCd: string): KiwoomReply => inputError(1902, `종목 정보가 없습니다. 입력한 종목코드 값을 확인바랍니다. 종목코드=${stkCd}`);

/** Typed error for the simulator's own programmatic and control API. */
export class SimError extends Error {
  readonly code = 'SIM_BAD_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'SimError';
  }
}
