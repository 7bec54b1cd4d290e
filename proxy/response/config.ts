// Emergency response configuration: config section `response`.
import { GuardError, type Language } from '../common/errors.js';
import { configError, list, num, section, str, strList, oneOf } from '../common/validate.js';

export interface WebhookConfig {
  readonly url: string;
  readonly kind: 'json' | 'slack';
  /** A header carrying a shared secret, its value read from a file at send time. */
  readonly secretHeader?: { readonly name: string; readonly file: string };
}

export interface RecoveryStep {
  readonly id: string;
  readonly title: string;
  readonly required: boolean;
}

export type CompensationCause = 'system_fault' | 'user_negligence' | 'external_attack';

export interface ResponseConfig {
  readonly cancel: {
    readonly concurrency: number;
    readonly retries: number;
    readonly retryBackoffMs: number;
    readonly confirmRounds: number;
    readonly maxOrders: number;
    /** How often a cancel-all the lockdown could not confirm is tried again in the background (0: never). */
    readonly retryIntervalMs: number;
    /** How long such retries go on before they give up (logged: cancel by hand at Kiwoom). */
    readonly retryForMs: number;
    /**
     * One replica follows an incident's retries, holding a lease in the Store it renews every try; once it lapses
     * (the replica died or lost the Store) another replica takes the retries over. Longer than a try takes.
     */
    readonly followLeaseMs: number;
  };
  readonly damage: { readonly lookbackMs: number; readonly deadlineMs: number };
  readonly webhooks: readonly WebhookConfig[];
  readonly webhook: { readonly attempts: number; readonly backoffMs: number; readonly timeoutMs: number };
  readonly unlock: {
    readonly adminTriggeredApprovers: number;
    readonly automaticApprovers: number;
    /** How long an unlock under way keeps a second one out; a process that died mid-unlock frees it after this. */
    readonly claimMs: number;
  };
  readonly recoverySteps: readonly RecoveryStep[];
  readonly compensation: {
    readonly rates: Readonly<Record<CompensationCause, number>>;
    readonly capKrw: number;
    readonly minBusinessDays: number;
    readonly maxBusinessDays: number;
    readonly holidays: ReadonlySet<string>;
  };
  readonly incidentRetentionMs: number;
  readonly alertCooldownMs: number;
  /** How often a lockdown's broker token that has not been revoked yet is checked again (its step 2 then updates). */
  readonly revokeCheckMs: number;
  /** How long POST /lockdown waits for the whole lockdown before it answers 202 with the incident recorded so far. */
  readonly answerWithinMs: number;
}

// The seed's recovery plan, in its order, in the sidecar's language (the ids are the same in both).
export const DEFAULT_RECOVERY_STEPS: Readonly<Record<Language, readonly RecoveryStep[]>> = {
  ko: [
    { id: 'change-account-password', title: '키움 계좌 비밀번호 변경', required: true },
    { id: 'reissue-api-key', title: '키움 API 키(앱 키와 시크릿 키) 폐기 후 재발급', required: true },
    { id: 'scan-bot-host', title: '봇이 실행되는 기계 점검과 보안 패치', required: true },
    { id: 'register-new-key', title: '새 키를 `kguard keys rotate`로 등록', required: true },
    { id: 'review-trades', title: '최근 거래 검토와 이상 거래 신고', required: true },
  ],
  en: [
    { id: 'change-account-password', title: 'Change the Kiwoom account password', required: true },
    { id: 'reissue-api-key', title: 'Revoke and reissue the Kiwoom API key (app key and secret key)', required: true },
    { id: 'scan-bot-host', title: "Scan and patch the bot's machine", required: true },
    { id: 'register-new-key', title: 'Register the new key with `kguard keys rotate`', required: true },
    { id: 'review-trades', title: 'Review recent trades and report anomalies', required: true },
  ],
};

const STEP_ID = /^[a-z0-9-]{1,40}$/;
const HEADER = /^[A-Za-z0-9-]{1,64}$/;

export function parseResponseConfig(raw: unknown, path = 'response', language: Language = 'ko'): ResponseConfig {
  const r = section(raw, path, [
    'cancel',
    'damage',
    'webhooks',
    'webhook',
    'unlock',
    'recoverySteps',
    'compensation',
    'incidentRetentionDays',
    'alertCooldownSeconds',
    'revokeCheckMs',
    'answerWithinMs',
  ]);
  const c = section(r.cancel, `${path}.cancel`, [
    'concurrency',
    'retries',
    'retryBackoffMs',
    'confirmRounds',
    'maxOrders',
    'retryIntervalMs',
    'retryForMs',
    'followLeaseMs',
  ]);
  const d = section(r.damage, `${path}.damage`, ['lookbackMinutes', 'deadlineMs']);
  const w = section(r.webhook, `${path}.webhook`, ['attempts', 'backoffMs', 'timeoutMs']);
  const u = section(r.unlock, `${path}.unlock`, ['adminTriggeredApprovers', 'automaticApprovers', 'claimSeconds']);
  const comp = section(r.compensation, `${path}.compensation`, ['rates', 'capKrw', 'minBusinessDays', 'maxBusinessDays', 'holidays']);
  const rates = section(comp.rates, `${path}.compensation.rates`, ['system_fault', 'user_negligence', 'external_attack']);

  const webhooks = (list(r, 'webhooks', path) ?? []).map((h, i): WebhookConfig => {
    const p = `${path}.webhooks[${i}]`;
    const o = section(h, p, ['url', 'kind', 'secretHeader']);
    const url = str(o, 'url', p, '');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw configError(`${p}.url`, 'must be an absolute http(s) URL');
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw configError(`${p}.url`, 'must be http or https');
    if (parsed.username || parsed.password) throw configError(`${p}.url`, 'must not embed credentials; use secretHeader');
    const kind = oneOf(o, 'kind', p, 'json', ['json', 'slack'] as const);
    let secretHeader: WebhookConfig['secretHeader'];
    if (o.secretHeader !== undefined) {
      const s = section(o.secretHeader, `${p}.secretHeader`, ['name', 'file']);
      secretHeader = { name: str(s, 'name', `${p}.secretHeader`, '', HEADER), file: str(s, 'file', `${p}.secretHeader`, '') };
      if (!secretHeader.name || !secretHeader.file) throw configError(`${p}.secretHeader`, 'needs name and file');
    }
    return { url, kind, ...(secretHeader ? { secretHeader } : {}) };
  });

  const stepsRaw = list(r, 'recoverySteps', path);
  const recoverySteps = stepsRaw
    ? stepsRaw.map((s, i) => {
        const p = `${path}.recoverySteps[${i}]`;
        const o = section(s, p, ['id', 'title', 'required']);
        const id = str(o, 'id', p, '', STEP_ID);
        const title = str(o, 'title', p, '');
        if (!id || !title) throw configError(p, 'needs id and title');
        const required = o.required === undefined ? true : o.required;
        if (typeof required !== 'boolean') throw configError(`${p}.required`, 'must be true or false');
        return { id, title, required };
      })
    : DEFAULT_RECOVERY_STEPS[language];
  if (new Set(recoverySteps.map((s) => s.id)).size !== recoverySteps.length) throw configError(`${path}.recoverySteps`, 'ids must be unique');

  const minBusinessDays = num(comp, 'minBusinessDays', `${path}.compensation`, 7, 0, 365, true);
  const maxBusinessDays = num(comp, 'maxBusinessDays', `${path}.compensation`, 14, 0, 365, true);
  if (maxBusinessDays < minBusinessDays) throw new GuardError('KG3013', `${path}.compensation: maxBusinessDays must be >= minBusinessDays`);
  const retryIntervalMs = num(c, 'retryIntervalMs', `${path}.cancel`, 5_000, 0, 3_600_000, true);
  const followLeaseMs = num(c, 'followLeaseMs', `${path}.cancel`, 30_000, 1_000, 7_200_000, true);
  // A lease shorter than the pause between tries would lapse between them: every replica would take the retries over.
  if (retryIntervalMs > 0 && followLeaseMs <= retryIntervalMs)
    throw new GuardError('KG3013', `${path}.cancel: followLeaseMs (${followLeaseMs}) must be longer than retryIntervalMs (${retryIntervalMs})`);

  return {
    cancel: {
      concurrency: num(c, 'concurrency', `${path}.cancel`, 20, 1, 256, true),
      retries: num(c, 'retries', `${path}.cancel`, 3, 0, 20, true),
      retryBackoffMs: num(c, 'retryBackoffMs', `${path}.cancel`, 50, 0, 10_000, true),
      confirmRounds: num(c, 'confirmRounds', `${path}.cancel`, 3, 1, 20, true),
      maxOrders: num(c, 'maxOrders', `${path}.cancel`, 10_000, 1, 1e6, true),
      retryIntervalMs,
      retryForMs: num(c, 'retryForMs', `${path}.cancel`, 6 * 3_600_000, 1_000, 7 * 86_400_000, true),
      followLeaseMs,
    },
    damage: {
      lookbackMs: num(d, 'lookbackMinutes', `${path}.damage`, 60, 1, 7 * 1440) * 60_000,
      deadlineMs: num(d, 'deadlineMs', `${path}.damage`, 5000, 100, 600_000, true),
    },
    webhooks,
    webhook: {
      attempts: num(w, 'attempts', `${path}.webhook`, 4, 1, 20, true),
      backoffMs: num(w, 'backoffMs', `${path}.webhook`, 200, 0, 60_000, true),
      timeoutMs: num(w, 'timeoutMs', `${path}.webhook`, 3000, 100, 60_000, true),
    },
    unlock: {
      adminTriggeredApprovers: num(u, 'adminTriggeredApprovers', `${path}.unlock`, 2, 1, 5, true),
      automaticApprovers: num(u, 'automaticApprovers', `${path}.unlock`, 1, 1, 5, true),
      claimMs: num(u, 'claimSeconds', `${path}.unlock`, 120, 5, 3600, true) * 1000,
    },
    recoverySteps,
    compensation: {
      rates: {
        system_fault: num(rates, 'system_fault', `${path}.compensation.rates`, 1, 0, 1),
        user_negligence: num(rates, 'user_negligence', `${path}.compensation.rates`, 0.3, 0, 1),
        external_attack: num(rates, 'external_attack', `${path}.compensation.rates`, 0.7, 0, 1),
      },
      capKrw: num(comp, 'capKrw', `${path}.compensation`, 10_000_000, 0, 1e13, true),
      minBusinessDays,
      maxBusinessDays,
      holidays: new Set(strList(comp, 'holidays', `${path}.compensation`, [], /^\d{4}-\d{2}-\d{2}$/)),
    },
    incidentRetentionMs: num(r, 'incidentRetentionDays', path, 400, 1, 3650) * 86_400_000,
    alertCooldownMs: num(r, 'alertCooldownSeconds', path, 300, 0, 86_400) * 1000,
    revokeCheckMs: num(r, 'revokeCheckMs', path, 1000, 50, 600_000, true),
    answerWithinMs: num(r, 'answerWithinMs', path, 10_000, 100, 600_000, true),
  };
}
