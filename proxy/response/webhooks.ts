// Alerts to a generic JSON webhook and to Slack-compatible incoming webhooks,
// with retries and exponential backoff. Alert content is built only from
// non-secret fields by the responder; a webhook's own shared secret (a header
// value) is read from its file at send time and wiped after.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { request } from 'undici';
import { GuardError } from '../common/errors.js';
import { counter } from '../common/metrics.js';
import { readPrivateFile } from '../common/fsutil.js';
import type { WebhookConfig } from './config.js';

/** Longest webhook secret file read. */
const MAX_SECRET_FILE_BYTES = 4096;

export type Severity = 'CRITICAL' | 'WARNING' | 'INFO';

export interface Alert {
  readonly event:
    | 'lockdown'
    | 'damage_assessment'
    | 'risk_alert'
    | 'approval_requested'
    | 'approval_refused'
    | 'unlock'
    | 'late_order'
    | 'recovery_plan'
    | 'real_key_presented';
  readonly severity: Severity;
  /** Who should act: the bot's owner and/or the administrators. */
  readonly audience: readonly ('owner' | 'admin')[];
  readonly title: string;
  readonly incidentId?: string;
  readonly botIds?: readonly string[];
  /** Plain lines for humans (Slack text, email bridges). */
  readonly lines: readonly string[];
  /** Structured, non-secret details for machines. */
  readonly details?: Record<string, unknown>;
}

export interface DeliveryResult {
  readonly url: string;
  readonly kind: 'json' | 'slack';
  readonly ok: boolean;
  readonly attempts: number;
  readonly status?: number;
  readonly error?: string;
}

export interface WebhookNotifier {
  notify(alert: Alert): Promise<DeliveryResult[]>;
}

/**
 * Slack's three control characters as entities, in text Slack reads as mrkdwn: a held call's fields come from the
 * bot and a refusal's reason from an approver, and `<!channel>` or `<https://…|approve here>` in them must reach the
 * channel as text, not as a mention or a link inside a trusted alert.
 */
export const slackEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function slackPayload(alert: Alert): Record<string, unknown> {
  const icon = alert.severity === 'CRITICAL' ? ':rotating_light:' : alert.severity === 'WARNING' ? ':warning:' : ':information_source:';
  const text = `${icon} [${alert.severity}] ${slackEscape(alert.title)}`;
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `[${alert.severity}] ${alert.title}`.slice(0, 150) } },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text:
            alert.lines
              .map((l) => `• ${slackEscape(l)}`)
              .join('\n')
              .slice(0, 2900) || '-',
        },
      },
      ...(alert.incidentId ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: `incident \`${alert.incidentId}\` · kiwoom-guard` }] }] : []),
    ],
  };
}

export function jsonPayload(alert: Alert, now: number): Record<string, unknown> {
  return { source: 'kiwoom-guard', sentAt: new Date(now).toISOString(), ...alert };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Shows scheme, host and path only: webhook URLs often embed a token in the path (Slack), so logs get the origin. */
export function describeUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid-url';
  }
}

export function createWebhookNotifier(opts: {
  webhooks: readonly WebhookConfig[];
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}): WebhookNotifier {
  const now = opts.now ?? Date.now;
  const deliveries = counter(opts.registry, 'kguard_webhook_deliveries_total', 'Alert webhook deliveries', ['kind', 'outcome']);
  // At 0 from start, so that KiwoomGuardAlertWebhookFailing sees the first failed delivery.
  for (const kind of ['json', 'slack']) deliveries.inc({ kind, outcome: 'failed' }, 0);

  async function deliver(hook: WebhookConfig, alert: Alert): Promise<DeliveryResult> {
    const body = JSON.stringify(hook.kind === 'slack' ? slackPayload(alert) : jsonPayload(alert, now()));
    let lastStatus: number | undefined, lastError: string | undefined;
    for (let attempt = 1; attempt <= opts.attempts; attempt++) {
      let secret: Buffer | undefined;
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json;charset=UTF-8', 'user-agent': 'kiwoom-guard' };
        if (hook.secretHeader) {
          // Read as every secret file is (0600 or tighter, ours, no symlink): whoever reads a looser one forges alerts.
          secret = await readPrivateFile(hook.secretHeader.file, `webhook secret file ${hook.secretHeader.file}`, MAX_SECRET_FILE_BYTES);
          headers[hook.secretHeader.name] = secret.toString('utf8').trim();
        }
        const res = await request(hook.url, {
          method: 'POST',
          headers,
          body,
          headersTimeout: opts.timeoutMs,
          bodyTimeout: opts.timeoutMs,
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
        await res.body.dump();
        lastStatus = res.statusCode;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          deliveries.inc({ kind: hook.kind, outcome: 'ok' });
          return { url: describeUrl(hook.url), kind: hook.kind, ok: true, attempts: attempt, status: res.statusCode };
        }
        lastError = `HTTP ${res.statusCode}`;
        // 4xx other than 408/429 will not get better by retrying.
        if (res.statusCode < 500 && res.statusCode !== 408 && res.statusCode !== 429) break;
      } catch (err) {
        // The secret file refused (its mode, owner, a symlink): said as it is, and no retry makes it better.
        if (err instanceof GuardError) {
          lastError = err.message;
          break;
        }
        lastError = (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as NodeJS.ErrnoException).code ?? 'network error');
      } finally {
        secret?.fill(0);
      }
      deliveries.inc({ kind: hook.kind, outcome: 'retry' });
      if (attempt < opts.attempts) await sleep(opts.backoffMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5));
    }
    deliveries.inc({ kind: hook.kind, outcome: 'failed' });
    opts.logger.error(
      { webhook: describeUrl(hook.url), kind: hook.kind, status: lastStatus, error: lastError, event: alert.event },
      'alert webhook delivery failed',
    );
    return {
      url: describeUrl(hook.url),
      kind: hook.kind,
      ok: false,
      attempts: opts.attempts,
      ...(lastStatus !== undefined ? { status: lastStatus } : {}),
      ...(lastError ? { error: lastError } : {}),
    };
  }

  return {
    notify: (alert) => Promise.all(opts.webhooks.map((h) => deliver(h, alert))),
  };
}
