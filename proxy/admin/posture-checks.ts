// The posture check (the seed's UserSecurityChecker): every check in one list,
// and the score of one bot's snapshot. Checks are pure; the weights add up to
// 100, so a bot's score is the weight of what passed. Recommendations are the
// failed checks', most impact first, each linking to its section of the
// security guide for bot owners (docs/security-guide.{ko,en}.md).
import { adminTotp, botSecret, credentialAge, keyProvider } from './posture-checks-keys.js';
import { holidayCalendar, marketOrders, orderLimits, tradingWindow, windowShadow } from './posture-checks-policy.js';
import {
  auditDurability,
  auditVerify,
  brokerTokenExposure,
  listenAddress,
  newSources,
  trustedSources,
  upstreamTls,
  visibleSources,
} from './posture-checks-runtime.js';
import type { PostureCheck } from './posture-kit.js';
import type { BotPosture, CheckResult, PostureRecommendation, PostureSnapshot } from './posture-types.js';

export const POSTURE_CHECKS: readonly PostureCheck[] = [
  botSecret,
  credentialAge,
  keyProvider,
  adminTotp,
  orderLimits,
  marketOrders,
  tradingWindow,
  windowShadow,
  holidayCalendar,
  trustedSources,
  newSources,
  visibleSources,
  auditDurability,
  auditVerify,
  upstreamTls,
  listenAddress,
  brokerTokenExposure,
];

export const GUIDE = { ko: 'docs/security-guide.ko.md', en: 'docs/security-guide.en.md' } as const;

export function recommendationOf(check: PostureCheck): PostureRecommendation {
  const { anchor, ko, en } = check.recommendation;
  return { anchor, ko, en, link: { ko: `${GUIDE.ko}#${anchor}`, en: `${GUIDE.en}#${anchor}` } };
}

/** Runs one check; a check that throws fails (with the error's message) rather than passing silently. */
export function runCheck(check: PostureCheck, s: PostureSnapshot): CheckResult {
  let v: { pass: boolean; ko: string; en: string };
  try {
    v = check.run(s);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    v = { pass: false, ko: `검사를 실행하지 못했습니다: ${msg}`, en: `the check could not run: ${msg}` };
  }
  return {
    id: check.id,
    area: check.area,
    weight: check.weight,
    status: v.pass ? 'pass' : 'fail',
    title: check.title,
    explanation: { ko: v.ko, en: v.en },
    recommendation: recommendationOf(check),
  };
}

/** Score 0-100 of a set of results: the passing weight over the total weight, rounded down. */
export function scoreOf(results: readonly CheckResult[]): number {
  const total = results.reduce((n, r) => n + r.weight, 0);
  if (total === 0) return 100;
  const passed = results.filter((r) => r.status === 'pass').reduce((n, r) => n + r.weight, 0);
  return Math.floor((100 * passed) / total);
}

export function scoreBot(s: PostureSnapshot, checks: readonly PostureCheck[] = POSTURE_CHECKS): BotPosture {
  const results = checks.map((c) => runCheck(c, s));
  const recommendations = results
    .filter((r) => r.status === 'fail')
    // Most impact first; the list order breaks ties, so the ranking is stable.
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.weight - a.r.weight || a.i - b.i)
    .map(({ r }) => ({ check: r.id, weight: r.weight, ...r.recommendation }));
  return { bot: s.bot.id, owner: s.bot.owner, score: scoreOf(results), checks: results, recommendations };
}
