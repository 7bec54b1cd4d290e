// What every Redis store call goes through: one deadline for the whole call,
// latency and failure metrics per operation, and the mapping of any Redis or
// connection error to a typed GuardError (KG7001 unavailable, KG7002 refused).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { GuardError, isGuardError } from '../common/errors.js';
import type { Store } from './types.js';

/** Every Store call a metric can name: the interface's operations (not its local checks), and the generation check. */
export type OpName = Exclude<keyof Store, 'kind' | 'flushDetected' | 'confirmFlush' | 'close'> | 'generation';

/** Runs one store call under the deadline, timed and counted as `name`. */
export type RunOp = <T>(name: OpName, fn: () => Promise<T>) => Promise<T>;

const OP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Shared by every store on one registry (tests and replicas in one process create several). */
export function stateMetrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    errors: get(
      'kguard_state_errors_total',
      () =>
        new Counter({
          name: 'kguard_state_errors_total',
          help: 'Shared state operations that failed (fail closed), by operation',
          labelNames: ['op'],
          registers: [registry],
        }),
    ),
    seconds: get(
      'kguard_state_op_seconds',
      () =>
        new Histogram({
          name: 'kguard_state_op_seconds',
          help: 'Shared state operation latency, by operation',
          labelNames: ['op'],
          buckets: OP_BUCKETS,
          registers: [registry],
        }),
    ),
    up: get(
      'kguard_state_up',
      () =>
        new Gauge({
          name: 'kguard_state_up',
          help: '1 while the Redis state connection is ready',
          registers: [registry],
        }),
    ),
    flush: get(
      'kguard_state_flush_detected',
      () =>
        new Gauge({
          name: 'kguard_state_flush_detected',
          help: '1 while a Redis flush/empty restart awaits operator confirmation',
          registers: [registry],
        }),
    ),
  };
}

export type StateMetrics = ReturnType<typeof stateMetrics>;

export function classify(err: unknown): GuardError {
  if (isGuardError(err)) return err;
  const msg = err instanceof Error ? err.message : '';
  if (/^(WRONGTYPE|KGUARD_INVALID|ERR value is not an integer|ERR increment or decrement would overflow)/.test(msg)) {
    // A script's own refusal ('KGUARD_INVALID <detail>') keeps its detail.
    const detail = msg.startsWith('WRONGTYPE')
      ? 'WRONGTYPE: key holds another kind of value'
      : (/^KGUARD_INVALID [^\n]+/.exec(msg)?.[0].slice('KGUARD_INVALID '.length) ?? 'value is not an integer');
    return new GuardError('KG7002', detail, { cause: err });
  }
  if (/CROSSSLOT/.test(msg)) return new GuardError('KG7002', 'keys of one call are in different cluster slots', { cause: err });
  return new GuardError('KG7001', /timed out|timeout/i.test(msg) ? 'timeout' : 'unavailable', { cause: err });
}

export function opRunner(m: StateMetrics, commandTimeout: number, isClosed: () => boolean): RunOp {
  return async function op<T>(name: OpName, fn: () => Promise<T>): Promise<T> {
    if (isClosed()) throw new GuardError('KG7001', 'store closed');
    const end = m.seconds.startTimer({ op: name });
    let timer: NodeJS.Timeout | undefined;
    try {
      // ioredis enforces commandTimeout per command; this bounds the whole op
      // (scripts loading, cluster redirections) by the same deadline.
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GuardError('KG7001', 'timeout')), commandTimeout);
      });
      const result = await Promise.race([fn(), deadline]);
      end();
      return result;
    } catch (err) {
      m.errors.inc({ op: name });
      throw classify(err);
    } finally {
      clearTimeout(timer);
    }
  };
}
