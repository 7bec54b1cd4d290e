// What `kguard policy check | test | explain` print around the data, in Korean or English (--lang, else the
// configured language, Korean unless set). File names, rule ids, rule types, api-ids, versions and line numbers
// are printed as they are in both; --json output is never translated.
import type { Language } from '../common/errors.js';
import type { TraceEntry } from '../policy/evaluate.js';

type Outcome = 'allow' | 'deny' | 'step-up' | 'hold';

const OUTCOME_KO: Readonly<Record<Outcome, string>> = { allow: '허용', deny: '거부', 'step-up': '추가 인증', hold: '승인 대기' };

export const POLICY_TEXT = {
  ko: {
    checked: (file: string, rules: number, version: string) => `${file}: 정상 (규칙 ${rules}개, 버전 ${version})`,
    casesChecked: (file: string, cases: number) => `${file}: 정상 (정책 테스트 파일, 케이스 ${cases}개; kguard policy test로 실행)`,
    problems: (file: string, n: number) => `${file}: 문제 ${n}건`,
    passed: '통과',
    failed: '실패',
    side: (side: string, why: string) => `      매매 구분: ${sideKo(side)} (${why})`,
    summary: (passed: number, failed: number, file: string, version: string) => `\n통과 ${passed}건, 실패 ${failed}건 (${file}, 버전 ${version})`,
    caseError: (message: string) => `케이스를 실행할 수 없습니다: ${message}`,
    otherPolicy: (cases: string, named: string, file: string) => `주의: ${cases}: ${named}용 테스트 파일입니다 (policy:). 실행한 정책: ${file}`,
    call: (apiId: string, what: string, bot: string, account: string) => `요청: ${apiId} (${what}) 봇=${bot} 계좌=${account}`,
    unknownApi: '알 수 없는 API ID',
    sideOf: (side: string, why: string) => `, ${side === 'unknown' ? '매매 구분 모름' : side}: ${why}`,
    decision: (outcome: Outcome, ruleId: string | undefined, reason: string | undefined) =>
      `판정: ${OUTCOME_KO[outcome]} (${outcome})${ruleId ? `, 규칙 ${ruleId}` : ''}${reason ? ` — ${reason}` : ''}`,
    shadow: (ids: string) => `섀도 규칙이 거부했을 요청: ${ids}`,
    version: (v: string) => `정책 버전: ${v}\n\n평가 순서대로 본 규칙:`,
    marks: { pass: '통과', deny: '거부', 'not-selected': '제외', overridden: '대체', skipped: '생략', 'step-up': '추가인증', hold: '보류' },
    shadowMode: '섀도',
    notSelected: '이 요청은 when 조건에 맞지 않습니다',
    overridden: '이 요청에는 override 규칙이 대신 적용됩니다',
    notApplicable: '\n이 요청에 해당하지 않는 규칙:',
    why: { 'other bots': '다른 봇 대상', 'other api kinds': '다른 종류의 요청 대상' },
    diff: {
      none: '규칙 변경 없음',
      effect: { loosens: '완화', tightens: '강화', changes: '변경' },
      summary: (loosens: number, tightens: number, other: number) => `\n완화 ${loosens}건, 강화 ${tightens}건, 기타 변경 ${other}건`,
    },
    noMarket: (names: string) =>
      `\n참고: 호출 파일에 market이 없어 다음 값을 알 수 없는 것으로 판단했습니다: ${names}. 실제 값으로 보려면 market: { referencePrice: 70000, heldQuantity: 100, openOrders: 0 } 처럼 추가하십시오.`,
  },
  en: {
    checked: (file: string, rules: number, version: string) => `${file}: OK (${rules} rules, version ${version})`,
    casesChecked: (file: string, cases: number) => `${file}: OK (policy test file, ${cases} cases; run it with kguard policy test)`,
    problems: (file: string, n: number) => `${file}: ${n} problem(s)`,
    passed: 'PASS',
    failed: 'FAIL',
    side: (side: string, why: string) => `      side: ${side} (${why})`,
    summary: (passed: number, failed: number, file: string, version: string) => `\n${passed} passed, ${failed} failed (${file}, version ${version})`,
    caseError: (message: string) => message,
    otherPolicy: (cases: string, named: string, file: string) => `warning: ${cases} is written for ${named} (policy:), but runs against ${file}`,
    call: (apiId: string, what: string, bot: string, account: string) => `call: ${apiId} (${what}) bot=${bot} account=${account}`,
    unknownApi: 'unknown api-id',
    sideOf: (side: string, why: string) => (side === 'unknown' ? `, side unknown: ${why}` : `, ${side}: ${why}`),
    decision: (outcome: Outcome, ruleId: string | undefined, reason: string | undefined) =>
      `decision: ${outcome.toUpperCase()}${ruleId ? ` by ${ruleId}` : ''}${reason ? ` — ${reason}` : ''}`,
    shadow: (ids: string) => `shadow rules that would deny: ${ids}`,
    version: (v: string) => `policy version: ${v}\n\nrules, in evaluation order:`,
    marks: { pass: 'pass', deny: 'DENY', 'not-selected': 'skip', overridden: 'over', skipped: 'SKIPPED', 'step-up': 'STEP-UP', hold: 'HOLD' },
    shadowMode: 'shadow',
    notSelected: 'selector (when) does not match this call',
    overridden: 'replaced by an override for this call',
    notApplicable: '\nnot applicable to this call:',
    why: { 'other bots': 'other bots', 'other api kinds': 'other api kinds' },
    diff: {
      none: 'no rule changes',
      effect: { loosens: 'loosens ', tightens: 'tightens', changes: 'changes ' },
      summary: (loosens: number, tightens: number, other: number) => `\n${loosens} loosening, ${tightens} tightening, ${other} other`,
    },
    noMarket: (names: string) =>
      `\nnote: the call file gives no market, so the ${names} counted as unavailable. To see the decision with real values, add e.g. market: { referencePrice: 70000, heldQuantity: 100, openOrders: 0 }.`,
  },
} as const satisfies Record<Language, unknown>;

/** Names of the market data a rule reads, for the no-market note. */
export const MARKET_NAMES = {
  ko: { referencePrice: '기준가', heldQuantity: '보유 수량', openOrders: '미체결 주문 수' },
  en: { referencePrice: 'reference price', heldQuantity: 'held quantity', openOrders: 'open-order count' },
} as const;

function sideKo(side: string): string {
  return side === 'buy' ? '매수' : side === 'sell' ? '매도' : '모름';
}

/** A trace line's mark, padded to one column in a terminal (a Hangul syllable is two columns wide). */
export function traceMark(result: TraceEntry['result'], lang: Language): string {
  const mark = POLICY_TEXT[lang].marks[result];
  const width = [...mark].reduce((w, ch) => w + (/[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]/.test(ch) ? 2 : 1), 0);
  return mark + ' '.repeat(Math.max(0, (lang === 'ko' ? 8 : 5) - width));
}
