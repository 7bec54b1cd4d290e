import { Counter, Histogram, type Registry } from 'prom-client';

/** Returns the metric already on this registry (a second engine on one registry shares it) or creates it. */
export function histogram(registry: Registry, name: string, help: string, buckets: number[], labelNames: string[] = []): Histogram<string> {
  return (registry.getSingleMetric(name) as Histogram<string> | undefined) ?? new Histogram({ name, help, buckets, labelNames, registers: [registry] });
}

export function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  return (registry.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}
