// One log line per outage, not one per attempt. A dependency that is down
// (Redis, a sweep that needs it, ...) fails on every retry or call; logging
// each failure floods the log pipeline during a long outage while the metric
// and /readyz already tell the state. The first failure after a success is
// logged, then at most one reminder every reminderMs with the count, and the
// recovery once with how long it lasted.
import type { Logger } from 'pino';

/** Default of log.outageReminderMs: a still-down dependency is mentioned again at most this often. */
export const OUTAGE_REMINDER_DEFAULT_MS = 300_000;

export interface OutageLogOptions {
  logger: Logger;
  /** Logged (with the failure's fields) at the first failure after a success. */
  lost: string;
  /** Logged at most every reminderMs while failures go on, with downForMs and failures. */
  still: string;
  /** Logged once at the first success after failures, with downForMs and failures. */
  back: string;
  level?: 'warn' | 'error';
  /** Default OUTAGE_REMINDER_DEFAULT_MS (log.outageReminderMs, passed as configured or undefined). */
  reminderMs?: number | undefined;
  now?: () => number;
}

export interface OutageLog {
  /** One more failure: logged only when it starts an outage, or as the periodic reminder. */
  failed(fields?: Record<string, unknown>): void;
  /** A success: ends the outage (logged once), if there was one. */
  ok(fields?: Record<string, unknown>): void;
  /** Starts an outage without a failure to log yet (e.g. unavailable at start, already logged by the caller). */
  begin(): void;
  isDown(): boolean;
}

export function outageLog(opts: OutageLogOptions): OutageLog {
  const now = opts.now ?? Date.now;
  const reminderMs = opts.reminderMs ?? OUTAGE_REMINDER_DEFAULT_MS;
  const level = opts.level ?? 'warn';
  let downSince: number | undefined;
  let lastLogAt = 0;
  let failures = 0;
  return {
    failed(fields = {}) {
      const t = now();
      failures++;
      if (downSince === undefined) {
        downSince = t;
        lastLogAt = t;
        opts.logger[level](fields, opts.lost);
      } else if (t - lastLogAt >= reminderMs) {
        lastLogAt = t;
        opts.logger[level]({ ...fields, downForMs: t - downSince, failures }, opts.still);
      }
    },
    ok(fields = {}) {
      if (downSince === undefined) return;
      opts.logger.info({ ...fields, downForMs: now() - downSince, failures }, opts.back);
      downSince = undefined;
      failures = 0;
    },
    begin() {
      if (downSince !== undefined) return;
      downSince = now();
      lastLogAt = downSince;
    },
    isDown: () => downSince !== undefined,
  };
}

/** One outage log per key (an app key, an error code), made on first use with the same lines and reminder. */
export interface OutageLogs {
  of(key: string): OutageLog;
  /** Drops a key's log (its outage ended and the key may never fail again): the map stays as small as what is down. */
  forget(key: string): void;
  all(): Iterable<OutageLog>;
}

export function outageLogs(opts: OutageLogOptions): OutageLogs {
  const logs = new Map<string, OutageLog>();
  return {
    of(key) {
      let log = logs.get(key);
      if (!log) {
        log = outageLog(opts);
        logs.set(key, log);
      }
      return log;
    },
    forget: (key) => void logs.delete(key),
    all: () => logs.values(),
  };
}
