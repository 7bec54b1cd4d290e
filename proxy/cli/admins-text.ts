// What `kguard admins ...` and `kguard state ...` print for people, in Korean or English (--lang, else the
// configured language, Korean unless set). Names, roles, file names, the token, backends and generation markers are
// printed as they are in both; --json output is never translated.
import type { Language } from '../common/errors.js';

export const ADMINS_TEXT = {
  ko: {
    createdTo: (name: string, role: string, file: string) => `관리자 ${name} (${role})을(를) 만들었습니다. 토큰은 ${file}에 썼습니다 (권한 0600)\n`,
    created: (name: string, role: string, token: string) => `관리자 ${name} (${role})을(를) 만들었습니다\n관리자 토큰 (한 번만 표시): ${token}\n`,
    none: '등록된 관리자가 없습니다\n',
    noSuch: (name: string) => `${name}(이)라는 관리자가 없습니다. 아무것도 제거하지 않았습니다 (kguard admins list로 이름을 확인하십시오)\n`,
    removed: (name: string) => `관리자 ${name}을(를) 제거했습니다. 그 토큰은 더 이상 쓸 수 없습니다\n`,
  },
  en: {
    createdTo: (name: string, role: string, file: string) => `admin ${name} (${role}) created; token written to ${file} (mode 0600)\n`,
    created: (name: string, role: string, token: string) => `admin ${name} (${role}) created\nadmin token (shown once): ${token}\n`,
    none: 'no admins\n',
    noSuch: (name: string) => `no admin named ${name}; nothing removed (kguard admins list shows the names)\n`,
    removed: (name: string) => `admin ${name} removed; its token no longer works\n`,
  },
} as const satisfies Record<Language, unknown>;
