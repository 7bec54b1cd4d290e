// The detectors' reasons in Korean (language: ko, the default). Sentences put
// a fixed noun before each particle, so no variable needs 이/가 or 을/를.
import type { Reasons } from './reasons.js';
import type { Lead } from './sequence.js';
import { r2 } from './stats.js';

const BANDS = ['15% 미만', '15-60%', '60-90%', '90% 이상'];
const DAYS = '일월화수목금토';
const SIDE = { buy: '매수', sell: '매도' } as const;
const KIND: Readonly<Record<string, string>> = {
  order: '주문',
  modify: '정정',
  cancel: '취소',
  query: '시세 조회',
  account: '계좌 조회',
  auth: '토큰 발급',
  transfer: '이체',
  realtime: '실시간 요청',
};
const secs = (s: number): string => (s < 60 || s % 60 !== 0 ? `${s}초` : `${s / 60}분`);
/** A gap under its bound (미만: the bound itself falls in the next one), from the bound below to it, or the bound below or more. */
const lead = (l: Lead): string => {
  const from = l.from ?? 0;
  if (l.kind === 'idle') return `${l.within === undefined ? `${secs(from)} 이상` : `${secs(from)}~${secs(l.within)}`} 호출 없이`;
  const when = l.within === undefined ? `${secs(from)} 이상 지나` : from > 0 ? `${secs(from)}~${secs(l.within)} 사이에` : `${secs(l.within)} 미만에`;
  return `${l.same === undefined ? '' : l.same ? '같은 종목 ' : '다른 종목 '}${KIND[l.kind] ?? l.kind} 후 ${when}`;
};
const known = (knownClient: boolean): string => (knownClient ? ', 클라이언트 식별자는 알려진 것' : '');
const won = (x: number): string => `${Math.round(x).toLocaleString('en-US')}원`;

export const REASONS_KO: Reasons = {
  quietHour: ({ week, hour, seen, expected }) =>
    `${week ? `주간 시간대 ${week.how} (서울 ${DAYS[week.weekday] ?? week.weekday}요일 ${hour}시)` : `서울 ${hour}시`}: 이 시간 전후에 학습된 호출 ${r2(seen)}건, 고르게 분포했다면 ${r2(expected)}건`,
  holiday: (date) => `휴장일(${date})의 주문`,
  offSession: (date, hhmm) => `장 운영 시간 밖의 주문 (서울 ${date} ${hhmm})`,
  outsideCidrs: (ip) => `허용된 CIDR 밖의 출발지 ${ip ?? '(해석할 수 없는 주소)'}`,
  youngSource: (ip, minutes, knownClient) => `${minutes}분 전에 처음 본 출발지 ${ip}에서의 주문${known(knownClient)}`,
  newSource: (ip, n, knownClient) => `이 봇에서 처음 보는 출발지 ${ip} (알려진 출발지 ${n}개)${known(knownClient)}`,
  newNetwork: ({ network, minutes, known: n, knownClient }) =>
    `${minutes === undefined ? '이 봇이 쓴 적 없는' : `${minutes}분 전에 처음 쓴`} 네트워크 ${network}에서의 주문 (다른 네트워크 ${n}개)${known(knownClient)}`,
  newClient: (n) => `이 봇에서 처음 보는 클라이언트 식별자 (알려진 식별자 ${n}개)`,
  volume: ({ what, x, times, median, z, zWarn }) =>
    what === 'qty'
      ? `수량 ${Math.round(x)}주: 중앙값 ${Math.round(median)}주의 ${r2(times)}배 (robust z ${r2(z)} ≥ ${zWarn})`
      : `금액 ${won(x)}: 중앙값 ${won(median)}의 ${r2(times)}배 (robust z ${r2(z)} ≥ ${zWarn})`,
  newApi: (apiId) => `이 봇이 쓴 적 없는 api-id ${apiId}`,
  freshSymbolOrder: (symbol, minutes) => `${minutes}분 전에 처음 보고 주문한 적 없는 종목 ${symbol}의 주문`,
  newSymbol: (symbol, trading) => `이 봇이 거래하거나 조회한 적 없는 종목 ${symbol}의 ${trading ? '주문' : '조회'}`,
  dormantSymbolBuy: ({ symbol, days, atLeast, within, buyDays, dormant }) =>
    `${days}${atLeast ? '+' : ''}거래일 동안 호출이 없던 종목 ${symbol}의 매수; 이 봇은 ${buyDays}일 매수했고, 그날이나 ${within}거래일 전까지 그 종목을 조회하거나 거래하지 않은 매수는 ${dormant === 0 ? '한 번도 없었음' : `${dormant}건`}`,
  burstCap: (count, cap) => `최근 1분 호출 ${Math.round(count)}건 (절대 상한 ${cap}건)`,
  burst: (count, usual) => `최근 1분 호출 ${Math.round(count)}건, 평소 활동하는 1분에 ${r2(usual)}건`,
  cancelStorm: ({ count, usual, rejected, rejectedMin }) =>
    `최근 1분 취소·정정 ${Math.round(count)}건, 평소 ${r2(usual)}건${rejected >= 1 ? `; 그중 증권사가 거부한 것 ${Math.round(rejected)}건 (${rejectedMin}건부터 0.9점)` : ''}`,
  modeSwitch: (orderPct) => `조회 전용 봇(호출 중 주문 ${r2(orderPct)}%)이 주문을 냄`,
  drainSymbols: (n, minutes, threshold) => `${minutes}분 안에 서로 다른 종목 ${n}개 매도 (기준 ${threshold}개)`,
  drainKrw: (sold, usual) => `이 구간의 매도 ${won(sold)}, 평소 ${won(usual)}`,
  drainPosition: (pct, alongWith) => `보유 수량의 ${pct}% 매도${alongWith !== undefined ? ` (동시에 종목 ${alongWith}개 매도 중)` : ''}`,
  drainDay: (n, busiest, threshold) => `종목 전량 매도 오늘 ${n}건째, 이 봇의 학습된 최다 일 ${r2(busiest)}건 (기준 ${threshold}건)`,
  drainDayParts: (n, wholes, threshold) => `종목 일부 매도 오늘 ${n}건째, 학습된 매도 ${wholes}건은 모두 전량 매도 (기준 ${threshold}건)`,
  illiquidBuy: (qty, share) => `매수 ${qty}주: 종목 일 거래량의 ${share === undefined ? '무한대' : `${r2(share)}%`} (유동성 부족)`,
  sharedSource: (ip, bots, minutes, threshold) => `출발지 ${ip}에서 ${minutes}분 안에 봇 ${bots}개의 자격 증명이 제시됨 (기준 ${threshold}개)`,
  herdRefused: ({ accounts, side, symbol, from, to, threshold }) =>
    `${from}-${to}분 안에 계좌 ${accounts}개의 종목 ${symbol} ${SIDE[side ?? 'buy']} 주문을 소유자가 거절함 (기준 ${threshold}개)`,
  herdNew: ({ accounts, side, symbol, from, to, scoresFrom, fullAt }) =>
    `${from}-${to}분 안에 계좌 ${accounts}개가 각자 처음인 종목 ${symbol} ${SIDE[side ?? 'buy']} (${scoresFrom}개부터 점수, ${fullAt}개에서 최고)`,
  firstSell: (orders, threshold, pct) =>
    `이 봇의 첫 매도: 학습된 주문 ${orders}건 중 매도 없음 (기준 ${threshold}건)${pct !== undefined ? `, 보유 수량의 ${pct}%` : ''}`,
  sellShare: ({ pct, beyond, inBand, total, band, rarePct }) =>
    `보유 수량의 ${pct}% 매도${beyond ? ` (${beyond.qty}주: 보유 가능한 ${beyond.upper}주 초과)` : ''}; 학습된 매도 ${r2(total)}건 중 이 구간(${BANDS[band]})은 ${r2(inBand)}건 (${rarePct}% 미만이면 드묾)`,
  closerPart: ({ pct, wholes, min }) => `보유 수량의 ${pct}% 매도; 학습된 매도 ${wholes}건은 모두 전량 매도, 일부 매도 없음 (${min}건부터 점수)`,
  sliver: ({ qty, pct, smallest, orders }) =>
    `${qty}주 매도 (보유 수량의 ${pct}%): 소량 분할 매도 — 학습된 매도가 적어 매도 비율을 판단할 수 없고, 이 봇의 주문 ${orders}건 중 가장 작은 주문이 ${smallest}주`,
  sellFloor: ({ pct, floorPct, belowPct, total, steadyPct }) =>
    `보유 수량의 ${pct}% 매도; 학습된 매도 ${r2(total)}건 중 두 건을 빼고는 모두 ${floorPct}% 이상${steadyPct !== undefined ? `, 일부 매도는 두 건을 빼고 모두 ${steadyPct}% 이하 (일정한 비율)` : ''} (${belowPct}% 미만이면 점수)`,
  sellCeiling: ({ pct, ceilingPct, abovePct, partial }) =>
    `보유 수량의 ${pct}% 매도; 학습된 일부 매도 ${r2(partial)}건 중 두 건을 빼고는 모두 ${ceilingPct}% 이하 (${abovePct}% 초과면 점수)`,
  sizeZ: ({ side, krw, usual, z }) =>
    `${side ? SIDE[side] : '주문'} ${won(krw)}: 이 봇의 같은 방향 평소 금액 ${won(usual)}의 ${z > 0 ? `${r2(krw / usual)}배` : `1/${r2(usual / krw)}`} (robust z ${r2(z)})`,
  envelope: ({ measure: m, times, learned, factor, nthToday }) => {
    const what =
      m.by === 'qty' ? `수량 ${m.qty}주: 최대 매수 ${m.max}주(1주 여유)의 ${r2(times)}배` : `${won(m.krw)}: 최대 매수 ${won(m.max)}(1주 여유)의 ${r2(times)}배`;
    const again = nthToday !== undefined ? `; 오늘 이 한도를 넘은 ${nthToday}번째 매수 (두 번째부터 1점)` : '';
    return `매수 ${what}, 학습된 매수 ${learned}건 기준 (${factor}배에서 1점)${again}`;
  },
  condition: ({ live, seq, known: runs, breadth: b }) =>
    `이 봇이 실행한 적 없는 ${live ? '실시간' : '일회성'} 조건검색 ${seq} (실행한 조건: ${runs.join(', ')})${b ? `; ${b.minutes}-${2 * b.minutes}분 안에 처음 보는 조건 ${b.n}개 (${b.min}개부터 1점)` : ''}`,
  accountReads: (n, usual, threshold) => `오늘 계좌·주문·체결 조회 ${n}건, 이 봇의 학습된 최다 일 ${r2(usual)}건 (기준 ${threshold}건)`,
  apiBreadth: (n, minutes, threshold) => `${minutes}-${2 * minutes}분 안에 이 봇이 쓴 적 없는 api-id ${n}개 호출 (기준 ${threshold}개)`,
  sequence: ({ kind, lead: l, calls, days, rate, max, usual, once }) => {
    const [what, did] = kind === 'order' ? ['주문', '주문한'] : ['계좌 조회', '계좌를 조회한'];
    const seen = once ? `${once.daysAgo}일 전 하루뿐 (하루만 나온 순서는 ${once.oneOffDays}일 동안만 평소로 봄)` : '없음';
    return `${lead(l)} 나온 ${what}: ${did} ${days}일, 학습된 ${what} ${calls}건 중 이런 순서는 ${seen} (새 순서 하루당 ${r2(rate)}회, ${max}회까지 판정); 평소: ${usual.map((u) => `${lead(u.lead)} ${u.pct}%`).join(', ')}`;
  },
  stuffingSource: (ip, bots, minutes, threshold) => `출발지 ${ip}에서 ${minutes}분 안에 봇 ${bots}개의 시크릿 인증 실패 (기준 ${threshold}개)`,
  stuffingWave: (bots, minutes, threshold) => `${minutes}분 안에 봇 ${bots}개가 인증에 실패하는 중 이 봇의 시크릿도 실패 (기준 ${threshold}개)`,
  model: (score, from, drivers) =>
    `학습 모델 이상 점수 ${r2(score)} (${from}부터); 주요 특징: ${drivers.map((f) => `${f.feature} ${r2(f.value)} (${Math.round(100 * f.share)}%)`).join(', ')}`,
  warmupCap: (reason, max) => `${reason} [학습 중: 최대 ${max}]`,
  graced: (reason, { detectors, at, minutes }) =>
    `${reason} [소유자가 ${new Date(at).toISOString()}에 ${detectors.join(', ')} 탐지 호출을 승인함: ${minutes}분 동안 다시 보류하지 않음]`,
  followUp: (minutes, within) => `소유자가 승인하지 않은 추가 승인 대상 호출 ${minutes}분 뒤의 경고 수준 호출 (${within}분 이내)`,
  escalationHot: (n, stepUp, hours, threshold) => `${hours}시간 안에 추가 승인 기준(${stepUp})을 넘은 ${n}번째 호출 (기준 ${threshold}번)`,
  escalationRefused: (refused, stepUp, hours, threshold) =>
    `${hours}시간 안에 이 봇의 보류된 호출 ${refused}건이 거절된 뒤 추가 승인 기준(${stepUp})을 넘은 호출 (기준 ${threshold}건)`,
  afterRefusal: (minutes, hours) => `소유자가 이 봇의 보류된 호출을 거절한 지 ${minutes}분 뒤의 주문 (${hours}시간 안의 모든 주문은 잠금)`,
};
