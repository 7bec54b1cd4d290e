// What the alerts say, in the sidecar's language (config `language`): the
// owner and the security team read them in Slack or a bridge to a phone, so
// they are Korean by default. Structured details (for machines) stay as they
// are; only the title and the lines for humans change.
import type { Language } from '../common/errors.js';
import { seoulParts } from '../kiwoom/protocol/index.js';

export interface AlertWords {
  readonly title: string;
  readonly lines: string[];
}

export interface AlertText {
  risk(p: { botId: string; score: number; apiId?: string | undefined; reasons: readonly { detector: string; reason: string }[] }): AlertWords;
  lockdown(p: {
    bots: readonly string[];
    reason: string;
    actor: string;
    automatic: boolean;
    trigger?: { score: number; detectors: readonly string[] } | undefined;
  }): AlertWords;
  damage(p: {
    fills: number;
    boughtKrw: number;
    soldKrw: number;
    cancelled: number;
    notCancelled: number;
    /** Accounts whose open orders could not be listed (how many are open there is unknown; the cancel-all is retried). */
    notListed: number;
    lossKrw: number;
    recovery: readonly string[];
  }): AlertWords;
  approval(p: ApprovalWords): AlertWords;
  /** A held call refused as one the bot did not make: what was refused, by whom and why, and what follows. */
  refusal(p: RefusalWords): AlertWords;
  unlock(p: { bots: readonly string[]; actor: string; approvers: readonly string[] }): AlertWords;
  /** An order Kiwoom accepted (or may have: its answer lost) for a bot already locked down, and its account cancelled again. */
  lateOrder(p: LateOrderWords): AlertWords;
  realKey(p: { sourceIp: string; path: string; fingerprint: string }): AlertWords;
}

/** An order that reached Kiwoom around a lockdown (the cancel-all's late-order record; the account masked). */
export interface LateOrderWords {
  readonly incidentId: string;
  readonly botId: string;
  readonly apiId: string;
  readonly account: string;
  /** Kiwoom's order number; absent when the answer was lost. */
  readonly ordNo?: string | undefined;
  readonly requestId?: string | undefined;
  /** Whether the account's open orders were cancelled again and confirmed. */
  readonly confirmed: boolean;
}

/** A call held for approval, as the approver needs to read it (no secret: the approval record's own fields). */
export interface ApprovalWords {
  readonly id: string;
  readonly botId: string;
  readonly apiId: string;
  readonly level: 'step_up' | 'admin';
  readonly score: number;
  readonly summary: Readonly<Record<string, string>>;
  readonly reasons: readonly string[];
  /** The policy rule that held the call (absent on a risk step-up with no rule). */
  readonly ruleId?: string | undefined;
  readonly expiresAt: string;
}

/** A held call refused as not the bot's (the approval record's fields and the refusal; no secret). */
export interface RefusalWords {
  readonly id: string;
  readonly botId: string;
  readonly apiId: string;
  readonly summary: Readonly<Record<string, string>>;
  readonly approver: string;
  readonly reason: string;
}

const krw = (n: number): string => n.toLocaleString('en-US');
const two = (n: number): string => String(n).padStart(2, '0');
/** An instant on Seoul's wall clock, as a reader in Korea reads it: 2026-01-05 10:02:03. */
const seoulClock = (iso: string): string => {
  const p = seoulParts(Date.parse(iso));
  return `${p.date} ${two(p.hour)}:${two(p.minute)}:${two(p.second)}`;
};
const fields = (summary: Readonly<Record<string, string>>): string =>
  Object.entries(summary)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
const reasonLines = (reasons: readonly { detector: string; reason: string }[]): string[] => reasons.slice(0, 5).map((c) => `${c.detector}: ${c.reason}`);

const EN: AlertText = {
  risk: ({ botId, score, apiId, reasons }) => ({
    title: `Unusual activity: ${botId}`,
    lines: [`risk score ${score}${apiId ? ` on ${apiId}` : ''}`, ...reasonLines(reasons)],
  }),
  lockdown: ({ bots, reason, actor, automatic, trigger }) => ({
    title: `Lockdown: ${bots.join(', ') || 'no bots'}`,
    lines: [
      `reason: ${reason}`,
      `by: ${actor}${automatic ? ' (automatic)' : ''}`,
      ...(trigger ? [`risk score ${trigger.score}: ${trigger.detectors.join(', ')}`] : []),
      'credentials disabled, trading HALTED, sessions and broker tokens revoked; cancelling open orders',
    ],
  }),
  damage: (d) => ({
    title: 'Damage assessment',
    lines: [
      `fills in window: ${d.fills}; bought ${krw(d.boughtKrw)} KRW; sold ${krw(d.soldKrw)} KRW`,
      `orders cancelled: ${d.cancelled}; NOT cancelled: ${d.notCancelled}${d.notListed ? `; accounts whose open orders could not be listed: ${d.notListed} (unknown; retried)` : ''}`,
      `estimated loss (lower bound): ${krw(d.lossKrw)} KRW`,
      `recovery: ${d.recovery.join(' → ')}`,
    ],
  }),
  approval: (a) => ({
    title: `${a.level === 'admin' ? 'Admin approval (four eyes)' : 'Approval'} needed: ${a.botId} ${a.apiId}`,
    lines: [
      `risk score ${a.score}; expires ${a.expiresAt}`,
      ...(Object.keys(a.summary).length ? [`call: ${fields(a.summary)}`] : []),
      ...(a.ruleId ? [`held by rule ${a.ruleId}`] : []),
      ...a.reasons.slice(0, 5),
      `approve: kguard approvals approve ${a.id} (TOTP code on stdin) or the dashboard; refuse: kguard approvals refuse ${a.id} --reason "..."`,
      `a call the bot did not make: refuse it, and its next order locks it down; a call of its own you do not want: kguard approvals refuse ${a.id} --own-call --reason "..."`,
    ],
  }),
  refusal: (r) => ({
    title: `Refused as not the bot's call: ${r.botId} ${r.apiId}`,
    lines: [
      `refused by ${r.approver}: ${r.reason}`,
      ...(Object.keys(r.summary).length ? [`call: ${fields(r.summary)}`] : []),
      `the bot's identity made a call its owner did not: its next order locks it down; to stop it now: kguard lockdown --bot ${r.botId} --reason "..."`,
    ],
  }),
  unlock: ({ bots, actor, approvers }) => ({ title: `Unlocked: ${bots.join(', ')}`, lines: [`by ${actor}`, `approvals: ${approvers.join(', ')}`] }),
  lateOrder: (l) => ({
    title: l.ordNo
      ? `Order placed after the lockdown: ${l.botId} ${l.apiId} ${l.ordNo}`
      : `Order may have been placed after the lockdown: ${l.botId} ${l.apiId}`,
    lines: [
      l.ordNo
        ? `Kiwoom accepted order ${l.ordNo} on ${l.account} after lockdown ${l.incidentId} had listed the account's open orders`
        : `an order on ${l.account} was written to Kiwoom around lockdown ${l.incidentId} and its answer was lost (request ${l.requestId ?? 'unknown'}): it may be live`,
      l.confirmed
        ? "the account's open orders were cancelled again and confirmed; check its fills"
        : "the account's open orders are NOT confirmed cancelled yet; retrying (check at Kiwoom)",
    ],
  }),
  realKey: ({ sourceIp, path, fingerprint }) => ({
    title: 'A real Kiwoom app key was presented to the sidecar',
    lines: [
      `source ${sourceIp}, ${path}; refused and never forwarded`,
      `key fingerprint ${fingerprint} (kguard audit hash matches a known key)`,
      'a bot holds a broker key: find it, remove the key from it, and rotate the key at Kiwoom',
    ],
  }),
};

const KO: AlertText = {
  risk: ({ botId, score, apiId, reasons }) => ({
    title: `이상 거래 징후: ${botId}`,
    lines: [`위험 점수 ${score}${apiId ? ` (${apiId})` : ''}`, ...reasonLines(reasons)],
  }),
  lockdown: ({ bots, reason, actor, automatic, trigger }) => ({
    title: `긴급 차단: ${bots.join(', ') || '대상 봇 없음'}`,
    lines: [
      `사유: ${reason}`,
      `실행: ${actor}${automatic ? ' (자동)' : ''}`,
      ...(trigger ? [`위험 점수 ${trigger.score}: ${trigger.detectors.join(', ')}`] : []),
      '자격 증명 비활성화, 거래 중지, 세션과 브로커 토큰 폐기 완료; 미체결 주문 취소 중',
    ],
  }),
  damage: (d) => ({
    title: '피해 평가',
    lines: [
      `조사 구간 체결: ${d.fills}건; 매수 ${krw(d.boughtKrw)}원; 매도 ${krw(d.soldKrw)}원`,
      `취소한 주문: ${d.cancelled}건; 취소하지 못한 주문: ${d.notCancelled}건${d.notListed ? `; 미체결 주문을 조회하지 못한 계좌: ${d.notListed}개 (남은 주문 모름, 재시도 중)` : ''}`,
      `추정 손실 (하한): ${krw(d.lossKrw)}원`,
      `복구 절차: ${d.recovery.join(' → ')}`,
    ],
  }),
  approval: (a) => ({
    title: `${a.level === 'admin' ? '관리자 승인(4-eyes)' : '승인'} 요청: ${a.botId} ${a.apiId}`,
    lines: [
      `위험 점수 ${a.score}; 만료 ${seoulClock(a.expiresAt)} (한국 시간)`,
      ...(Object.keys(a.summary).length ? [`호출: ${fields(a.summary)}`] : []),
      ...(a.ruleId ? [`보류한 규칙: ${a.ruleId}`] : []),
      ...a.reasons.slice(0, 5),
      `승인: kguard approvals approve ${a.id} (OTP 코드는 표준 입력으로) 또는 대시보드; 거절: kguard approvals refuse ${a.id} --reason "..."`,
      `봇이 하지 않은 호출은 거절하세요: 그 뒤 이 봇의 주문은 봇을 잠급니다. 봇이 낸 호출을 막기만 하려면: kguard approvals refuse ${a.id} --own-call --reason "..."`,
    ],
  }),
  refusal: (r) => ({
    title: `봇이 하지 않은 호출로 거절됨: ${r.botId} ${r.apiId}`,
    lines: [
      `거절: ${r.approver}: ${r.reason}`,
      ...(Object.keys(r.summary).length ? [`호출: ${fields(r.summary)}`] : []),
      `소유자가 하지 않은 호출이 이 봇의 ID로 나왔습니다: 이 봇의 다음 주문은 봇을 잠급니다. 지금 막으려면: kguard lockdown --bot ${r.botId} --reason "..."`,
    ],
  }),
  unlock: ({ bots, actor, approvers }) => ({ title: `차단 해제: ${bots.join(', ')}`, lines: [`실행: ${actor}`, `해제 승인: ${approvers.join(', ')}`] }),
  lateOrder: (l) => ({
    title: l.ordNo ? `차단 후 접수된 주문: ${l.botId} ${l.apiId} ${l.ordNo}` : `차단 후 접수되었을 수 있는 주문: ${l.botId} ${l.apiId}`,
    lines: [
      l.ordNo
        ? `긴급 차단 ${l.incidentId}이 계좌 ${l.account}의 미체결 주문을 조회한 뒤 키움이 주문 ${l.ordNo}을 접수했습니다`
        : `긴급 차단 ${l.incidentId} 즈음 계좌 ${l.account}의 주문이 키움에 보내졌고 응답을 받지 못했습니다 (요청 ${l.requestId ?? '알 수 없음'}): 접수되었을 수 있습니다`,
      l.confirmed
        ? '계좌의 미체결 주문을 다시 취소했고 확인했습니다; 체결 여부를 확인하세요'
        : '계좌의 미체결 주문 취소가 아직 확인되지 않았습니다; 재시도 중 (키움에서 확인하세요)',
    ],
  }),
  realKey: ({ sourceIp, path, fingerprint }) => ({
    title: '실제 키움 앱 키가 사이드카에 제시되었습니다',
    lines: [
      `출발지 ${sourceIp}, ${path}; 거부했고 키움으로 전달하지 않음`,
      `키 지문 ${fingerprint} (kguard audit hash로 알려진 키와 대조 가능)`,
      '어느 봇이 증권사 키를 가지고 있습니다: 그 봇을 찾아 키를 지우고, 키움에서 키를 재발급하세요',
    ],
  }),
};

export const ALERT_TEXT: Readonly<Record<Language, AlertText>> = { ko: KO, en: EN };
