// The operator side of the sidecar, split from sidecar.ts so startSidecar
// stays a readable list of wiring steps: the readiness checks behind /readyz
// and the kguard_ready gauge, and the admin server with every part's routes.
// startSidecar still listens and pushes the closer, so the order stays there.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { GuardError } from '../common/errors.js';
import type { Config } from '../common/config.js';
import { configDigest } from '../common/config-digest.js';
import { createAdminServer, type AdminServerOptions } from '../admin/server.js';
import { AdminTokens } from '../admin/tokens.js';
import { checksHost, hostCheck } from '../admin/host-check.js';
import { postureRoutes } from '../admin/posture-routes.js';
import { loadPolicyFile, parsePolicyConfig } from '../policy/index.js';
import { parseRiskConfig } from '../risk/index.js';
import { type CalendarCoverage, calendarCoverage, calendarWarning } from '../common/market-calendar.js';
import type { ReadinessCheck, ReadinessReport } from '../admin/health.js';
import { Degraded } from '../common/admin-route.js';
import { clockSkewCheck, parseStateConfig, stateRoutes, stateFlushReadiness } from '../state/index.js';
import { approvalRoutes } from '../approval/index.js';
import { parseResponseConfig, responseRoutes } from '../response/index.js';
import { parseVaultConfig } from '../vault/index.js';
import { coreAdminRoutes } from './admin-routes.js';
import type { SidecarParts } from './sidecar.js';

/** Memoises a health probe's outcome for ttlMs so frequent /readyz polls do not hammer a remote service. */
function cachedCheck(probe: () => Promise<void>, ttlMs: number): () => Promise<void> {
  let last: { at: number; result: Promise<void> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > ttlMs) last = { at: Date.now(), result: probe() };
    return last.result;
  };
}

/**
 * Redis down with readOnlyQueriesWhenDown: allow: degraded, not unready, or Kubernetes would take every replica out of
 * the Service and the opt-in would serve nothing. Orders and cancels are refused all the same (KG7001).
 */
function stateReadiness(store: SidecarParts['store'], degradedWhenDown?: () => boolean): ReadinessCheck {
  return {
    name: 'state',
    check: async () => {
      try {
        await store.health();
      } catch (err) {
        if (!degradedWhenDown?.()) throw err;
        const code = err instanceof GuardError ? `${err.code}${err.detail ? `: ${err.detail}` : ''}` : 'KG7001';
        throw new Degraded(
          `${code}; degraded: read-only queries served on this replica's last-read state (readOnlyQueriesWhenDown: allow), orders and cancels refused`,
        );
      }
    },
  };
}

/** On Redis, this replica's clock against Redis' (proxy/state/clock.ts): none on memory state, the only clock. */
function clockReadiness(parts: Pick<SidecarParts, 'store' | 'registry' | 'config'>): ReadinessCheck[] {
  const { redis } = parseStateConfig(parts.config.state);
  const opts = { registry: parts.registry, maxSkewMs: redis.maxClockSkewMs, checkEveryMs: redis.clockCheckMs, language: parts.config.language };
  const check = clockSkewCheck(parts.store, opts);
  return check ? [check] : [];
}

/**
 * The holiday lists in force and how far each reaches (proxy/common/market-calendar.ts): the policy's, and
 * risk.holidays and response.compensation.holidays when configured. Judged on each call, so a list runs short as
 * the days pass, not only at a reload.
 */
export function calendarsOf(parts: Pick<SidecarParts, 'policy' | 'config'>, now: () => number = Date.now): () => CalendarCoverage[] {
  const warnDays = parsePolicyConfig(parts.config.policy, process.cwd()).calendarWarnDays;
  const riskHolidays = parseRiskConfig(parts.config.risk).holidays;
  const compensationHolidays = parseResponseConfig(parts.config.response).compensation.holidays;
  return () =>
    [
      parts.policy.calendar(now()),
      calendarCoverage('risk', riskHolidays, now(), warnDays),
      calendarCoverage('compensation', compensationHolidays, now(), warnDays),
    ].filter((c): c is CalendarCoverage => c !== undefined);
}

export function readinessChecks(
  parts: SidecarParts,
  isShuttingDown: () => boolean,
  degradedWhenDown?: () => boolean,
  calendars: () => CalendarCoverage[] = calendarsOf(parts),
): ReadinessCheck[] {
  const { policy, auditor, vault, store, upstream } = parts;
  return [
    { name: 'policy', check: () => policy.health() },
    {
      name: 'policy-reload',
      severity: 'warn',
      check: () => {
        const e = policy.lastError();
        if (e) throw new Error(`last edit rejected, ${policy.current() ? 'previous policy in force' : 'no policy in force: every call refused'}: ${e.message}`);
      },
    },
    {
      // A holiday list about to run out: the replica serves on (today's calendar is right), and says so.
      name: 'calendar',
      severity: 'warn',
      check: () => {
        const short = calendars().filter((c) => c.short);
        if (short.length > 0) throw new Error(short.map((c) => calendarWarning(c, parts.config.language)).join('; '));
      },
    },
    { name: 'audit', check: () => auditor.health() },
    // A KMS health probe costs quota: probe at most every vault.healthProbeMs (10 s).
    { name: 'vault', check: cachedCheck(() => vault.health(), parseVaultConfig(parts.config.vault, parts.config.dataDir).healthProbeMs) },
    stateReadiness(store, degradedWhenDown),
    ...clockReadiness(parts),
    {
      // Kiwoom binds a token to the address that issued it: replicas sharing a key must leave through one egress address.
      name: 'egress',
      severity: 'warn',
      check: () => {
        const at = upstream.boundRefusalAt();
        if (at && Date.now() - at < 600_000) throw new GuardError('KG5007', `last seen ${new Date(at).toISOString()}`);
      },
    },
    {
      // Kiwoom down: every call is answered KG5001/KG5002 in Kiwoom's shape by every replica; taking the pods out of
      // the Service would not help, but /readyz says it rather than all green.
      name: 'upstream',
      severity: 'warn',
      check: () => {
        const down = parts.kiwoom.unreachable?.();
        if (down) {
          const why = `${down.detail ? `${down.detail}; ` : ''}no answer since ${new Date(down.since).toISOString()}, ${down.failures} requests failed`;
          throw new GuardError(down.code, why);
        }
      },
    },
    stateFlushReadiness(store),
    {
      name: 'shutdown',
      check: () => {
        if (isShuttingDown()) throw new GuardError('KG9002');
      },
    },
  ];
}

/** The admin listener (not yet listening): metrics, readiness and every part's admin routes. */
export function createSidecarAdmin(
  parts: SidecarParts,
  readiness: ReadinessCheck[],
  createServer?: AdminServerOptions['createServer'],
  calendars: () => CalendarCoverage[] = calendarsOf(parts),
): Server {
  const { config, registry, logger, store, auditor } = parts;
  return createAdminServer({
    registry,
    logger,
    language: config.language,
    readiness,
    tokens: AdminTokens.forDataDir(config.dataDir),
    routes: [
      ...coreAdminRoutes(parts),
      ...approvalRoutes(parts.approvals),
      ...responseRoutes(parts.responder),
      ...stateRoutes(store, (f) => auditor.append({ type: 'admin', ...f })),
      ...postureRoutes({ ...parts, loadPolicy: (file) => loadPolicyFile(file), calendars }),
    ],
    maxBodyBytes: config.limits.maxBodyBytes,
    authFailures: config.admin.authFailures,
    ...(checksHost(config.admin.host, config.admin.allowedHosts) ? { checkHost: hostCheck(config.admin.allowedHosts) } : {}),
    // Refused credentials are fingerprinted with the audit key: the same guess matches across replicas and audit records.
    fingerprintKey: auditor.fingerprintKey,
    ...(createServer ? { createServer } : {}),
  });
}

/**
 * kguard_ready: 1 when every readiness check passes, judged at scrape time; kguard_config_info: 1 with the digest of
 * the configuration this replica runs (replicas of one deployment showing two digests for long have diverged).
 */
export function registerStatusGauges(registry: Registry, readiness: ReadinessCheck[], config: Config, calendars?: () => CalendarCoverage[]): void {
  // One readiness run per scrape serves both gauges (the second collect reuses the first's, started in the same scrape).
  let run: Promise<ReadinessReport> | undefined;
  const report = (): Promise<ReadinessReport> => {
    run ??= import('../admin/health.js').then(({ runReadiness }) => runReadiness(readiness)).finally(() => setImmediate(() => (run = undefined)));
    return run;
  };
  new Gauge({
    name: 'kguard_ready',
    help: '1 when every readiness check passes',
    registers: [registry],
    async collect() {
      this.set((await report()).ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kguard_serving',
    help: '1 when this replica forwards bot calls: ready, and no warning refuses every call (an unconfirmed Redis flush: KG7003)',
    registers: [registry],
    async collect() {
      this.set((await report()).serving ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kguard_config_info',
    help: 'The configuration this replica runs: 1 with its digest (sha256 prefix of the effective config, file path aside)',
    labelNames: ['digest'],
    registers: [registry],
  }).set({ digest: configDigest(config) }, 1);
  if (!calendars) return;
  new Gauge({
    name: 'kguard_calendar_days_left',
    help: 'Days from today (Seoul) to the end of each holiday list (calendar: policy = calendar.holidays, risk = risk.holidays, compensation = response.compensation.holidays); negative once run out',
    labelNames: ['calendar'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of calendars()) this.set({ calendar: c.calendar }, c.daysLeft);
    },
  });
  new Gauge({
    name: 'kguard_calendar_short',
    help: 'Each holiday list: 1 when it reaches fewer than policy.calendarWarnDays days ahead (KRX holidays past its end would be trading days; compensation: business days)',
    labelNames: ['calendar'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of calendars()) this.set({ calendar: c.calendar }, c.short ? 1 : 0);
    },
  });
}

/**
 * The start-up line: "ready" only when /readyz says so; otherwise a warning naming the checks that fail, as a pod
 * started during a Redis outage is out of the Service and refuses every call (a "ready" line misled log readers).
 */
export async function logStarted(logger: Logger, readiness: readonly ReadinessCheck[], fields: Record<string, unknown>): Promise<void> {
  const { runReadiness } = await import('../admin/health.js');
  const report = await runReadiness(readiness);
  if (report.ready) {
    logger.info(fields, 'kiwoom-guard ready');
    return;
  }
  const failing = Object.entries(report.checks).filter(([, c]) => !c.ok && c.severity !== 'warn');
  logger.warn(
    { ...fields, notReady: failing.map(([name, c]) => `${name}: ${c.reason ?? 'failed'}`) },
    'kiwoom-guard started, not ready: /readyz answers 503 until these checks pass',
  );
}
