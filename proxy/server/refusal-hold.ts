// Refusals that say when to come back (retry-after: the policy's rate limit, the governor, a login cool-down)
// are answered no sooner than that moment, at most limits.refusalHoldMs after they were decided. A bot
// retrying without back-off then makes one call per connection per hold instead of spinning the one event
// loop every other tenant of this replica shares; a well-behaved bot would have waited that long anyway.
// Bounded: limits.refusalHoldPerBot held per bot (or per source address before the bot is known) and
// limits.maxConnections in all; past either, the refusal is answered at once and its connection closed.
// A bot that hangs up frees its place; shutdown answers every held refusal at once.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { GuardError } from '../common/errors.js';

export interface RefusalHoldLimits {
  /** Longest a refusal is held (0: answered at once, the hold is off). */
  maxMs: number;
  /** Refusals held at once for one bot (or one source address). */
  perBot: number;
  /** Refusals held at once in all. */
  total: number;
}

export type HoldResult = 'answered' | 'capped';

/** The held answer's connection (an HTTP response, or a WebSocket's socket): a hang-up ends the hold. */
export interface HeldConnection {
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

export interface RefusalHold {
  /** How long this refusal should be held: its retry-after, capped by maxMs; 0 for any other refusal. */
  delayFor(err: GuardError): number;
  /** Waits ms (less if the bot hangs up or shutdown releases it); 'capped' when over a cap: answer now and close. */
  hold(who: string, ms: number, res: HeldConnection): Promise<HoldResult>;
  /** Shutdown: answer every held refusal now and hold no more. */
  releaseAll(): void;
}

function retryAfterMs(err: GuardError): number | undefined {
  if (err.retryAfterMs !== undefined) return err.retryAfterMs;
  const seconds = Number(err.headers?.['retry-after']);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

export function createRefusalHold(limits: RefusalHoldLimits, registry: Registry): RefusalHold {
  const registers = [registry];
  const heldNow = new Gauge({ name: 'kguard_refusals_held', help: 'Refusals being held until their retry-after (limits.refusalHoldMs)', registers });
  const holds = new Counter({
    name: 'kguard_refusal_holds_total',
    help: 'Refusals with a retry-after: held (held), or answered at once with the connection closed (bot_cap, total_cap)',
    labelNames: ['result'],
    registers,
  });
  const heldCount = holds.labels('held');
  const botCapped = holds.labels('bot_cap');
  const totalCapped = holds.labels('total_cap');
  const perWho = new Map<string, number>();
  const waiting = new Set<() => void>();
  let closed = false;

  return {
    delayFor(err) {
      if (limits.maxMs === 0) return 0;
      const ms = retryAfterMs(err);
      return ms === undefined ? 0 : Math.min(Math.ceil(ms), limits.maxMs);
    },
    async hold(who, ms, res) {
      if (closed || ms <= 0 || res.destroyed) return 'answered';
      const mine = perWho.get(who) ?? 0;
      if (mine >= limits.perBot) {
        botCapped.inc();
        return 'capped';
      }
      if (waiting.size >= limits.total) {
        totalCapped.inc();
        return 'capped';
      }
      perWho.set(who, mine + 1);
      heldNow.inc();
      heldCount.inc();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          res.off('close', done);
          waiting.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        res.once('close', done);
        waiting.add(done);
      });
      heldNow.dec();
      const left = (perWho.get(who) ?? 1) - 1;
      if (left === 0) perWho.delete(who);
      else perWho.set(who, left);
      return 'answered';
    },
    releaseAll() {
      closed = true;
      for (const done of [...waiting]) done();
    },
  };
}
