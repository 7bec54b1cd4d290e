// What `kguard approvals ...` prints for people, in Korean or English (--lang, else the configured language, Korean
// unless set). Approval ids, statuses, levels, bot ids, api-ids, scores, names, roles, the TOTP secret and its URI
// are printed as they are in both. --json output is never translated.
import type { Language } from '../common/errors.js';

export interface ApprovalView {
  id: string;
  status: string;
  level: string;
  botId: string;
  apiId: string;
  score: number;
  createdAt: string;
  expiresAt: string;
  summary: Record<string, string>;
  approvals: { approver: string }[];
  requiredApprovals: number;
  refusal?: { ownCall?: boolean };
}

const summaryOf = (v: ApprovalView) =>
  Object.entries(v.summary)
    .map(([k, x]) => `${k}=${x}`)
    .join(' ');
/** A call declined as the bot's own shows as `declined`, not `refused` (a sign of compromise). */
const shownStatus = (v: ApprovalView) => (v.refusal?.ownCall ? 'declined' : v.status).padEnd(8);

export const APPROVALS_TEXT = {
  ko: {
    none: '승인 요청 없음\n',
    row: (v: ApprovalView) =>
      `${v.id}  ${shownStatus(v)} ${v.level.padEnd(7)} 봇=${v.botId} ${v.apiId} 점수=${v.score} ${summaryOf(v)} 승인=${v.approvals.length}/${v.requiredApprovals} 만료=${v.expiresAt}`,
    status: (id: string, v: ApprovalView) => `승인 요청 ${id}: ${v.status}${v.refusal?.ownCall ? ' (봇 자신의 호출로 보고 거절함)' : ''}\n`,
    codePrompt: 'TOTP 코드: ',
    enrolled: (name: string, roles: string, secret: string, uri: string) =>
      `승인자 ${name}을(를) 등록했습니다 (${roles})\nTOTP 시크릿 (한 번만 표시): ${secret}\notpauth URI (한 번만 표시): ${uri}\n`,
  },
  en: {
    none: 'no approvals\n',
    row: (v: ApprovalView) =>
      `${v.id}  ${shownStatus(v)} ${v.level.padEnd(7)} bot=${v.botId} ${v.apiId} score=${v.score} ${summaryOf(v)} approvals=${v.approvals.length}/${v.requiredApprovals} expires=${v.expiresAt}`,
    status: (id: string, v: ApprovalView) => `approval ${id}: ${v.status}${v.refusal?.ownCall ? " (declined as the bot's own call)" : ''}\n`,
    codePrompt: 'TOTP code: ',
    enrolled: (name: string, roles: string, secret: string, uri: string) =>
      `approver ${name} enrolled (${roles})\nTOTP secret (shown once): ${secret}\notpauth URI (shown once): ${uri}\n`,
  },
} as const satisfies Record<Language, unknown>;
