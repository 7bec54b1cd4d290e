// What `kguard lockdown` and `kguard incidents ...` print for people, in Korean or English (--lang, else the
// configured language, Korean unless set). Incident ids, step ids, statuses, bot ids, accounts, causes, amounts and
// times are printed as they are in both; what the sidecar wrote (checklist titles, errors, reasons) is in its own
// language. --json output is never translated.
import type { Language } from '../common/errors.js';
import type { IncidentReport } from '../response/incident.js';
import type { CompensationWorksheet, IncidentSummary } from '../response/index.js';

type Step = IncidentReport['steps'][number];
type Cancel = IncidentReport['cancels'][number];

export const INCIDENTS_TEXT = {
  ko: {
    head: (id: string, bots: string) => `긴급 차단 사고 ${id} (${bots || '봇 없음'})`,
    step: (s: Step) => `${s.ok ? '완료' : s.status === 'pending' ? '대기' : '실패'}`,
    cancel: (c: Cancel) =>
      `  계좌 ${c.account}: 미체결 ${c.listed ?? 0}건, 취소 ${c.cancelled ?? 0}건, 취소되지 않음 ${c.notCancelled?.length ?? 0}건${c.error ? ` (${c.error})` : ''}`,
    cancelled: (confirmedMs: number | undefined, damageMs: number | undefined) =>
      `  전체 주문 취소: ${confirmedMs !== undefined ? `${confirmedMs} ms에 확인` : '확인되지 않음'}; 피해 평가 ${damageMs ?? '-'} ms`,
    checklist: '  복구 체크리스트:',
    stillRunning: (id: string) =>
      `긴급 차단 진행 중: 봇은 차단되었으나 미체결 주문의 취소가 아직 확인되지 않았습니다 (키움 응답 지연). kguard incidents show ${id}로 이어서 확인하십시오\n`,
    none: '사고 없음\n',
    row: (i: IncidentSummary) => `${i.id}  ${i.status.padEnd(8)} ${i.createdAt} ${i.automatic ? '자동' : '수동'} 봇=${i.bots.join(',')} ${i.reason}`,
    confirmed: (id: string, step: string) => `사고 ${id}의 단계 ${step}을(를) 확인했습니다\n`,
    unlockApproved: (id: string, n: number, of: number) => `사고 ${id}의 차단 해제 승인: ${n}/${of}${n >= of ? '' : ` (관리자 ${of - n}명 더 필요)`}\n`,
    unlocked: (id: string) => `사고 ${id}의 차단을 해제했습니다\n`,
    compensation: (c: CompensationWorksheet) =>
      `사고 ${c.incidentId}: 원인 ${c.cause}, 손실 ${c.lossKrw}원 (${c.lossBasis})의 ${Math.round(c.rate * 100)}% = ${c.uncappedKrw}원, 한도 ${c.capKrw}원 -> ${c.amountKrw}원\n처리 기간 영업일 ${c.processing.minBusinessDays}-${c.processing.maxBusinessDays}일 (${c.processing.earliest} - ${c.processing.latest}); 결정: ${c.setBy}\n`,
  },
  en: {
    head: (id: string, bots: string) => `LOCKDOWN incident ${id} (${bots || 'no bots'})`,
    step: (s: Step) => `${s.ok ? 'ok     ' : s.status === 'pending' ? 'PENDING' : 'FAILED '}`,
    cancel: (c: Cancel) =>
      `  account ${c.account}: listed ${c.listed ?? 0}, cancelled ${c.cancelled ?? 0}, NOT cancelled ${c.notCancelled?.length ?? 0}${c.error ? ` (${c.error})` : ''}`,
    cancelled: (confirmedMs: number | undefined, damageMs: number | undefined) =>
      `  all orders cancelled: ${confirmedMs !== undefined ? `${confirmedMs} ms` : 'NOT CONFIRMED'}; damage assessment ${damageMs ?? '-'} ms`,
    checklist: '  recovery checklist:',
    stillRunning: (id: string) =>
      `lockdown still running: the bot is locked, its open orders are not confirmed cancelled yet (Kiwoom is slow to answer); follow it with kguard incidents show ${id}\n`,
    none: 'no incidents\n',
    row: (i: IncidentSummary) => `${i.id}  ${i.status.padEnd(8)} ${i.createdAt} ${i.automatic ? 'auto  ' : 'manual'} bots=${i.bots.join(',')} ${i.reason}`,
    confirmed: (id: string, step: string) => `step ${step} confirmed on incident ${id}\n`,
    unlockApproved: (id: string, n: number, of: number) =>
      `unlock approvals for incident ${id}: ${n} of ${of}${n >= of ? '' : ` (${of - n} more admin${of - n > 1 ? 's' : ''} needed)`}\n`,
    unlocked: (id: string) => `incident ${id} unlocked\n`,
    compensation: (c: CompensationWorksheet) =>
      `incident ${c.incidentId}: cause ${c.cause} ${Math.round(c.rate * 100)}% of ${c.lossKrw} KRW (${c.lossBasis}) = ${c.uncappedKrw} KRW, cap ${c.capKrw} KRW -> ${c.amountKrw} KRW\nprocessing ${c.processing.minBusinessDays}-${c.processing.maxBusinessDays} business days (${c.processing.earliest} - ${c.processing.latest}); set by ${c.setBy}\n`,
  },
} as const satisfies Record<Language, unknown>;

/** A lockdown's report: its steps with their timings, each account's cancels, the recovery checklist. */
export function summarise(r: IncidentReport, lang: Language): string {
  const say = INCIDENTS_TEXT[lang];
  const lines = [say.head(r.id, r.targets.map((t) => t.botId).join(', '))];
  for (const s of r.steps) lines.push(`  ${say.step(s)} ${s.step} (${s.startedMs}-${s.endedMs} ms)${s.errors.length ? `: ${s.errors.join('; ')}` : ''}`);
  for (const c of r.cancels) lines.push(say.cancel(c));
  lines.push(say.cancelled(r.timings.cancelConfirmedMs, r.timings.damageMs));
  lines.push(say.checklist, ...r.checklist.map((c) => `    [${c.confirmedBy ? 'x' : ' '}] ${c.id}: ${c.title}`));
  return `${lines.join('\n')}\n`;
}
