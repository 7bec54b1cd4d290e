// What `kguard policy diff` says about each change, in Korean or English. Rule
// ids, rule types, keys as the policy spells them, api-ids, stock codes and
// numbers are printed as they are in both.
import type { Language } from '../common/errors.js';
import { TRADE_TYPE_NAMES } from './schema.js';
import type { WeekSpan } from './week-hours.js';

type SelectorDim = 'bots' | 'accounts' | 'kinds' | 'apiIds' | 'sides';
/** One dimension of a rule's `when` that changed: now set (only), now unset (all), or entries added or removed. */
export interface SelectorChange {
  dim: SelectorDim;
  change: 'only' | 'all' | 'added' | 'removed';
  names: readonly string[];
}

type ListFact<K extends string> = { k: K; key: string; items: readonly string[] };

export type DiffFact =
  | { k: 'ruleRemoved'; type: string }
  | { k: 'ruleAdded'; type: string; shadow: boolean }
  | { k: 'typeChanged'; from: string; to: string }
  | { k: 'mode'; from: string; to: string }
  | { k: 'appliesTo'; parts: readonly SelectorChange[] }
  | { k: 'overrides'; from: string | undefined; to: string | undefined }
  | { k: 'number'; key: string; from: number | undefined; to: number | undefined }
  | ListFact<'allowsMore'>
  | ListFact<'allowsLess'>
  | ListFact<'deniesMore'>
  | ListFact<'deniesLess'>
  | { k: 'tradeTypesMore'; items: readonly string[] }
  | { k: 'tradeTypesLess'; items: readonly string[] }
  | { k: 'windowsOpen'; spans: readonly WeekSpan[] }
  | { k: 'windowsClose'; spans: readonly WeekSpan[] }
  | { k: 'windowsSame' }
  | { k: 'closedOnHolidays'; to: boolean }
  | { k: 'limitNew'; max: number; per: string }
  | { k: 'limitRemoved'; max: number; per: string }
  | { k: 'limit'; from: number; to: number; per: string }
  | { k: 'word'; key: 'state' | 'outcome' | 'countModifies' | 'scope'; from: string; to: string }
  | { k: 'threshold'; key: 'stepUp' | 'approval'; from: number; to: number }
  | { k: 'holidaysAdded'; dates: readonly string[] }
  | { k: 'holidaysRemoved'; dates: readonly string[] }
  | { k: 'language'; from: string | undefined; to: string | undefined };

const CODE_NAMES: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.entries(TRADE_TYPE_NAMES).map(([name, code]) => [code, name])),
  '00': 'limit (gold)',
};
const typeList = (codes: readonly string[]) => codes.map((c) => `${c} ${CODE_NAMES[c] ?? ''}`.trim()).join(', ');
const list = (items: readonly string[]) => items.join(', ');
const orNone = (v: string | number | undefined, none: string) => (v === undefined ? none : String(v));

const DAY_KO: Readonly<Record<string, string>> = { mon: '월', tue: '화', wed: '수', thu: '목', fri: '금', sat: '토', sun: '일' };
/** A span for some venues only is prefixed with them (KRX/SOR mon 15:30-20:00); `none` is a call that names no known venue. */
const spansOf = (spans: readonly WeekSpan[], day: (d: string) => string, none: string) =>
  spans.map((s) => `${s.markets ? `${s.markets.map((m) => (m === 'none' ? none : m)).join('/')} ` : ''}${day(s.day)} ${s.start}-${s.end}`).join(', ');

const DIM_KO: Readonly<Record<SelectorDim, string>> = { bots: '봇', accounts: '계좌', kinds: '요청 종류', apiIds: 'API ID', sides: '매매 구분' };

function selectorKo(p: SelectorChange): string {
  const dim = `${DIM_KO[p.dim]}(${p.dim})`;
  if (p.change === 'only') return `이제 ${dim} ${list(p.names)}에만`;
  if (p.change === 'all') return `이제 모든 ${dim}에 (이전: ${list(p.names)})`;
  return `${dim} ${p.change === 'added' ? '+' : '-'}${list(p.names)}`;
}
function selectorEn(p: SelectorChange): string {
  if (p.change === 'only') return `now only for ${p.dim} ${list(p.names)}`;
  if (p.change === 'all') return `now for all ${p.dim} (was ${list(p.names)})`;
  return `${p.dim} ${p.change === 'added' ? '+' : '-'}${list(p.names)}`;
}

type Texts = { readonly [K in DiffFact['k']]: (f: Extract<DiffFact, { k: K }>) => string };

const KO: Texts = {
  ruleRemoved: (f) => `규칙 삭제 (${f.type})`,
  ruleAdded: (f) => `규칙 추가 (${f.type}${f.shadow ? ', 섀도' : ''})`,
  typeChanged: (f) => `유형 변경 ${f.from} → ${f.to}: 이전 유형의 제한은 없어집니다`,
  mode: (f) => `모드 ${f.from} → ${f.to}`,
  appliesTo: (f) => `적용 대상: ${f.parts.map(selectorKo).join('; ')}`,
  overrides: (f) => `대체 대상(overrides) ${orNone(f.from, '(없음)')} → ${orNone(f.to, '(없음)')}`,
  number: (f) => `${f.key} ${orNone(f.from, '(없음)')} → ${orNone(f.to, '(없음)')}`,
  allowsMore: (f) => `${f.key} 허용 추가: ${list(f.items)}`,
  allowsLess: (f) => `${f.key} 허용 제외: ${list(f.items)}`,
  deniesMore: (f) => `${f.key} 금지 추가: ${list(f.items)}`,
  deniesLess: (f) => `${f.key} 금지 해제: ${list(f.items)}`,
  tradeTypesMore: (f) => `새로 허용되는 주문 유형: ${typeList(f.items)}`,
  tradeTypesLess: (f) => `더 이상 허용되지 않는 주문 유형: ${typeList(f.items)}`,
  windowsOpen: (f) => `새로 열리는 시간 (KST): ${spansOf(f.spans, (d) => DAY_KO[d] ?? d, '시장 미지정')}`,
  windowsClose: (f) => `닫히는 시간 (KST): ${spansOf(f.spans, (d) => DAY_KO[d] ?? d, '시장 미지정')}`,
  windowsSame: () => '시간대 표기 변경 (열리는 시간은 같음)',
  closedOnHolidays: (f) => `closedOnHolidays → ${String(f.to)}`,
  limitNew: (f) => `새 한도 ${f.per}당 ${f.max}`,
  limitRemoved: (f) => `한도 ${f.per}당 ${f.max} 삭제`,
  limit: (f) => `${f.per}당 ${f.from} → ${f.to}`,
  word: (f) => `${f.key} ${f.from} → ${f.to}`,
  threshold: (f) => `riskThresholds.${f.key} ${f.from} → ${f.to}`,
  holidaysAdded: (f) => `휴장일 추가: ${list(f.dates)}`,
  holidaysRemoved: (f) => `휴장일 삭제: ${list(f.dates)}`,
  language: (f) => `언어 ${orNone(f.from, '(기본값)')} → ${orNone(f.to, '(기본값)')}`,
};

const EN: Texts = {
  ruleRemoved: (f) => `rule removed (${f.type})`,
  ruleAdded: (f) => `rule added (${f.type}${f.shadow ? ', shadow' : ''})`,
  typeChanged: (f) => `type changed from ${f.from} to ${f.to}: the ${f.from} restriction is gone`,
  mode: (f) => `mode ${f.from} → ${f.to}`,
  appliesTo: (f) => `applies to: ${f.parts.map(selectorEn).join('; ')}`,
  overrides: (f) => `overrides ${orNone(f.from, '(none)')} → ${orNone(f.to, '(none)')}`,
  number: (f) => `${f.key} ${orNone(f.from, '(none)')} → ${orNone(f.to, '(none)')}`,
  allowsMore: (f) => `${f.key} allows more: ${list(f.items)}`,
  allowsLess: (f) => `${f.key} allows less: ${list(f.items)}`,
  deniesMore: (f) => `${f.key} denies more: ${list(f.items)}`,
  deniesLess: (f) => `${f.key} denies less: ${list(f.items)}`,
  tradeTypesMore: (f) => `order types now allowed: ${typeList(f.items)}`,
  tradeTypesLess: (f) => `order types no longer allowed: ${typeList(f.items)}`,
  windowsOpen: (f) => `windows now open (KST): ${spansOf(f.spans, (d) => d, 'no-venue')}`,
  windowsClose: (f) => `windows now closed (KST): ${spansOf(f.spans, (d) => d, 'no-venue')}`,
  windowsSame: () => 'windows rewritten (the same hours open)',
  closedOnHolidays: (f) => `closedOnHolidays → ${String(f.to)}`,
  limitNew: (f) => `new limit ${f.max} per ${f.per}`,
  limitRemoved: (f) => `limit ${f.max} per ${f.per} removed`,
  limit: (f) => `${f.from} → ${f.to} per ${f.per}`,
  word: (f) => `${f.key} ${f.from} → ${f.to}`,
  threshold: (f) => `riskThresholds.${f.key} ${f.from} → ${f.to}`,
  holidaysAdded: (f) => `holidays added: ${list(f.dates)}`,
  holidaysRemoved: (f) => `holidays removed: ${list(f.dates)}`,
  language: (f) => `language ${orNone(f.from, '(default)')} → ${orNone(f.to, '(default)')}`,
};

export function diffText(fact: DiffFact, lang: Language): string {
  const texts = lang === 'ko' ? KO : EN;
  return (texts[fact.k] as (f: DiffFact) => string)(fact);
}
