// The governor's queue choices, apart from its I/O: who is served next when
// a slot frees, and whose place goes when a key's queue is full (governor.ts).
import type { Permit } from './governor-types.js';

export interface Waiter {
  readonly botId: string;
  /** 0 lockdown, 1 cancel, 2 everything else. */
  readonly rank: number;
  readonly tag: number;
  readonly seq: number;
  readonly deadline: number;
  readonly enqueuedAt: number;
  resolve(p: Permit): void;
  reject(e: unknown): void;
  done: boolean;
  /** A look at the window found it full while this waiter waited: only then may its bound refuse it. */
  sawFull: boolean;
}

/** Highest priority first; within a priority the smallest fair-queuing tag, then arrival. */
export function nextWaiter(waiters: readonly Waiter[]): Waiter | undefined {
  let best: Waiter | undefined;
  for (const w of waiters) {
    if (!best || w.rank < best.rank || (w.rank === best.rank && (w.tag < best.tag || (w.tag === best.tag && w.seq < best.seq)))) best = w;
  }
  return best;
}

/**
 * A full queue and a newcomer of bot `botId` with priority `rank`: the waiter that gives up its place, if
 * any. A waiter of lower priority always may (the lowest first), so a lockdown's or a cancel's call is
 * never refused for new orders filling the queue; one of the same priority only when its bot holds at
 * least two places more than the newcomer's, so one bot flooding a key's queue cannot lock the key's
 * other bots out. Within those, the bot with the most places gives up its last in fair order.
 */
export function evictee(waiters: readonly Waiter[], botId: string, rank: number): Waiter | undefined {
  const held = new Map<string, number>();
  for (const w of waiters) if (!w.done) held.set(w.botId, (held.get(w.botId) ?? 0) + 1);
  const mine = held.get(botId) ?? 0;
  let victim: Waiter | undefined;
  for (const w of waiters) {
    if (w.done || w.rank < rank) continue;
    const n = held.get(w.botId)!;
    if (w.rank === rank && (w.botId === botId || n < mine + 2)) continue;
    if (!victim) {
      victim = w;
      continue;
    }
    const vn = held.get(victim.botId)!;
    if (w.rank !== victim.rank ? w.rank > victim.rank : n !== vn ? n > vn : w.tag !== victim.tag ? w.tag > victim.tag : w.seq > victim.seq) victim = w;
  }
  return victim;
}
