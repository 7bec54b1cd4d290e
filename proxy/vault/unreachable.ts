// A key provider that did not answer (network, time-out, throttling, a 5xx) as
// opposed to one that answered no (access denied, no such key, a bad PIN). The
// first may come back on its own, so start-up waits for it unready instead of
// exiting into a crash loop; the second needs an operator and stops the start.
import type { GuardError } from '../common/errors.js';

const unreachable = new WeakSet<object>();

/** Marks a provider error as "did not answer". */
export function providerUnreachable(err: GuardError): GuardError {
  unreachable.add(err);
  return err;
}

export function isProviderUnreachable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && unreachable.has(err);
}
