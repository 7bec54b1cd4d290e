// What `kguard ca init | show | issue` print for people, in Korean or English (--lang, else the configured
// language, Korean unless set). File names, fingerprints, subjects, host names and dates are printed as they are in
// both; --json output is never translated.
import type { Language } from '../common/errors.js';

export const CA_TEXT = {
  ko: {
    created: (created: boolean) => (created ? '로컬 CA를 만들었습니다' : '로컬 CA가 이미 있습니다 (그대로 둡니다. 바꾸려면 --force)'),
    trust: '봇이 신뢰할 인증서',
    sealedKey: (file: string) => `  키 (봉인)     ${file} (키 제공자가 봉인)\n`,
    fileKey: (file: string) => `  키 (0600)     ${file}\n`,
    fingerprint: '지문',
    subject: '주체',
    validUntil: '만료',
    issued: (names: string, cert: string, key: string, notAfter: string) =>
      `${names}의 리프 인증서를 ${cert}에 썼습니다 (키 ${key}, 권한 0600), ${notAfter}까지 유효\n`,
  },
  en: {
    created: (created: boolean) => (created ? 'local CA created' : 'local CA already exists (kept; --force replaces it)'),
    trust: 'bots trust',
    sealedKey: (file: string) => `  key (sealed)  ${file} (by the key provider)\n`,
    fileKey: (file: string) => `  key (0600)    ${file}\n`,
    fingerprint: 'fingerprint',
    subject: 'subject',
    validUntil: 'valid until',
    issued: (names: string, cert: string, key: string, notAfter: string) =>
      `leaf certificate for ${names} written to ${cert} (key ${key}, mode 0600), valid until ${notAfter}\n`,
  },
} as const satisfies Record<Language, unknown>;

/** `  label         value`: the value in one column (a Hangul syllable is two columns wide in a terminal). */
export function caField(label: string, value: string): string {
  const width = [...label].reduce((w, ch) => w + (/[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]/.test(ch) ? 2 : 1), 0);
  return `  ${label}${' '.repeat(Math.max(1, 14 - width))}${value}\n`;
}
