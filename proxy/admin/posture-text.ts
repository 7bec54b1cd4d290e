// The posture report as readable text (kguard doctor without --json): the
// same data as the JSON, in one language, one line per check, then the
// recommendations most impact first with their security-guide links.
import type { Language } from '../common/errors.js';
import type { PostureReport } from './posture-types.js';

const HEAD = {
  ko: { report: '보안 점검', owner: '담당', recs: '권고 (영향이 큰 순서)', none: '권고 없음: 모든 검사를 통과했습니다', bots: '등록된 봇이 없습니다' },
  en: {
    report: 'security posture',
    owner: 'owner',
    recs: 'recommendations (most impact first)',
    none: 'no recommendations: every check passed',
    bots: 'no bots are registered',
  },
} as const;

export function renderPosture(report: PostureReport, lang: Language): string {
  const h = HEAD[lang];
  const out: string[] = [`kiwoom-guard ${h.report} ${report.generatedAt}`];
  if (report.bots.length === 0) out.push(h.bots);
  for (const b of report.bots) {
    out.push('', `${b.bot} (${h.owner} ${b.owner}): ${b.score}/100`);
    const width = Math.max(...b.checks.map((c) => c.id.length));
    for (const c of b.checks) {
      out.push(`  ${c.status === 'pass' ? 'PASS' : 'FAIL'} ${String(c.weight).padStart(3)}  ${c.id.padEnd(width)}  ${c.title[lang]}: ${c.explanation[lang]}`);
    }
    if (b.recommendations.length === 0) {
      out.push(`  ${h.none}`);
      continue;
    }
    out.push(`  ${h.recs}:`);
    b.recommendations.forEach((r, i) => {
      out.push(`  ${i + 1}. [${r.weight}] ${r.check}: ${r[lang]}`, `     -> ${r.link[lang]}`);
    });
  }
  return `${out.join('\n')}\n`;
}
