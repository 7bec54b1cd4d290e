// An incident as Markdown (GET /admin/v1/incidents/:id?format=md, `kguard
// incidents show <id>`), in the sidecar's language: the report the security
// team files and reads, Korean by default. What the incident recorded stays
// as recorded (step names, timeline events, reasons, ids); only the
// headings, labels and sentences around them change.
import type { Language } from '../common/errors.js';
import type { IncidentReport } from './incident.js';

// What was recorded is text: Kiwoom's return_msg, order numbers, reasons and errors reach the report, and the report
// is pasted where Markdown renders. So one line, no table break, and every character that opens inline markup
// (link, image, raw HTML, code, emphasis, strikethrough) escaped: "[log in](https://…)" shows as typed.
const cell = (s: unknown): string =>
  String(s ?? '')
    .replace(/[|\r\n]/g, ' ')
    .replace(/[\\`*_[\]<>!~]/g, (c) => `\\${c}`);
/** Our own checklist titles, which may hold `code`. */
const own = (s: unknown): string => String(s ?? '').replace(/[|\r\n]/g, ' ');
const amount =
  (unit: string) =>
  (n: number | undefined): string =>
    n === undefined ? '-' : `${Math.round(n).toLocaleString('en-US')}${unit}`;

interface Words {
  readonly krw: (n: number | undefined) => string;
  readonly title: string;
  readonly status: string;
  readonly unlocked: (at: string, by: string) => string;
  readonly opened: string;
  readonly openedBy: (at: string, actor: string, automatic: boolean) => string;
  readonly scope: string;
  readonly allBots: string;
  readonly account: string;
  readonly bot: string;
  readonly bots: string;
  readonly reason: string;
  readonly detectors: string;
  readonly riskScore: (score: number, apiId: string | undefined) => string;
  readonly detectorHeader: string;
  readonly actions: string;
  readonly stepHeader: string;
  readonly failed: string;
  readonly pending: string;
  readonly timings: (steps: string, confirmed: string, damage: string) => string;
  readonly notConfirmed: string;
  readonly orders: string;
  readonly accountOrders: (p: { account: string; via: string; listed: number; cancelled: number; notCancelled: number; error?: string | undefined }) => string;
  readonly order: string;
  readonly cancelledOrder: (p: { ordNo: string; stkCd: string; side: 'buy' | 'sell' | 'unknown'; qty: number }) => string;
  readonly damage: string;
  readonly window: (from: string, to: string, complete: boolean, tookMs: number) => string;
  readonly fills: (fills: number, bought: string, sold: string) => string;
  readonly loss: (krw: string) => string;
  readonly cancelled: (cancelled: number, notCancelled: number, notListed: number) => string;
  readonly accountHeading: string;
  readonly holdings: (value: string, baseline: string | undefined, at: string | undefined, error: string | undefined) => string;
  readonly holdingHeader: string;
  readonly checklist: string;
  readonly optional: string;
  readonly confirmed: (by: string, at: string | undefined, note: string | undefined) => string;
  readonly unlockApprovals: (names: string, required: number) => string;
  readonly compensation: string;
  readonly compensationLine: (c: { cause: string; pct: number; loss: string; basis: string; uncapped: string; cap: string; amount: string }) => string;
  readonly processing: (min: number, max: number, earliest: string, latest: string, by: string, at: string) => string;
  readonly timeline: string;
  readonly notification: (event: string, results: string) => string;
  readonly delivered: string;
  readonly deliveryFailed: (error: string) => string;
  readonly noWebhooks: string;
}

const EN: Words = {
  krw: amount(' KRW'),
  title: 'Security incident',
  status: 'Status',
  unlocked: (at, by) => ` (unlocked ${at} by ${by})`,
  opened: 'Opened',
  openedBy: (at, actor, automatic) => `${at} by ${actor} (${automatic ? 'automatic' : 'manual'})`,
  scope: 'Scope',
  allBots: 'all bots',
  account: 'account',
  bot: 'bot',
  bots: 'bots',
  reason: 'Reason',
  detectors: 'Detectors',
  riskScore: (score, apiId) => `Risk score **${score}**${apiId ? ` on ${apiId}` : ''}.`,
  detectorHeader: '| detector | score | weight | reason |',
  actions: 'Actions',
  stepHeader: '| step | started (ms) | ended (ms) | result |',
  failed: 'FAILED',
  pending: 'PENDING (not confirmed yet)',
  timings: (steps, confirmed, damage) =>
    `Lockdown steps took ${steps} ms; all orders cancelled and confirmed at ${confirmed} ms; damage assessment ${damage} ms.`,
  notConfirmed: 'NOT CONFIRMED',
  orders: 'Orders',
  accountOrders: (p) =>
    `- account ${p.account} (via ${p.via}): listed ${p.listed}, cancelled ${p.cancelled}, not cancelled ${p.notCancelled}${p.error ? `, error: ${p.error}` : ''}`,
  order: 'order',
  cancelledOrder: (p) => `order ${p.ordNo} ${p.stkCd} ${p.side === 'unknown' ? '' : `${p.side} `}${p.qty}: cancelled`,
  damage: 'Damage assessment',
  window: (from, to, complete, tookMs) => `Window ${from} – ${to}${complete ? '' : ' (INCOMPLETE)'}, took ${tookMs} ms.`,
  fills: (fills, bought, sold) => `- fills: ${fills}; bought ${bought}; sold ${sold}`,
  loss: (krw) => `- estimated loss (lower bound): ${krw}`,
  cancelled: (c, n, l) =>
    `- orders cancelled: ${c}; not cancelled: ${n}${l ? `; accounts whose open orders could not be listed: ${l} (unknown; retried)` : ''}`,
  accountHeading: 'Account',
  holdings: (value, baseline, at, error) =>
    `Holdings value ${value}${baseline !== undefined ? ` vs baseline ${baseline} (${at})` : ' (no baseline)'}${error ? `; error: ${error}` : ''}`,
  holdingHeader: '| symbol | qty | baseline qty | price | value |',
  checklist: 'Recovery checklist',
  optional: ' (optional)',
  confirmed: (by, at, note) => ` — ${by} at ${at}${note ? `: ${note}` : ''}`,
  unlockApprovals: (names, required) => `Unlock approvals: ${names || 'none'} (${required} required).`,
  compensation: 'Compensation worksheet',
  compensationLine: (c) => `Cause **${c.cause}** at ${c.pct}% of ${c.loss} (${c.basis}) = ${c.uncapped}, capped at ${c.cap}: **${c.amount}**.`,
  processing: (min, max, earliest, latest, by, at) => `Processing ${min}-${max} business days (${earliest} – ${latest}). Set by ${by} at ${at}.`,
  timeline: 'Timeline',
  notification: (event, results) => `- notification ${event}: ${results}`,
  delivered: 'delivered',
  deliveryFailed: (error) => `failed (${error})`,
  noWebhooks: 'no webhooks configured',
};

const KO: Words = {
  krw: amount('원'),
  title: '보안 사고',
  status: '상태',
  unlocked: (at, by) => ` (${at}에 ${by} 해제)`,
  opened: '발생',
  openedBy: (at, actor, automatic) => `${at}, 실행 ${actor} (${automatic ? '자동' : '수동'})`,
  scope: '범위',
  allBots: '모든 봇',
  account: '계좌',
  bot: '봇',
  bots: '대상 봇',
  reason: '사유',
  detectors: '탐지 요인',
  riskScore: (score, apiId) => `위험 점수 **${score}**${apiId ? ` (${apiId})` : ''}.`,
  detectorHeader: '| 탐지기 | 점수 | 가중치 | 사유 |',
  actions: '조치',
  stepHeader: '| 단계 | 시작 (ms) | 종료 (ms) | 결과 |',
  failed: '실패',
  pending: '확인 대기',
  timings: (steps, confirmed, damage) => `차단 단계 ${steps} ms; 모든 주문 취소 확인 ${confirmed} ms; 피해 평가 ${damage} ms.`,
  notConfirmed: '확인 안 됨',
  orders: '주문',
  accountOrders: (p) =>
    `- 계좌 ${p.account} (${p.via} 경유): 조회 ${p.listed}건, 취소 ${p.cancelled}건, 취소 못 함 ${p.notCancelled}건${p.error ? `, 오류: ${p.error}` : ''}`,
  order: '주문',
  cancelledOrder: (p) => `주문 ${p.ordNo} ${p.stkCd} ${p.side === 'buy' ? '매수 ' : p.side === 'sell' ? '매도 ' : ''}${p.qty}주: 취소됨`,
  damage: '피해 평가',
  window: (from, to, complete, tookMs) => `조사 구간 ${from} – ${to}${complete ? '' : ' (불완전)'}, ${tookMs} ms 소요.`,
  fills: (fills, bought, sold) => `- 체결: ${fills}건; 매수 ${bought}; 매도 ${sold}`,
  loss: (krw) => `- 추정 손실 (하한): ${krw}`,
  cancelled: (c, n, l) =>
    `- 취소한 주문: ${c}건; 취소하지 못한 주문: ${n}건${l ? `; 미체결 주문을 조회하지 못한 계좌: ${l}개 (남은 주문 모름, 재시도 중)` : ''}`,
  accountHeading: '계좌',
  holdings: (value, baseline, at, error) =>
    `보유 평가액 ${value}${baseline !== undefined ? `, 기준 시점 ${baseline} (${at})` : ' (기준 없음)'}${error ? `; 오류: ${error}` : ''}`,
  holdingHeader: '| 종목 | 수량 | 기준 수량 | 가격 | 평가액 |',
  checklist: '복구 체크리스트',
  optional: ' (선택)',
  confirmed: (by, at, note) => ` — ${by}, ${at}${note ? `: ${note}` : ''}`,
  unlockApprovals: (names, required) => `해제 승인: ${names || '없음'} (필요 ${required}명).`,
  compensation: '보상 산정',
  compensationLine: (c) => `원인 **${c.cause}**: ${c.loss} (${c.basis})의 ${c.pct}% = ${c.uncapped}, 상한 ${c.cap} 적용: **${c.amount}**.`,
  processing: (min, max, earliest, latest, by, at) => `처리 기간 영업일 ${min}-${max}일 (${earliest} – ${latest}). ${at}에 ${by} 설정.`,
  timeline: '경과',
  notification: (event, results) => `- 알림 ${event}: ${results}`,
  delivered: '전달됨',
  deliveryFailed: (error) => `실패 (${error})`,
  noWebhooks: '설정된 웹훅 없음',
};

const WORDS: Readonly<Record<Language, Words>> = { ko: KO, en: EN };

export function renderIncidentMarkdown(r: IncidentReport, language: Language = 'ko'): string {
  const w = WORDS[language];
  const krw = w.krw;
  const out: string[] = [];
  out.push(`# ${w.title} ${r.id}`, '');
  out.push(`- **${w.status}:** ${r.status}${r.unlockedAt ? w.unlocked(r.unlockedAt, cell(r.unlockedBy)) : ''}`);
  out.push(`- **${w.opened}:** ${w.openedBy(r.createdAt, cell(r.actor), r.automatic)}`);
  const scope = r.scope.all ? w.allBots : r.scope.account ? `${w.account} ${cell(r.scope.account)}` : `${w.bot} ${cell(r.scope.botId)}`;
  out.push(`- **${w.scope}:** ${scope}; ${w.bots}: ${r.targets.map((t) => cell(t.botId)).join(', ') || '-'}`);
  out.push(`- **${w.reason}:** ${cell(r.reason)}`, '');
  if (r.trigger) {
    out.push(`## ${w.detectors}`, '', w.riskScore(r.trigger.score, r.trigger.apiId ? cell(r.trigger.apiId) : undefined), '');
    out.push(w.detectorHeader, '|---|---|---|---|');
    for (const c of r.trigger.contributions) out.push(`| ${cell(c.detector)} | ${c.score} | ${c.weight} | ${cell(c.reason)} |`);
    out.push('');
  }
  out.push(`## ${w.actions}`, '', w.stepHeader, '|---|---|---|---|');
  for (const s of r.steps) {
    const result = s.ok ? 'ok' : s.status === 'pending' ? w.pending : `${w.failed}: ${cell(s.errors.join('; '))}`;
    out.push(`| ${cell(s.step)} | ${s.startedMs} | ${s.endedMs} | ${result} |`);
  }
  out.push('', w.timings(String(r.timings.stepsMs ?? '-'), String(r.timings.cancelConfirmedMs ?? w.notConfirmed), String(r.timings.damageMs ?? '-')), '');
  out.push(`## ${w.orders}`, '');
  for (const c of r.cancels) {
    out.push(
      w.accountOrders({
        account: cell(c.account),
        via: cell(c.viaBot),
        listed: c.listed ?? 0,
        cancelled: c.cancelled ?? 0,
        notCancelled: c.notCancelled?.length ?? 0,
        error: c.error ? cell(c.error) : undefined,
      }),
    );
    for (const o of c.cancelledOrders ?? []) out.push(`  - ${w.cancelledOrder({ ordNo: cell(o.ordNo), stkCd: cell(o.stkCd), side: o.side, qty: o.qty })}`);
    for (const f of c.notCancelled ?? []) out.push(`  - ${w.order} ${cell(f.ordNo)} ${cell(f.stkCd)}: ${cell(f.reason)}`);
  }
  out.push('');
  if (r.damage) {
    const d = r.damage;
    out.push(`## ${w.damage}`, '', w.window(d.windowStart, d.windowEnd, d.complete, d.tookMs), '');
    out.push(w.fills(d.totals.fills, krw(d.totals.boughtKrw), krw(d.totals.soldKrw)));
    out.push(w.loss(krw(d.totals.estimatedLossKrw)));
    out.push(w.cancelled(d.totals.ordersCancelled, d.totals.ordersNotCancelled, d.totals.accountsNotListed ?? 0), '');
    for (const a of d.accounts) {
      const baseline = a.baselineValueKrw !== undefined ? krw(a.baselineValueKrw) : undefined;
      out.push(
        `### ${w.accountHeading} ${cell(a.account)}`,
        '',
        w.holdings(krw(a.holdingsValueKrw), baseline, a.baselineAt, a.error ? cell(a.error) : undefined),
        '',
      );
      if (a.holdings.length) {
        out.push(w.holdingHeader, '|---|---|---|---|---|');
        for (const h of a.holdings) out.push(`| ${cell(h.stkCd)} | ${h.qty} | ${h.baselineQty ?? '-'} | ${h.price} | ${krw(h.valueKrw)} |`);
        out.push('');
      }
    }
  }
  out.push(`## ${w.checklist}`, '');
  for (const c of r.checklist) {
    const done = c.confirmedBy ? w.confirmed(cell(c.confirmedBy), c.confirmedAt, c.note ? cell(c.note) : undefined) : '';
    out.push(`- [${c.confirmedBy ? 'x' : ' '}] ${own(c.title)}${c.required ? '' : w.optional}${done}`);
  }
  out.push('', w.unlockApprovals(r.unlockApprovals.map((a) => cell(a.approver)).join(', '), r.unlockApprovalsRequired), '');
  if (r.compensation) {
    const c = r.compensation;
    out.push(
      `## ${w.compensation}`,
      '',
      w.compensationLine({
        cause: c.cause,
        pct: Math.round(c.rate * 100),
        loss: krw(c.lossKrw),
        basis: c.lossBasis,
        uncapped: krw(c.uncappedKrw),
        cap: krw(c.capKrw),
        amount: krw(c.amountKrw),
      }),
    );
    const p = c.processing;
    out.push(w.processing(p.minBusinessDays, p.maxBusinessDays, p.earliest, p.latest, cell(c.setBy), c.setAt), '');
  }
  out.push(`## ${w.timeline}`, '');
  for (const e of r.timeline) out.push(`- ${e.at} ${cell(e.event)}${e.detail ? `: ${cell(e.detail)}` : ''}`);
  out.push('');
  for (const n of r.notifications)
    out.push(
      w.notification(cell(n.event), n.results.map((x) => `${x.kind} ${x.ok ? w.delivered : w.deliveryFailed(cell(x.error))}`).join(', ') || w.noWebhooks),
    );
  return `${out.join('\n')}\n`;
}
