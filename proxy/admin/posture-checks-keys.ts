// Posture checks on identities and keys: the bot secret, the Kiwoom
// credentials, the key provider that guards them, and the second factor of
// the people who can approve and unlock.
import { ageDays, day, fail, pass, POSTURE_LIMITS, type PostureCheck } from './posture-kit.js';

const L = POSTURE_LIMITS;

export const botSecret: PostureCheck = {
  id: 'bot-secret',
  area: 'identity',
  weight: 6,
  title: { ko: '봇 시크릿의 나이와 강도', en: 'Bot secret age and strength' },
  recommendation: {
    anchor: 'bot-secret',
    ko: '새 봇 ID로 시크릿을 새로 받고(kguard bots add NEW-ID --secret-out FILE), 키를 옮긴 뒤(kguard keys import --bot NEW-ID) 옛 봇을 끄세요(kguard bots disable OLD-ID).',
    en: 'Issue a fresh secret under a new bot id (kguard bots add NEW-ID --secret-out FILE), move the keys (kguard keys import --bot NEW-ID), then disable the old one (kguard bots disable OLD-ID).',
  },
  run(s) {
    const sec = s.bot.secret;
    const weak: string[] = [];
    // A generated secret is 256 random bits: a salted SHA-256 is as safe as scrypt against guessing it.
    if (sec.alg !== 'scrypt' && sec.alg !== 'sha256') weak.push(`alg=${sec.alg}`);
    if (sec.alg === 'scrypt' && sec.N < L.scrypt.minN) weak.push(`N=${sec.N}<${L.scrypt.minN}`);
    if (sec.alg === 'scrypt' && sec.r < L.scrypt.minR) weak.push(`r=${sec.r}<${L.scrypt.minR}`);
    if (sec.saltBytes < L.scrypt.minSaltBytes) weak.push(`salt ${sec.saltBytes}B<${L.scrypt.minSaltBytes}B`);
    if (sec.hashBytes < L.scrypt.minHashBytes) weak.push(`hash ${sec.hashBytes}B<${L.scrypt.minHashBytes}B`);
    const age = ageDays(s.bot.createdAt, s.now);
    if (Number.isNaN(age))
      return fail('봇 등록 시각을 읽을 수 없어 시크릿의 나이를 알 수 없습니다.', "the bot's creation time is unreadable: the secret's age is unknown");
    const old = age > L.botSecretMaxAgeDays;
    const stored = sec.alg === 'sha256' ? 'salted SHA-256 (256-bit generated secret)' : `scrypt N=${sec.N} r=${sec.r}`;
    if (weak.length > 0)
      return fail(
        `봇 시크릿의 해시가 약합니다 (${weak.join(', ')}); 등록부가 유출되면 추측이 쉽습니다. 시크릿은 ${age}일 되었습니다.`,
        `the bot secret's hash is weak (${weak.join(', ')}): a leaked registry is cheap to guess; the secret is ${age} days old`,
      );
    if (old)
      return fail(
        `봇 시크릿이 ${age}일 되었습니다 (${day(s.bot.createdAt)} 발급, 기준 ${L.botSecretMaxAgeDays}일). 오래된 시크릿일수록 어딘가에 복사되어 있을 가능성이 큽니다.`,
        `the bot secret is ${age} days old (issued ${day(s.bot.createdAt)}, limit ${L.botSecretMaxAgeDays}); the older a secret, the likelier a copy lies somewhere`,
      );
    return pass(
      `봇 시크릿은 ${age}일 되었고 (기준 ${L.botSecretMaxAgeDays}일) ${stored} 해시로만 저장됩니다.`,
      `the bot secret is ${age} days old (limit ${L.botSecretMaxAgeDays}) and stored only as a ${stored} hash`,
    );
  },
};

export const credentialAge: PostureCheck = {
  id: 'credential-age',
  area: 'keys',
  weight: 10,
  title: { ko: '키움 자격 증명의 나이와 교체', en: 'Kiwoom credential age and last rotation' },
  recommendation: {
    anchor: 'rotate-keys',
    ko: '키움 Open API 포털에서 앱키와 시크릿키를 재발급하고 kguard keys rotate --bot ID --from-file FILE 로 교체하세요 (옛 암호문은 파기됩니다). 그다음 포털에서 옛 키를 폐기하세요.',
    en: "Reissue the app key and secret key in Kiwoom's Open API portal and replace them with kguard keys rotate --bot ID --from-file FILE (the old ciphertext is destroyed); then revoke the old key in the portal.",
  },
  run(s) {
    const c = s.credential;
    if (!c)
      return pass(
        '이 봇에는 저장된 키움 키가 없습니다: 키움을 호출할 수 없으므로 노출될 키도 없습니다.',
        'no Kiwoom keys are stored for this bot: it cannot reach Kiwoom, so no key can leak through it',
      );
    const age = ageDays(c.createdAt, s.now);
    if (Number.isNaN(age))
      return fail('자격 증명의 생성 시각을 읽을 수 없어 나이를 알 수 없습니다.', "the credential record's creation time is unreadable: its age is unknown");
    const history =
      c.keyVersion > 1
        ? { ko: `마지막 교체 ${day(c.createdAt)} (키 버전 ${c.keyVersion})`, en: `last rotated ${day(c.createdAt)} (key version ${c.keyVersion})` }
        : { ko: `${day(c.createdAt)} 등록 후 교체한 적 없음`, en: `never rotated since import on ${day(c.createdAt)}` };
    if (age > L.credentialMaxAgeDays)
      return fail(
        `키움 키가 ${age}일 되었습니다 (기준 ${L.credentialMaxAgeDays}일, ${history.ko}).`,
        `the Kiwoom keys are ${age} days old (limit ${L.credentialMaxAgeDays}; ${history.en})`,
      );
    return pass(
      `키움 키는 ${age}일 되었습니다 (기준 ${L.credentialMaxAgeDays}일, ${history.ko}).`,
      `the Kiwoom keys are ${age} days old (limit ${L.credentialMaxAgeDays}; ${history.en})`,
    );
  },
};

export const keyProvider: PostureCheck = {
  id: 'key-provider',
  area: 'keys',
  weight: 10,
  title: { ko: '키 보관소 (키 제공자)', en: 'Key provider' },
  recommendation: {
    anchor: 'key-provider',
    ko: '실거래에서는 AWS KMS나 HSM을 쓰세요: 설정에 vault.provider: aws-kms (또는 pkcs11)를 두고 kguard keys rewrap --to aws-kms 로 모든 레코드를 옮기세요.',
    en: 'For real money use AWS KMS or an HSM: set vault.provider: aws-kms (or pkcs11) and move every record with kguard keys rewrap --to aws-kms.',
  },
  run(s) {
    const production = s.upstream.target === 'production';
    const recordProvider = s.credential?.provider;
    const local = s.keyProvider === 'local' || recordProvider === 'local';
    if (production && local) {
      const where = s.keyProvider === 'local' ? '' : ` (record still wrapped under local; primary ${s.keyProvider})`;
      return fail(
        `실거래(production)인데 키가 로컬 키링으로 암호화되어 있습니다${s.keyProvider === 'local' ? '' : ` (주 제공자는 ${s.keyProvider}, 이 레코드는 아직 local)`}: 마스터 키 파일과 데이터 디렉터리를 복사한 사람은 키를 풀 수 있습니다.`,
        `the upstream is production but the keys are wrapped by the local keyring${where}: whoever copies the master key file and the data directory can unwrap them`,
      );
    }
    const provider = recordProvider ?? s.keyProvider;
    return pass(
      production ? `실거래 키는 ${provider} 제공자가 보호합니다.` : `업스트림이 ${s.upstream.target}(실거래 아님)이므로 ${provider} 제공자로 충분합니다.`,
      production
        ? `production keys are guarded by the ${provider} provider`
        : `the upstream is ${s.upstream.target} (not production): the ${provider} provider is enough`,
    );
  },
};

export const adminTotp: PostureCheck = {
  id: 'admin-totp',
  area: 'admins',
  weight: 8,
  title: { ko: '관리자 2단계 인증(TOTP)', en: 'Admins with a second factor (TOTP)' },
  recommendation: {
    anchor: 'admin-totp',
    ko: '승인·해제 권한이 있는 모든 관리자를 TOTP에 등록하세요: kguard approvals enroll NAME --role admin (비밀은 한 번만 표시되니 인증 앱에 바로 넣으세요).',
    en: 'Enrol every admin and approver for TOTP: kguard approvals enroll NAME --role admin (the secret is shown once; put it straight into an authenticator app).',
  },
  run(s) {
    const privileged = s.admins.filter((a) => a.role === 'admin' || a.role === 'approver');
    const missing = privileged.filter((a) => !a.totp).map((a) => `${a.name} (${a.role})`);
    if (missing.length > 0)
      return fail(
        `TOTP가 없는 관리자: ${missing.join(', ')}. 이들의 토큰만 훔치면 승인 없이 관리 작업을 할 수 있습니다.`,
        `admins without TOTP: ${missing.join(', ')}; their token alone is enough to act without a second factor`,
      );
    return pass(
      privileged.length > 0 ? `관리자·승인자 ${privileged.length}명 모두 TOTP에 등록되어 있습니다.` : '관리자·승인자 토큰이 없습니다.',
      privileged.length > 0 ? `all ${privileged.length} admins and approvers are enrolled for TOTP` : 'there are no admin or approver tokens',
    );
  },
};
