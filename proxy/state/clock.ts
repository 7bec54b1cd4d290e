// How far this replica's clock is from the shared store's (Redis TIME). Replicas compare times that another replica
// wrote: a session token's expiry is judged by whichever replica the bot's next call reaches, a held call's approval
// deadline by whichever replica reads it, and the risk engine measures the gap from a bot's previous call stamped
// elsewhere (leases and rate windows run on Redis' own clock and are not affected). NTP keeps nodes within
// milliseconds; a node whose clock drifted by seconds lets tokens live longer or die sooner and bends those gaps, with
// nothing failing. Its readiness check warns (the replica still serves: a clock does not make calls unsafe to
// forward, only some judgements less exact) and the gauge alerts.
import { Gauge, type Registry } from 'prom-client';
import type { ReadinessCheck } from '../common/admin-route.js';
import type { Language } from '../common/errors.js';
import type { Store } from './types.js';

export interface ClockCheckOptions {
  readonly registry: Registry;
  /** Beyond this (after the round trip's uncertainty), /readyz warns; 0: never (the gauge still reads). */
  readonly maxSkewMs: number;
  /** A reading is reused this long: /readyz probes and metrics scrapes share it (one TIME per period). */
  readonly checkEveryMs: number;
  readonly language: Language;
  /** This replica's clock (tests move it). */
  readonly now?: () => number;
}

export interface ClockReading {
  /** This replica's clock minus the store's, at the midpoint of the round trip (positive: this replica is ahead). */
  readonly skewMs: number;
  /** Half the round trip: the store's answer was read somewhere within ± this of the midpoint. */
  readonly uncertaintyMs: number;
}

const GAUGE = 'kguard_clock_skew_seconds';

/**
 * One reading of this replica's clock against the store's, from the midpoint of the round trip; undefined when the
 * store has no clock of its own or does not answer.
 */
export async function readClock(store: Store, now: () => number = Date.now): Promise<ClockReading | undefined> {
  if (!store.time) return undefined;
  const before = now();
  const backend = await store.time().catch(() => undefined);
  if (backend === undefined) return undefined;
  const after = now();
  return { skewMs: (before + after) / 2 - backend, uncertaintyMs: (after - before) / 2 };
}

/**
 * The readiness check (and the kguard_clock_skew_seconds gauge) for a store with a clock of its own; undefined for
 * one without (memory: this process is the only clock). A reading that fails (Redis down) is no reading: the state
 * check already says so, and the gauge reads NaN (unknown, never a reassuring 0) until one succeeds.
 */
export function clockSkewCheck(store: Store, opts: ClockCheckOptions): ReadinessCheck | undefined {
  if (!store.time) return undefined;
  const now = opts.now ?? Date.now;
  let latest: { at: number; reading: Promise<ClockReading | undefined> } | undefined;

  async function measure(): Promise<ClockReading | undefined> {
    const reading = await readClock(store, now);
    gauge.set(reading ? reading.skewMs / 1000 : Number.NaN);
    return reading;
  }
  // Timed on the monotonic clock: a stepped wall clock (the very fault measured) must not stall or spin the reuse.
  const read = (): Promise<ClockReading | undefined> => {
    const at = performance.now();
    if (!latest || at - latest.at >= opts.checkEveryMs) latest = { at, reading: measure() };
    return latest.reading;
  };

  const gauge =
    (opts.registry.getSingleMetric(GAUGE) as Gauge | undefined) ??
    new Gauge({
      name: GAUGE,
      help: "This replica's clock minus the shared store's (Redis TIME), at the midpoint of the round trip; replicas compare times each other wrote (token expiries, deadlines, call gaps)",
      registers: [opts.registry],
      // A scrape reports the latest reading and starts the next when it is due, never waiting on Redis: /metrics
      // must answer while Redis is slow (the next scrape shows the new reading).
      collect() {
        void read();
      },
    });
  gauge.set(Number.NaN); // no reading yet

  return {
    name: 'clock',
    severity: 'warn',
    check: async () => {
      const r = await read();
      if (!r || opts.maxSkewMs === 0 || Math.abs(r.skewMs) - r.uncertaintyMs <= opts.maxSkewMs) return;
      throw new Error(skewWarning(r, opts.maxSkewMs, opts.language));
    },
  };
}

function skewWarning(r: ClockReading, maxSkewMs: number, lang: Language): string {
  const s = (Math.abs(r.skewMs) / 1000).toFixed(2);
  const pm = Math.ceil(r.uncertaintyMs);
  if (lang === 'en') {
    const side = r.skewMs > 0 ? 'ahead of' : 'behind';
    return `this replica's clock is ${s} s ${side} Redis' (± ${pm} ms), more than state.redis.maxClockSkewMs (${maxSkewMs}): token expiries, deadlines and call gaps written by other replicas are misjudged here; synchronise the node's clock (NTP, chrony)`;
  }
  const side = r.skewMs > 0 ? '빠릅니다' : '느립니다';
  return `이 복제본의 시계가 Redis보다 ${s}초 ${side} (± ${pm} ms), state.redis.maxClockSkewMs(${maxSkewMs})를 넘습니다: 다른 복제본이 기록한 토큰 만료, 기한, 호출 간격을 여기서 잘못 판단합니다. 노드의 시계를 동기화하십시오 (NTP, chrony)`;
}
