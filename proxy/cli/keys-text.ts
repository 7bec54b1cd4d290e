// What `kguard keys ...` prints for people, in Korean or English (--lang, else the configured language, Korean
// unless set). Bot ids, accounts, versions, providers, key ids, fingerprints and dates are printed as they are in
// both; --json output is never translated.
import type { Language } from '../common/errors.js';
import type { CredentialMeta } from '../vault/index.js';

export const KEYS_TEXT = {
  ko: {
    imported: (m: CredentialMeta) => `${m.botId}의 자격 증명을 등록했습니다 (버전 ${m.keyVersion}, 키 제공자 ${m.provider})\n`,
    rotated: (m: CredentialMeta) => `${m.botId}의 자격 증명을 버전 ${m.keyVersion}(으)로 교체했습니다. 이전 암호문은 파기했습니다\n`,
    none: '등록된 자격 증명이 없습니다\n',
    meta: (m: CredentialMeta) =>
      `${m.botId}\t계좌=${m.account}\t버전=${m.keyVersion}\t${m.enabled ? '사용' : '사용 중지'}\t키제공자=${m.provider}\t키ID=${m.keyId}\t생성=${m.createdAt}\t지문=${m.appKeyFingerprint}`,
    record: (botId: string, rewrapped: boolean) => `${rewrapped ? '재래핑함' : '이미 완료'}\t${botId}\n`,
    rewrapped: (resumed: boolean, rewrapped: number, skipped: number, provider: string, keyId: string) =>
      `${resumed ? '중단된 재래핑을 이어서 마쳤습니다. ' : ''}재래핑 ${rewrapped}건, 이미 ${provider} ${keyId} 아래에 있던 기록 ${skipped}건\n`,
    masterKey: (version: number) => `로컬 마스터 키 버전 ${version}을(를) 만들었습니다\n`,
    enabled: (botId: string, enabled: boolean) => `${botId}의 자격 증명을 ${enabled ? '다시 사용하도록 했습니다' : '사용 중지했습니다'}\n`,
    destroyed: (botId: string) => `${botId}의 자격 증명을 파기했습니다: 기록을 덮어쓴 뒤 삭제했습니다\n`,
    // Details of the errors the command itself raises (the code and its catalogue message come first).
    pipeKeys: '키를 표준 입력으로 넣거나(첫 줄 앱 키, 둘째 줄 시크릿 키) 권한 0600 파일을 --from-file로 지정하십시오',
    registered: (botId: string) => `봇 ${botId}: kguard bots remove를 사용하십시오. 키를 파기하기 전에 브로커 토큰을 폐기합니다`,
    bot: (botId: string) => `봇 ${botId}`,
  },
  en: {
    imported: (m: CredentialMeta) => `imported credentials for ${m.botId} (version ${m.keyVersion}, provider ${m.provider})\n`,
    rotated: (m: CredentialMeta) => `rotated credentials for ${m.botId} to version ${m.keyVersion}; the previous ciphertext was destroyed\n`,
    none: 'no credentials registered\n',
    meta: (m: CredentialMeta) =>
      `${m.botId}\taccount=${m.account}\tversion=${m.keyVersion}\t${m.enabled ? 'enabled' : 'DISABLED'}\tprovider=${m.provider}\tkeyId=${m.keyId}\tcreated=${m.createdAt}\tfingerprint=${m.appKeyFingerprint}`,
    record: (botId: string, rewrapped: boolean) => `${rewrapped ? 'rewrapped' : 'already done'}\t${botId}\n`,
    rewrapped: (resumed: boolean, rewrapped: number, skipped: number, provider: string, keyId: string) =>
      `${resumed ? 'resumed an interrupted rewrap; ' : ''}${rewrapped} rewrapped, ${skipped} already under ${provider} ${keyId}\n`,
    masterKey: (version: number) => `created local master key version ${version}\n`,
    enabled: (botId: string, enabled: boolean) => `credentials for ${botId} ${enabled ? 'enabled' : 'disabled'}\n`,
    destroyed: (botId: string) => `credentials for ${botId} destroyed: the record was overwritten and deleted\n`,
    pipeKeys: 'pipe the keys in on stdin (app key line, secret key line) or use --from-file with a 0600 file',
    registered: (botId: string) => `bot ${botId}: use kguard bots remove, which revokes its broker token before its keys are destroyed`,
    bot: (botId: string) => `bot ${botId}`,
  },
} as const satisfies Record<Language, unknown>;

export type KeysText = (typeof KEYS_TEXT)[Language];
