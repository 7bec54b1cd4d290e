// The realtime sessions logged in (or logging in) on this replica, so that a
// session kill or a disable published on any replica (Sessions.onEnded) ends
// them at once, and a lockdown heard here too (they are tracked with the
// bot's calls, bot-calls.ts). The periodic re-check stays the backstop. A
// bot holds at most realtime.maxSessionsPerBot of them: its sockets share the
// bot port's connection cap with every other bot's calls.
import type { Logger } from 'pino';
import { GuardError, toGuardError } from '../common/errors.js';
import type { BotRecord, SessionClaims, Sessions } from '../auth/index.js';
import type { BotCalls } from './bot-calls.js';

export interface Tracked {
  /** The token the session runs under (a fresh one given in a later LOGIN replaces it). */
  claims: SessionClaims;
  end: (reason: GuardError) => void;
}

export interface LiveSessions {
  /** Throws KG3018 when the bot already has `max` sessions here (logged in or logging in). */
  track(claims: SessionClaims, bot: BotRecord, end: (reason: GuardError) => void, max: number): { entry: Tracked; untrack: () => void };
  close(): Promise<void>;
}

export function liveSessions(deps: { enabled: boolean; sessions: Pick<Sessions, 'onEnded'>; calls?: Pick<BotCalls, 'track'>; logger: Logger }): LiveSessions {
  const live = new Set<Tracked>();
  const subscription = deps.enabled
    ? deps.sessions
        .onEnded((e) => {
          // In the message's own turn: a push relayed after it on the same subscriber connection finds the socket closed.
          for (const s of [...live]) if (s.claims.botId === e.botId && s.claims.epoch < e.epoch) s.end(new GuardError(e.code));
        })
        .catch((err) => {
          deps.logger.error({ code: toGuardError(err).code }, 'sessions ended elsewhere reach realtime sessions here only at their next re-check');
          return undefined;
        })
    : undefined;
  return {
    track(claims, bot, end, max) {
      let held = 0;
      for (const s of live) if (s.claims.botId === claims.botId) held++;
      if (held >= max) throw new GuardError('KG3018', `at most ${max} realtime sessions for this bot on this replica`);
      const entry: Tracked = { claims, end };
      live.add(entry);
      const untrackCall = deps.calls?.track(bot, end);
      return {
        entry,
        untrack: () => {
          live.delete(entry);
          untrackCall?.();
        },
      };
    },
    async close() {
      await (await subscription)?.().catch(() => undefined);
    },
  };
}

/** Why a session ended, for the close metric and the SYSTEM code (KG-<REASON>): a store that could not answer is no revocation. */
export function reasonOf(err: unknown): string {
  const code = toGuardError(err).code;
  if (code === 'KG3008' || code === 'KG7003') return 'lockdown';
  if (code === 'KG2006') return 'disabled';
  if (code === 'KG2003') return 'expired';
  if (code === 'KG7001') return 'unavailable';
  return 'revoked';
}

/**
 * A session whose token has expired carries on under the bot's latest token from the socket's own address (the bot
 * logged in again over REST: it holds its secret), as a LOGIN on the socket with that token would; else KG2003.
 */
export async function carriedOn(sessions: Pick<Sessions, 'latestIssued'>, claims: SessionClaims, source: string): Promise<SessionClaims> {
  const next = await sessions.latestIssued(claims.botId, source);
  if (!next || next.exp <= claims.exp || next.botCreatedAt !== claims.botCreatedAt) throw new GuardError('KG2003');
  return next;
}
