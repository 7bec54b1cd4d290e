// The text of every problem a policy (or policy test) file can have, in Korean and English. An issue carries a
// stable `code` and its `args`; the English text stays in `message` (the admin API, the reload answer, --json),
// and `kguard policy check|test|explain` print it in the reader's language. Values quoted from the file are in
// the args already cut short (errors.ts `shown`).
import type { Language } from '../common/errors.js';

export type IssueArgs = Readonly<Record<string, string | number | boolean | undefined>>;

type Render = (a: IssueArgs) => string;

const s = (a: IssueArgs, k: string): string => String(a[k] ?? '');

/** ` (did you mean "x"?)` from the arg `near`, when there is one. */
const nearEn = (a: IssueArgs) => (a.near === undefined ? '' : ` (did you mean ${JSON.stringify(a.near)}?)`);
const nearKo = (a: IssueArgs) => (a.near === undefined ? '' : ` (${JSON.stringify(a.near)}의 오타인가요?)`);

const gotEn = (a: IssueArgs) => (a.value === undefined ? '' : ` (got ${s(a, 'value')})`);
const gotKo = (a: IssueArgs) => (a.value === undefined ? '' : ` (입력값 ${s(a, 'value')})`);

/** What a value matching a schema pattern looks like, keyed by the pattern (schema.ts, cases.ts). */
const PATTERN_HINTS: Readonly<Record<string, { ko: string; en: string }>> = {
  '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$': {
    ko: '영문자, 숫자, 점, 대시, 밑줄로 64자까지이며 영문자나 숫자로 시작해야 합니다',
    en: 'letters, digits, dot, dash, underscore; up to 64 characters, starting with a letter or digit',
  },
  '^\\s*[0-9A-Za-z]{6,9}(_[Nn][Xx]|_[Aa][Ll])?\\s*$': {
    ko: '종목코드는 영문자와 숫자 6~9자입니다 (예: 005930; 005930_NX, 005930_AL, A005930은 같은 종목)',
    en: 'a stock code: 6-9 letters and digits, e.g. 005930; 005930_NX, 005930_AL and A005930 name the same instrument',
  },
  '^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00(:00)?)$': {
    ko: 'HH:MM 또는 HH:MM:SS 형식의 한국 시간이어야 합니다',
    en: 'HH:MM or HH:MM:SS, Asia/Seoul time',
  },
  '^([1-9][0-9]{0,8}(ms|s|m|h)|day)$': {
    ko: '1s, 500ms, 1m, 1h 또는 day(한국 날짜 기준 하루)여야 합니다',
    en: 'e.g. 1s, 500ms, 1m, 1h, or day (Asia/Seoul calendar day)',
  },
  '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$': { ko: 'YYYY-MM-DD 형식의 날짜여야 합니다', en: 'a date, YYYY-MM-DD' },
  '^[0-9]{1,10}$': { ko: '숫자 1~10자리여야 합니다', en: '1 to 10 digits' },
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,3})?)?(Z|[+-][0-9]{2}:[0-9]{2})?$': {
    ko: '일시는 2026-03-03T10:00:00+09:00 형식이어야 합니다 (오프셋이 없으면 한국 시간)',
    en: 'a date-time such as 2026-03-03T10:00:00+09:00 (without an offset, Korea time)',
  },
};

/** The hint for a pattern; unknown patterns are shown as they are. */
export function patternHint(pattern: string, lang: Language): string {
  return PATTERN_HINTS[pattern]?.[lang] ?? (lang === 'ko' ? `형식: ${pattern}` : `expected ${pattern}`);
}

/** Korean text of the YAML parser's error codes (the `yaml` package); the parser's own English is kept in `detail`. */
const YAML_CODES_KO: Readonly<Record<string, string>> = {
  DUPLICATE_KEY: '같은 키가 두 번 나옵니다',
  BAD_INDENT: '들여쓰기가 맞지 않습니다',
  TAB_AS_INDENT: '들여쓰기에 탭을 쓸 수 없습니다; 공백을 쓰십시오',
  MISSING_CHAR: '닫는 문자(따옴표, ], })가 빠졌습니다',
  MULTILINE_IMPLICIT_KEY: '키는 한 줄에 있어야 합니다 (콜론 뒤에 공백이 빠졌거나 들여쓰기가 틀렸을 수 있습니다)',
  BLOCK_AS_IMPLICIT_KEY: '목록이나 맵을 키로 쓸 수 없습니다',
  UNEXPECTED_TOKEN: '이 위치에 올 수 없는 문자입니다',
  BAD_SCALAR_START: '값을 이 문자로 시작할 수 없습니다 (따옴표로 감싸십시오)',
  BAD_ALIAS: '정의되지 않은 앵커를 참조합니다',
  ALIAS_PROPS: '별칭(*)에는 태그나 앵커를 붙일 수 없습니다',
  BAD_DIRECTIVE: '알 수 없는 지시문입니다',
  MULTIPLE_DOCS: '파일에 문서가 둘 이상 있습니다 (---); 하나만 쓰십시오',
  MULTIPLE_ANCHORS: '한 노드에 앵커가 둘 이상 있습니다',
  MULTIPLE_TAGS: '한 노드에 태그가 둘 이상 있습니다',
  TAG_RESOLVE_FAILED: '지원하지 않는 태그입니다 (!!binary, !!set, !!timestamp 같은 태그는 읽지 않습니다)',
  BAD_COLLECTION_TYPE: '태그가 이 목록이나 맵과 맞지 않습니다',
  BAD_DQ_ESCAPE: '큰따옴표 문자열에 잘못된 이스케이프가 있습니다',
  KEY_OVER_1024_CHARS: '키가 1024자를 넘습니다',
  IMPOSSIBLE: 'YAML을 해석할 수 없습니다',
  UNEXPECTED_SCALAR_AT_NODE_END: '노드 끝에 예상하지 못한 값이 있습니다',
};

const EN: Readonly<Record<string, Render>> = {
  unreadable: (a) => `cannot read the file (${s(a, 'reason')})`,
  'too-large': (a) => `file is larger than ${s(a, 'max')} bytes (policy.maxFileBytes)`,
  'not-utf8': () => 'file is not valid UTF-8',
  'too-deep': (a) => `[ ] / { } nested deeper than ${s(a, 'max')} levels (policy.maxFlowDepth)`,
  yaml: (a) => (a.thrown === true ? `YAML could not be parsed: ${s(a, 'detail')}` : s(a, 'detail')),
  aliases: (a) => `YAML could not be expanded: ${s(a, 'detail')} (anchors/aliases are limited to ${s(a, 'max')})`,
  'one-of-keys': (a) => `${a.exactly === true ? 'give exactly one of' : 'give at least one of'}: ${s(a, 'names')}`,
  'allow-or-deny': () => "give exactly one of 'allow' or 'deny', not both",
  'unknown-key': (a) => `unknown key '${s(a, 'key')}'${nearEn(a)}${a.expected ? ` (expected one of: ${s(a, 'expected')})` : ''}`,
  'missing-key': (a) => `missing required key '${s(a, 'key')}'`,
  'not-in-list': (a) => `${s(a, 'value')} is not allowed${nearEn(a)}; expected ${a.listed ? `one of: ${s(a, 'listed')}` : s(a, 'described')}`,
  'must-be': (a) => `must be ${s(a, 'expected')}`,
  'unknown-rule-type': (a) => `unknown rule type ${s(a, 'value')}${nearEn(a)}; expected one of: ${s(a, 'types')}`,
  'rule-needs-type': (a) => `a rule needs a 'type' (one of: ${s(a, 'types')})`,
  pattern: (a) => `${s(a, 'value')} is not valid here (${patternHint(s(a, 'pattern'), 'en')})`,
  'wrong-type': (a) => `${s(a, 'value')} is not allowed; expected ${s(a, 'type')}`,
  bound: (a) => `must be ${s(a, 'comparison')} ${s(a, 'limit')}${gotEn(a)}`,
  'too-long': (a) => `must NOT have more than ${s(a, 'limit')} characters${gotEn(a)}`,
  'too-short': (a) => `must NOT have fewer than ${s(a, 'limit')} characters${gotEn(a)}`,
  'too-many-items': (a) => `must NOT have more than ${s(a, 'limit')} items`,
  'too-few-items': (a) => `must NOT have fewer than ${s(a, 'limit')} items`,
  'repeated-item': (a) => `must NOT have duplicate items (items ## ${s(a, 'j')} and ${s(a, 'i')} are identical)`,
  schema: (a) => s(a, 'detail'),
  'too-many-rules': (a) => `too many rules (${s(a, 'count')}); the limit is ${s(a, 'max')} (policy.maxRules)`,
  'duplicate-id': (a) => `duplicate rule id '${s(a, 'id')}' (first used at rules[${s(a, 'first')}])`,
  'override-missing': (a) => `overrides '${s(a, 'target')}', but no rule has that id`,
  'override-self': () => 'a rule cannot override itself',
  'override-type': (a) => `overrides '${s(a, 'target')}' of type ${s(a, 'targetType')}; an override must have the same type (${s(a, 'type')})`,
  'override-chain': (a) => `'${s(a, 'target')}' is itself an override; point at the default rule '${s(a, 'root')}' instead`,
  'window-end': (a) => `end ${s(a, 'end')} must be after start ${s(a, 'start')} (windows cannot cross midnight; split them)`,
  'period-twice': (a) => `per ${s(a, 'per')} is given twice (first at limits[${s(a, 'first')}]); keep the lower max`,
  'approval-everything': () => "require-approval without 'when', 'minQuantity' or 'minNotional' would hold every call; add a condition",
  'not-a-date': (a) => `${s(a, 'date')} is not a real date`,
  'thresholds-order': () => 'stepUp must not be above approval',
  'kinds-never': (a) => `a rule of type ${s(a, 'type')} judges none of these kinds (it judges: ${s(a, 'judged')}); it would never apply`,
  'api-never': (a) =>
    `${s(a, 'apiId')} is a ${s(a, 'kind')} call, which a rule of type ${s(a, 'type')} does not judge (it judges: ${s(a, 'judged')}); this entry selects nothing`,
  'not-a-time': (a) => `${s(a, 'value')} is not a real date-time (e.g. 2026-03-03T10:00:00+09:00; without an offset, Korea time)`,
  'not-compiled': (a) => `could not compile: ${s(a, 'detail')}`,
  'sides-never': (a) => `only orders, modifies and cancels named in when.kinds have a side; this rule judges ${s(a, 'judged')}, so it would never apply`,
};

const KO: Readonly<Record<string, Render>> = {
  unreadable: (a) => `파일을 읽을 수 없습니다 (${s(a, 'reason')})`,
  'too-large': (a) => `파일이 ${s(a, 'max')}바이트보다 큽니다 (policy.maxFileBytes)`,
  'not-utf8': () => '파일이 올바른 UTF-8이 아닙니다',
  'too-deep': (a) => `[ ] / { } 중첩이 ${s(a, 'max')}단계보다 깊습니다 (policy.maxFlowDepth)`,
  yaml: (a) => {
    const known = YAML_CODES_KO[s(a, 'yamlCode')];
    return `YAML 문법 오류: ${known ?? s(a, 'detail')}`;
  },
  aliases: (a) => `YAML을 펼칠 수 없습니다: 앵커/별칭은 ${s(a, 'max')}개까지입니다 (${s(a, 'detail')})`,
  'one-of-keys': (a) => `${s(a, 'names')} 중 ${a.exactly === true ? '정확히 하나를' : '하나 이상을'} 지정하십시오`,
  'allow-or-deny': () => "'allow'와 'deny' 중 하나만 지정하십시오",
  'unknown-key': (a) => `알 수 없는 키 '${s(a, 'key')}'${nearKo(a)}${a.expected ? ` (가능한 키: ${s(a, 'expected')})` : ''}`,
  'missing-key': (a) => `필수 키가 없습니다: '${s(a, 'key')}'`,
  'not-in-list': (a) =>
    `${s(a, 'value')}은(는) 쓸 수 없는 값입니다${nearKo(a)}; ${a.listed ? `가능한 값: ${s(a, 'listed')}` : (DESCRIBED_KO[s(a, 'described')] ?? s(a, 'described'))}`,
  'must-be': (a) => `${s(a, 'expected')}이어야 합니다`,
  'unknown-rule-type': (a) => `알 수 없는 규칙 유형 ${s(a, 'value')}${nearKo(a)}; 가능한 유형: ${s(a, 'types')}`,
  'rule-needs-type': (a) => `규칙에 'type'이 필요합니다 (가능한 유형: ${s(a, 'types')})`,
  pattern: (a) => `${s(a, 'value')}은(는) 올바르지 않습니다 (${patternHint(s(a, 'pattern'), 'ko')})`,
  'wrong-type': (a) => `${s(a, 'value')}은(는) 쓸 수 없습니다; ${TYPE_KO[s(a, 'type')] ?? s(a, 'type')} 값이어야 합니다`,
  bound: (a) => `${s(a, 'limit')} ${COMPARISON_KO[s(a, 'comparison')] ?? s(a, 'comparison')}이어야 합니다${gotKo(a)}`,
  'too-long': (a) => `${s(a, 'limit')}자를 넘을 수 없습니다${gotKo(a)}`,
  'too-short': (a) => `${s(a, 'limit')}자 이상이어야 합니다${gotKo(a)}`,
  'too-many-items': (a) => `항목은 ${s(a, 'limit')}개까지입니다`,
  'too-few-items': (a) => `항목이 ${s(a, 'limit')}개 이상 필요합니다`,
  'repeated-item': (a) => `같은 항목이 두 번 있습니다 (${s(a, 'j')}번째와 ${s(a, 'i')}번째, 0부터)`,
  schema: (a) => `스키마 위반: ${s(a, 'detail')}`,
  'too-many-rules': (a) => `규칙이 너무 많습니다 (${s(a, 'count')}개); 한도는 ${s(a, 'max')}개입니다 (policy.maxRules)`,
  'duplicate-id': (a) => `규칙 id가 중복됩니다: '${s(a, 'id')}' (처음 사용: rules[${s(a, 'first')}])`,
  'override-missing': (a) => `overrides에 적은 규칙이 없습니다: '${s(a, 'target')}'`,
  'override-self': () => '규칙이 자기 자신을 override할 수 없습니다',
  'override-type': (a) => `'${s(a, 'target')}'의 유형은 ${s(a, 'targetType')}입니다; override는 같은 유형(${s(a, 'type')})이어야 합니다`,
  'override-chain': (a) => `'${s(a, 'target')}'도 override 규칙입니다; 기본 규칙 '${s(a, 'root')}'를 가리키십시오`,
  'window-end': (a) => `종료 시각(${s(a, 'end')})은 시작 시각(${s(a, 'start')})보다 늦어야 합니다 (자정을 넘는 구간은 둘로 나누십시오)`,
  'period-twice': (a) => `per ${s(a, 'per')}가 두 번 지정되었습니다 (처음: limits[${s(a, 'first')}]); 더 낮은 max 하나만 남기십시오`,
  'approval-everything': () => "'when', 'minQuantity', 'minNotional'이 없는 require-approval은 모든 요청을 보류합니다; 조건을 추가하십시오",
  'not-a-date': (a) => `${s(a, 'date')}은(는) 존재하지 않는 날짜입니다`,
  'thresholds-order': () => 'stepUp은 approval보다 클 수 없습니다',
  'kinds-never': (a) => `${s(a, 'type')} 규칙은 이 종류들을 판단하지 않습니다 (판단하는 종류: ${s(a, 'judged')}); 이 규칙은 적용되지 않습니다`,
  'api-never': (a) =>
    `${s(a, 'apiId')}는 ${s(a, 'kind')} 요청이며 ${s(a, 'type')} 규칙은 이를 판단하지 않습니다 (판단하는 종류: ${s(a, 'judged')}); 이 항목은 아무 요청도 고르지 않습니다`,
  'not-a-time': (a) => `${s(a, 'value')}은(는) 존재하지 않는 일시입니다 (예: 2026-03-03T10:00:00+09:00; 오프셋이 없으면 한국 시간)`,
  'not-compiled': (a) => `정책을 컴파일할 수 없습니다: ${s(a, 'detail')}`,
  'sides-never': (a) => `매수/매도 구분은 주문, 정정, 그리고 when.kinds에 지정한 취소에만 있습니다; 이 규칙은 ${s(a, 'judged')}만 판단하므로 적용되지 않습니다`,
};

/** Korean for the schema descriptions an enum too long to list is named by (load.ts LISTED_VALUES). */
const DESCRIBED_KO: Readonly<Record<string, string>> = {
  'an api-id of the Kiwoom catalogue (case-sensitive), e.g. kt10000, or a realtime type, e.g. 0B':
    '키움 API ID(대소문자 구분, 예: kt10000)나 실시간 타입(예: 0B)이어야 합니다',
};

const TYPE_KO: Readonly<Record<string, string>> = {
  string: '문자열',
  number: '숫자',
  integer: '정수',
  boolean: '참/거짓(true/false)',
  array: '목록',
  object: '맵(키: 값)',
};

const COMPARISON_KO: Readonly<Record<string, string>> = { '>=': '이상', '<=': '이하', '>': '초과', '<': '미만' };

/** The issue codes: a test keeps the two languages' tables in step. */
export const ISSUE_CODES: readonly string[] = Object.keys(EN);
export const ISSUE_CODES_KO: readonly string[] = Object.keys(KO);

/** An issue's text in `lang`; an unknown code (never expected) falls back to the English message it carries. */
export function issueText(code: string, args: IssueArgs, lang: Language, fallback = ''): string {
  const render = (lang === 'ko' ? KO : EN)[code];
  return render ? render(args) : fallback;
}
