// The leaf certificate transparent mode serves, kept in memory only: issued
// from the local CA at start, renewed renewBeforeMs before it expires (or on
// demand), and handed out as a SecureContext. A renewal replaces the context
// for new handshakes (and calls the listeners, e.g. a name-override server's
// setSecureContext); connections already open keep theirs, so no call drops.
// A renewal that fails keeps the current leaf, is logged and counted, and is
// retried soon.
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter, gauge } from '../../common/metrics.js';
import { issueLeaf, type LocalCa } from './ca.js';

export interface LeafOptions {
  ca: LocalCa;
  names: readonly string[];
  lifetimeMs: number;
  renewBeforeMs: number;
  logger: Logger;
  registry: Registry;
  /** A failed renewal is tried again after this long. */
  retryMs?: number;
}

export interface LeafInfo {
  readonly serialNumber: string;
  readonly notAfter: Date;
  readonly names: readonly string[];
}

export interface LeafManager {
  /** The context for a new handshake. */
  context(): SecureContext;
  /** The certificate chain and key options, for a server's setSecureContext. */
  options(): { cert: string; key: Buffer; minVersion: 'TLSv1.2' };
  info(): LeafInfo;
  /** Issues a new leaf now; new handshakes use it. */
  renew(): Promise<LeafInfo>;
  onRenew(fn: () => void): void;
  close(): void;
}

export async function createLeafManager(opts: LeafOptions): Promise<LeafManager> {
  const { logger } = opts;
  const renewals = counter(opts.registry, 'kguard_transparent_leaf_renewals_total', 'Transparent-mode leaf certificate renewals, by result (ok | failed)', [
    'result',
  ]);
  const expiry = gauge(opts.registry, 'kguard_transparent_leaf_expiry_timestamp_seconds', 'notAfter of the transparent-mode leaf certificate (Unix seconds)');
  const listeners: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let current: { ctx: SecureContext; cert: string; key: Buffer; info: LeafInfo };
  let running: Promise<LeafInfo> | undefined;

  async function build(): Promise<typeof current> {
    const leaf = await issueLeaf(opts.ca, opts.names, opts.lifetimeMs);
    const ctx = createSecureContext({ cert: leaf.certPem, key: leaf.key, minVersion: 'TLSv1.2' });
    return { ctx, cert: leaf.certPem, key: leaf.key, info: { serialNumber: leaf.serialNumber, notAfter: leaf.notAfter, names: leaf.names } };
  }

  function schedule(delayMs: number): void {
    clearTimeout(timer);
    if (closed) return;
    // setTimeout holds at most ~24.8 days; a longer wait is taken in steps.
    timer = setTimeout(() => void renew().catch(() => undefined), Math.max(0, Math.min(delayMs, 2 ** 31 - 1)));
    timer.unref();
  }

  function scheduleFromInfo(): void {
    schedule(current.info.notAfter.getTime() - opts.renewBeforeMs - Date.now());
  }

  function renew(): Promise<LeafInfo> {
    running ??= (async () => {
      try {
        const next = await build();
        const old = current;
        current = next;
        old.key.fill(0);
        renewals.inc({ result: 'ok' });
        expiry.set(Math.floor(next.info.notAfter.getTime() / 1000));
        for (const fn of listeners) fn();
        logger.info({ serialNumber: next.info.serialNumber, notAfter: next.info.notAfter.toISOString() }, 'transparent-mode leaf certificate renewed');
        scheduleFromInfo();
        return next.info;
      } catch (err) {
        renewals.inc({ result: 'failed' });
        logger.error({ err: { message: (err as Error).message } }, 'transparent-mode leaf renewal failed; the current certificate stays in force');
        schedule(opts.retryMs ?? 30_000);
        throw err;
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  current = await build();
  expiry.set(Math.floor(current.info.notAfter.getTime() / 1000));
  logger.info(
    { serialNumber: current.info.serialNumber, notAfter: current.info.notAfter.toISOString(), names: opts.names },
    'transparent-mode leaf certificate issued',
  );
  scheduleFromInfo();

  return {
    context: () => current.ctx,
    options: () => ({ cert: current.cert, key: current.key, minVersion: 'TLSv1.2' }),
    info: () => current.info,
    renew,
    onRenew: (fn) => {
      listeners.push(fn);
    },
    close() {
      closed = true;
      clearTimeout(timer);
      current.key.fill(0);
    },
  };
}
