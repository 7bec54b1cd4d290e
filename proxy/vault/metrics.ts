// Metrics are registered on the registry the caller passes in. Two parts (or
// two vaults in one test) may ask for the same metric; reuse it instead of
// letting prom-client throw on a duplicate name.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

type LabelNames<T extends string> = readonly T[];

export function counter<T extends string>(registry: Registry, name: string, help: string, labelNames: LabelNames<T>): Counter<T> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<T>;
  return new Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export function gauge<T extends string>(registry: Registry, name: string, help: string, labelNames: LabelNames<T>): Gauge<T> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<T>;
  return new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export function histogram<T extends string>(registry: Registry, name: string, help: string, labelNames: LabelNames<T>, buckets: number[]): Histogram<T> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<T>;
  return new Histogram({ name, help, labelNames: [...labelNames], buckets, registers: [registry] });
}

/** Seconds; key unwraps range from microseconds (local) to a slow KMS round trip. */
export const UNWRAP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
