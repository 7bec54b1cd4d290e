// Why an approver's approve or refuse was not taken. Every one is KG3011 (clients that match the code are
// unchanged); the reason is a stable key in the admin API's answer (`reason`) and the bracket's detail is in the
// sidecar's language, so the approver reads which: a wrong code, a used one, a lockout, no enrolment, the bot's
// owner at an admin-level call, the admin role missing, or a second vote of theirs. Only an authenticated approver
// reaches these (the routes need the approver role); the English detail is what the logs and audit records keep.
import { GuardError } from '../common/errors.js';

export type ApproveRefusal =
  | 'not-enrolled'
  | 'needs-admin-role'
  | 'owner-four-eyes'
  | 'not-owner-or-approver'
  | 'already-voted'
  | 'code-invalid'
  | 'code-reused'
  | 'locked-out';

// The English is what the logs, audit records and existing log searches have always read.
const TEXT: Record<ApproveRefusal, { en: (arg?: string) => string; ko: (arg?: string) => string }> = {
  'not-enrolled': {
    en: (name) => `approver ${name} is not enrolled`,
    ko: () => '승인자로 등록되어 있지 않습니다 (2차 인증 미등록). 관리자에게 등록을 요청하세요 (kguard approvals enroll)',
  },
  'needs-admin-role': {
    en: () => 'admin-level approval needs the admin role',
    ko: () => '관리자 수준 승인에는 승인자 등록의 admin 역할이 필요합니다',
  },
  'owner-four-eyes': {
    en: () => "four-eyes: the bot's owner cannot approve an admin-level call",
    ko: () => '4-eyes 원칙: 봇 소유자는 관리자 수준 호출을 승인할 수 없습니다. 다른 관리자가 승인해야 합니다',
  },
  'not-owner-or-approver': {
    en: () => "only the bot's owner or an approver may confirm",
    ko: () => '봇 소유자나 승인자만 결정할 수 있습니다',
  },
  'already-voted': {
    en: () => 'four-eyes: a second approval must come from a different approver',
    ko: () => '4-eyes 원칙: 이미 승인하셨습니다. 다음 승인은 다른 승인자가 해야 합니다',
  },
  'code-invalid': {
    en: (until) => `invalid second-factor code${until ? `; approver locked until ${until}` : ''}`,
    ko: (until) => `2차 인증 코드가 맞지 않습니다. 인증 앱의 현재 코드와 시계를 확인하세요${until ? ` (틀린 코드가 많아 ${until}까지 잠겼습니다)` : ''}`,
  },
  'code-reused': {
    en: () => 'this code was already used; wait for the next one',
    ko: () => '이미 사용한 코드입니다. 다음 코드를 기다리세요',
  },
  'locked-out': {
    en: (until) => `too many failed codes; approver locked${until ? ` until ${until}` : ''}`,
    ko: (until) => `틀린 코드가 너무 많아 잠겼습니다${until ? ` (${until}까지)` : ''}. 잠금이 풀린 뒤 현재 코드로 다시 시도하세요`,
  },
};

/** KG3011 with its reason: `detail` (English) for logs and audit, the reason in both languages for the answer. */
export function approveRefused(reason: ApproveRefusal, arg?: string): GuardError {
  const text = TEXT[reason];
  const en = text.en(arg);
  return new GuardError('KG3011', en, { reason: { key: reason, ko: text.ko(arg), en } });
}
