// The generation marker: a random id kept in Redis. When it changes, Redis
// came back empty (restart without persistence, FLUSHALL, failover to an
// empty replica), so counters read as "no usage" would be wrong: the store
// reports flushDetected() until an operator confirms, on any one replica.
import { randomUUID } from 'node:crypto';
import type { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import { classify } from './redis-call.js';
import type { RedisClient } from './redis-connect.js';

export interface GenerationOptions {
  client: RedisClient;
  prefix: string;
  /** TTL of the marker and of the flushed/confirmed records, refreshed on every check. */
  ttlMs: number;
  checkMs: number;
  log: Logger;
  flushGauge: Gauge;
}

export interface Generation {
  /** Pub/sub channel on which replicas tell each other that a flush was detected or confirmed. */
  readonly channel: string;
  /** The marker this store currently trusts (undefined before the first contact). */
  known(): string | undefined;
  flushDetected(): boolean;
  /** True when the marker must be re-checked before counters are trusted: at start, after a disconnect or a failed check. */
  isStale(): boolean;
  markStale(): void;
  /** Checks the marker now; concurrent callers share one check. Rejects with a GuardError. */
  ensure(): Promise<void>;
  /** The operator accepts the loss: records it for every replica and tells them. */
  confirm(): Promise<void>;
  stop(): void;
}

export function createGeneration(o: GenerationOptions): Generation {
  const { client, prefix, log } = o;
  // Channel and key share the name; Redis keeps channels apart from keys.
  const channel = `${prefix}generation`;
  const generationKey = `${prefix}generation`;
  const flushedKey = `${prefix}generation:flushed`;
  const confirmedKey = `${prefix}generation:confirmed`;
  let knownGeneration: string | undefined;
  let localFlush = false;
  let flushFlag = false;
  let generationStale = true;
  let generationCheck: Promise<void> | undefined;

  async function checkGeneration(): Promise<void> {
    const candidate = randomUUID();
    const ttl = o.ttlMs;
    await client.set(generationKey, candidate, 'PX', ttl, 'NX');
    const current = await client.get(generationKey);
    if (current === null) throw new GuardError('KG7001', 'generation marker vanished');
    await client.pexpire(generationKey, ttl);
    if (knownGeneration !== undefined && current !== knownGeneration) {
      localFlush = true;
      // Recorded in Redis so replicas that start later see it as well.
      await client.set(flushedKey, current, 'PX', ttl);
      await client.publish(channel, 'flushed').catch(() => undefined);
      log.error('redis state was lost (restarted empty or flushed): daily counters are not trusted until an operator confirms');
    }
    knownGeneration = current;
    const [flushedGen, confirmedGen] = await Promise.all([client.get(flushedKey), client.get(confirmedKey)]);
    const unconfirmed = (localFlush || flushedGen === current) && confirmedGen !== current;
    if (!unconfirmed) localFlush = false;
    if (flushFlag && !unconfirmed) log.warn('redis state flush confirmed by an operator');
    flushFlag = unconfirmed;
    o.flushGauge.set(flushFlag ? 1 : 0);
    generationStale = false;
  }

  function ensureGeneration(): Promise<void> {
    generationCheck ??= checkGeneration()
      .catch((err: unknown) => {
        generationStale = true;
        throw classify(err);
      })
      .finally(() => {
        generationCheck = undefined;
      });
    return generationCheck;
  }

  // A flush is noticed within checkMs even when no call would re-check it.
  const generationTimer = setInterval(() => {
    if (client.status === 'ready') void ensureGeneration().catch(() => undefined);
  }, o.checkMs);
  generationTimer.unref();

  return {
    channel,
    known: () => knownGeneration,
    flushDetected: () => flushFlag,
    isStale: () => generationStale,
    markStale: () => {
      generationStale = true;
    },
    ensure: ensureGeneration,
    async confirm() {
      await ensureGeneration();
      const current = knownGeneration;
      if (current === undefined) throw new GuardError('KG7001', 'no generation marker yet');
      await client.set(confirmedKey, current, 'PX', o.ttlMs);
      await ensureGeneration();
      await client.publish(channel, 'confirmed').catch(() => undefined);
      log.warn('operator confirmed the redis state flush');
    },
    stop: () => clearInterval(generationTimer),
  };
}
