import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

/** Returns the metric already on this registry (a second engine on one registry shares it) or creates it. */
export function histogram(registry: Registry, name: string, help: string, buckets: number[], labelNames: string[] = []): Histogram<string> {
  return (registry.getSingleMetric(name) as Histogram<string> | undefined) ?? new Histogram({ name, help, buckets, labelNames, registers: [registry] });
}

export function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  return (registry.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []): Gauge<string> {
  return (registry.getSingleMetric(name) as Gauge<string> | undefined) ?? new Gauge({ name, help, labelNames, registers: [registry] });
}

/**
 * prom-client's process and Node.js metrics under the project's one prefix.
 * Their own names already start with `process_` or `nodejs_`, so the prefix
 * is `kguard_` alone: kguard_process_cpu_seconds_total,
 * kguard_process_resident_memory_bytes, kguard_nodejs_eventloop_lag_p99_seconds.
 */
export const PROCESS_METRICS_PREFIX = 'kguard_';

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: PROCESS_METRICS_PREFIX });
}
