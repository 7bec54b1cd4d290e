// What `kguard bots ...` prints for people, in Korean or English (--lang, else the configured language, Korean
// unless set). Bot ids, owners, accounts, api-ids, file names, step names and codes are printed as they are in both;
// what the sidecar wrote (a removal step's detail) is in its own language. --json output is never translated.
import type { PublicBot } from '../auth/index.js';
import type { Language } from '../common/errors.js';
import type { RemoveReport } from '../server/bot-remove.js';

export const BOTS_TEXT = {
  ko: {
    createdTo: (id: string, file: string) => `봇 ${id}을(를) 만들었습니다. 시크릿은 ${file}에 썼습니다 (권한 0600)\n`,
    created: (id: string, secret: string) => `봇 ${id}을(를) 만들었습니다\n봇 시크릿 (한 번만 표시): ${secret}\n`,
    none: '등록된 봇이 없습니다\n',
    line: (b: PublicBot) =>
      `${b.id}\t${b.enabled ? '사용' : '사용 중지'}\t소유자=${b.owner}\t계좌=${b.account}\t허용=${b.allowed.join(',') || '-'}\t생성=${b.createdAt}`,
    disable: (id: string) => `봇 ${id}을(를) 모든 복제본에서 사용 중지했습니다. 세션을 끝내고 브로커 접근을 폐기했습니다\n`,
    enable: (id: string) => `봇 ${id}을(를) 다시 사용하도록 했습니다. 이전에 끝난 세션은 끝난 채로 둡니다\n`,
    'kill-sessions': (id: string) => `봇 ${id}의 모든 세션을 끝냈습니다. 브로커 접근을 폐기했습니다\n`,
    flag: (id: string, enabled: boolean) => `레지스트리에서 봇 ${id}을(를) ${enabled ? '사용하도록 했습니다' : '사용 중지했습니다'}\n`,
    offlineNote:
      '레지스트리 플래그만 바꿨습니다: 실행 중인 사이드카는 다음 호출부터 이 봇을 거부합니다 (레지스트리를 지켜봅니다). 모든 복제본에서 세션을 끝내고 브로커 토큰을 지금 폐기하려면 --admin-url을 함께 주십시오\n',
    removed: (r: RemoveReport) => `봇 ${r.botId} ${r.removed ? '제거됨' : '제거되지 않음'}${r.code ? ` (${r.code})` : ''}`,
    step: (ok: boolean) => (ok ? '완료' : '실패'),
    problem: (unit: 'line' | 'item', n: number, id: string | undefined, code: string, message: string) =>
      `${unit === 'line' ? '줄' : '항목'} ${n}${id ? ` (${id})` : ''}: ${code} ${message}\n`,
    more: (n: number) => `... 그 밖에 ${n}개\n`,
    refused: '일괄 등록이 거부되었습니다. 아무것도 바뀌지 않았습니다\n',
    secretsOutExists: (file: string) => `--secrets-out ${file}: 이미 있는 파일은 덮어쓰지 않습니다. 새 파일 이름을 주십시오`,
    secretOutExists: (file: string, id: string) =>
      `--secret-out ${file}: 이미 있는 파일은 덮어쓰지 않습니다. 새 파일 이름을 주십시오 (봇 ${id}은(는) 만들지 않았습니다)`,
    imported: (bots: number, credentials: number, secretsOut?: string) =>
      `봇 ${bots}개를 등록하고 자격 증명 ${credentials}개를 가져왔습니다${secretsOut ? `. 생성된 시크릿은 ${secretsOut}에 있습니다 (권한 0600)` : ''}\n`,
    listUnreadable: (file: string, why: string) => `--from-file ${file}: 읽을 수 없습니다 (${why})`,
    listEmpty: (file: string) => `--from-file ${file}: 봇 ID가 하나도 없습니다`,
    listProblem: (line: number, text: string, why: 'not-an-id' | 'repeated') =>
      `줄 ${line}: ${why === 'repeated' ? `${text} 이(가) 앞에 이미 있습니다` : `봇 ID가 아닙니다 (${text})`}\n`,
    listRefused: '목록이 거부되었습니다. 아무 봇도 제거하지 않았습니다\n',
    removeFailed: (id: string, status: number, message: string) => `봇 ${id} 제거 실패 (${status === 0 ? '응답 없음' : `HTTP ${status}`}): ${message}\n`,
    removedTotals: (n: { removed: number; stopped: number; failed: number; notAttempted: number }) =>
      `제거됨 ${n.removed}, 중간에 멈춤 ${n.stopped} (사용 중지됨, 제거되지 않음), 실패 ${n.failed}, 시도하지 않음 ${n.notAttempted}\n`,
  },
  en: {
    createdTo: (id: string, file: string) => `bot ${id} created; secret written to ${file} (mode 0600)\n`,
    created: (id: string, secret: string) => `bot ${id} created\nbot secret (shown once): ${secret}\n`,
    none: 'no bots registered\n',
    line: (b: PublicBot) =>
      `${b.id}\t${b.enabled ? 'enabled' : 'DISABLED'}\towner=${b.owner}\taccount=${b.account}\tallowed=${b.allowed.join(',') || '-'}\tcreated=${b.createdAt}`,
    disable: (id: string) => `bot ${id} disabled on every replica; its sessions ended and its broker access revoked\n`,
    enable: (id: string) => `bot ${id} enabled; sessions ended before stay ended\n`,
    'kill-sessions': (id: string) => `every session of bot ${id} ended; its broker access revoked\n`,
    flag: (id: string, enabled: boolean) => `bot ${id} ${enabled ? 'enabled' : 'disabled'} in the registry\n`,
    offlineNote:
      'registry flag set: a running sidecar refuses the bot from its next call (it watches the registry); pass --admin-url to also end its sessions on every replica and revoke its broker token now\n',
    removed: (r: RemoveReport) => `${r.removed ? 'REMOVED' : 'NOT REMOVED'} bot ${r.botId}${r.code ? ` (${r.code})` : ''}`,
    step: (ok: boolean) => (ok ? 'ok    ' : 'FAILED'),
    problem: (unit: 'line' | 'item', n: number, id: string | undefined, code: string, message: string) =>
      `${unit} ${n}${id ? ` (${id})` : ''}: ${code} ${message}\n`,
    more: (n: number) => `... and ${n} more\n`,
    refused: 'the batch was refused; nothing was changed\n',
    secretsOutExists: (file: string) => `--secrets-out ${file}: the file exists and is never replaced; name a new file`,
    secretOutExists: (file: string, id: string) => `--secret-out ${file}: the file exists and is never replaced; name a new file (bot ${id} not created)`,
    imported: (bots: number, credentials: number, secretsOut?: string) =>
      `${bots} bot(s) registered, ${credentials} credential record(s) imported${secretsOut ? `; generated secrets in ${secretsOut} (mode 0600)` : ''}\n`,
    listUnreadable: (file: string, why: string) => `--from-file ${file}: cannot be read (${why})`,
    listEmpty: (file: string) => `--from-file ${file}: names no bot id`,
    listProblem: (line: number, text: string, why: 'not-an-id' | 'repeated') =>
      `line ${line}: ${why === 'repeated' ? `${text} is listed already` : `not a bot id (${text})`}\n`,
    listRefused: 'the list was refused; no bot was removed\n',
    removeFailed: (id: string, status: number, message: string) => `FAILED bot ${id} (${status === 0 ? 'no answer' : `HTTP ${status}`}): ${message}\n`,
    removedTotals: (n: { removed: number; stopped: number; failed: number; notAttempted: number }) =>
      `${n.removed} removed, ${n.stopped} stopped part-way (disabled, not removed), ${n.failed} failed, ${n.notAttempted} not attempted\n`,
  },
} as const satisfies Record<Language, unknown>;

/** The removal's steps, one a line (like a lockdown's). */
export function summariseRemoval(r: RemoveReport, lang: Language): string {
  const say = BOTS_TEXT[lang];
  const lines = [say.removed(r)];
  for (const s of r.steps) lines.push(`  ${say.step(s.ok)} ${s.step} (${s.ms} ms): ${s.detail}`);
  return `${lines.join('\n')}\n`;
}
