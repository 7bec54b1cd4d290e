// What `kguard audit verify | receipt | keygen | rotate-signing-key` print for people, in Korean or English (--lang,
// else the configured language, Korean unless set). The verdicts (VERIFIED, FAILED, VALID, INVALID) lead the line in
// both, as statuses, so a script or a grep reads either; paths, seqs, hashes and key ids are printed as they are, and
// verify's reasons and warnings as the verifier words them. --json output is never translated.
import type { Language } from '../common/errors.js';

const range = (first: number | undefined, last: number | undefined) => (last ? ` (seq ${first}..${last})` : '');
const at = (seq: number | undefined, file: string | undefined, line: number | undefined, unknown: string) =>
  `${seq !== undefined ? `seq ${seq}` : unknown}${file ? ` ${file}${line ? `:${line}` : ''}` : ''}`;

export const AUDIT_TEXT = {
  ko: {
    verified: (target: string, records: number, first: number | undefined, last: number | undefined, files: number, checkpoints: number) =>
      `VERIFIED ${target}: 검증 통과, 레코드 ${records}개${range(first, last)}, 파일 ${files}개, 서명된 체크포인트 ${checkpoints}개`,
    head: (hash: string) => `  마지막 레코드 해시 ${hash}`,
    signingKey: (ids: string, file: string | undefined) => `  서명 키 ${ids} (${file})`,
    handover: (seq: number, from: string, to: string) => `  seq ${seq}에서 서명 키 인계: ${from} -> ${to} (${from}이(가) 서명)`,
    failed: (target: string) => `FAILED ${target}: 감사 로그 검증 실패`,
    firstBad: (seq: number | undefined, file: string | undefined, line: number | undefined) => `  첫 번째 잘못된 레코드: ${at(seq, file, line, 'seq 모름')}`,
    reason: (reason: string) => `  사유: ${reason}`,
    verifiedBefore: (records: number, lastSeq: number) => `  그 앞까지 검증된 레코드: ${records}개 (마지막 정상 seq ${lastSeq})`,
    warning: (w: string) => `  경고: ${w}`,
    progress: (pct: number, records: number, seconds: string) => `\r검증 중 ${pct}% 레코드 ${records}개 ${seconds}초 `,
    receiptValid: (seq: number, from: number, to: number) => `VALID seq ${seq}의 영수증이 유효합니다 (체크포인트 ${from}..${to})\n`,
    receiptInvalid: (reason: string) => `INVALID 영수증이 유효하지 않습니다: ${reason}\n`,
    noCheckpoint: (seq: number) => `seq ${seq}을(를) 덮는 서명된 체크포인트가 아직 없습니다 (사이드카는 레코드 N개 또는 T초마다 체크포인트를 만듭니다)\n`,
    keygenSigning: (file: string, created: boolean, keyId: string) =>
      `서명 키 ${file}: ${created ? '만들었습니다' : '이미 있어 그대로 둡니다'} (키 ID ${keyId})\n`,
    keygenPublic: (file: string) => `공개 키  ${file}: 감사인에게 전달하십시오\n`,
    keygenHmac: (file: string, created: boolean) => `HMAC 키  ${file}: ${created ? '만들었습니다' : '이미 있어 그대로 둡니다'}\n`,
    rotated: (keyId: string, file: string, previous: string, retiring: string) =>
      `새 서명 키 ${keyId}을(를) ${file}에 두었습니다 (이전 키 ${previous}는 인계까지 ${retiring}로 보관)`,
    rotatedPublic: (file: string) => `공개 키 ${file}: 이 파일과 키 ID를 감사인에게 전달하십시오`,
    rotatedHistory: (file: string) => `로그에 서명한 모든 키: ${file}`,
    rotatedNext: '다음 시작 때 적용됩니다: 그때 각 감사 로그를 이전 키로 서명한 체크포인트가 새 키에 인계합니다',
  },
  en: {
    verified: (target: string, records: number, first: number | undefined, last: number | undefined, files: number, checkpoints: number) =>
      `VERIFIED ${target}: ${records} records${range(first, last)} in ${files} file(s), ${checkpoints} signed checkpoint(s)`,
    head: (hash: string) => `  head ${hash}`,
    signingKey: (ids: string, file: string | undefined) => `  signing key ${ids} (${file})`,
    handover: (seq: number, from: string, to: string) => `  signing key handed over at seq ${seq}: ${from} -> ${to} (signed by ${from})`,
    failed: (target: string) => `FAILED ${target}: the audit log does not verify`,
    firstBad: (seq: number | undefined, file: string | undefined, line: number | undefined) =>
      `  first bad record: ${seq !== undefined ? `seq ${seq}` : 'unknown seq'}${file ? ` at ${file}${line ? `:${line}` : ''}` : ''}`,
    reason: (reason: string) => `  reason: ${reason}`,
    verifiedBefore: (records: number, lastSeq: number) => `  records before it verified: ${records} (last good seq ${lastSeq})`,
    warning: (w: string) => `  warning: ${w}`,
    progress: (pct: number, records: number, seconds: string) => `\rverifying ${pct}% ${records} records ${seconds} s `,
    receiptValid: (seq: number, from: number, to: number) => `VALID receipt for seq ${seq} (checkpoint ${from}..${to})\n`,
    receiptInvalid: (reason: string) => `INVALID receipt: ${reason}\n`,
    noCheckpoint: (seq: number) => `no signed checkpoint covers seq ${seq} yet (the sidecar checkpoints every N records or T seconds)\n`,
    keygenSigning: (file: string, created: boolean, keyId: string) => `signing key ${file}: ${created ? 'created' : 'exists, kept'} (key id ${keyId})\n`,
    keygenPublic: (file: string) => `public key  ${file}: give this to auditors\n`,
    keygenHmac: (file: string, created: boolean) => `hmac key    ${file}: ${created ? 'created' : 'exists, kept'}\n`,
    rotated: (keyId: string, file: string, previous: string, retiring: string) =>
      `new signing key ${keyId} in ${file} (the old key ${previous} kept as ${retiring} until the hand-over)`,
    rotatedPublic: (file: string) => `public key ${file}: give this and the key id to auditors`,
    rotatedHistory: (file: string) => `every key the log was signed with: ${file}`,
    rotatedNext: 'takes effect at the next start: each audit log is then handed over by a checkpoint signed with the old key, naming the new one',
  },
} as const satisfies Record<Language, unknown>;
