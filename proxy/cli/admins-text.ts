// What `kguard admins ...` and `kguard state ...` print for people, in Korean or English (--lang, else the
// configured language, Korean unless set). Names, roles, file names, the token, backends and generation markers are
// printed as they are in both; --json output is never translated.
import type { Language } from '../common/errors.js';

export const ADMINS_TEXT = {
  ko: {
    createdTo: (name: string, role: string, file: string) => `관리자 ${name} (${role})을(를) 만들었습니다. 토큰은 ${file}에 썼습니다 (권한 0600)\n`,
    created: (name: string, role: string, token: string) => `관리자 ${name} (${role})을(를) 만들었습니다\n관리자 토큰 (한 번만 표시): ${token}\n`,
    tokenOutExists: (file: string, name: string) =>
      `--token-out ${file}: 이미 있는 파일은 덮어쓰지 않습니다. 새 파일 이름을 주십시오 (관리자 ${name}은(는) 만들지 않았습니다)`,
    none: '등록된 관리자가 없습니다\n',
    noSuch: (name: string) => `${name}(이)라는 관리자가 없습니다. 아무것도 제거하지 않았습니다 (kguard admins list로 이름을 확인하십시오)\n`,
    removed: (name: string) => `관리자 ${name}을(를) 제거했습니다. 그 토큰은 더 이상 쓸 수 없습니다\n`,
  },
  en: {
    createdTo: (name: string, role: string, file: string) => `admin ${name} (${role}) created; token written to ${file} (mode 0600)\n`,
    created: (name: string, role: string, token: string) => `admin ${name} (${role}) created\nadmin token (shown once): ${token}\n`,
    tokenOutExists: (file: string, name: string) => `--token-out ${file}: the file exists and is never replaced; name a new file (admin ${name} not created)`,
    none: 'no admins\n',
    noSuch: (name: string) => `no admin named ${name}; nothing removed (kguard admins list shows the names)\n`,
    removed: (name: string) => `admin ${name} removed; its token no longer works\n`,
  },
} as const satisfies Record<Language, unknown>;

interface StateStatus {
  backend: string;
  up: boolean;
  reason?: string;
  generation: string | null;
  flushDetected: boolean;
  confirmed?: boolean;
  clock?: { skewMs: number; uncertaintyMs: number };
}

/** This replica's clock against Redis': +0.003 (ahead), -1.250 (behind). */
const signedSeconds = (ms: number): string => `${ms >= 0 ? '+' : '-'}${(Math.abs(ms) / 1000).toFixed(3)}`;

export const STATE_TEXT = {
  ko: (s: StateStatus) => [
    ...(s.confirmed ? ['플러시 확인됨: 모든 복제본이 다시 호출을 통과시킵니다'] : []),
    `백엔드:        ${s.backend}`,
    `연결:          ${s.up ? '정상' : `끊김${s.reason ? ` (${s.reason})` : ''}`}`,
    `세대 표식:     ${s.generation ?? '-'}`,
    `플러시 감지:   ${s.flushDetected ? '예: `kguard state confirm-flush --reason TEXT`로 확인할 때까지 호출을 거부합니다 (KG7003)' : '아니요'}`,
    ...(s.clock ? [`시계:          Redis 대비 ${signedSeconds(s.clock.skewMs)}초 (± ${s.clock.uncertaintyMs} ms)`] : []),
  ],
  en: (s: StateStatus) => [
    ...(s.confirmed ? ['flush confirmed: every replica lets calls through again'] : []),
    `backend:        ${s.backend}`,
    `up:             ${s.up ? 'yes' : `NO${s.reason ? ` (${s.reason})` : ''}`}`,
    `generation:     ${s.generation ?? '-'}`,
    `flush detected: ${s.flushDetected ? 'YES: calls are refused (KG7003) until confirmed with `kguard state confirm-flush --reason TEXT`' : 'no'}`,
    ...(s.clock ? [`clock:          ${signedSeconds(s.clock.skewMs)} s against Redis (± ${s.clock.uncertaintyMs} ms)`] : []),
  ],
} as const satisfies Record<Language, unknown>;

/** `kguard state status` (and confirm-flush) for people. */
export function renderState(json: unknown, lang: Language): string {
  return `${STATE_TEXT[lang](json as StateStatus).join('\n')}\n`;
}
