// The bots' calls in flight on this replica (and their realtime sessions:
// server/realtime.ts tracks each from its LOGIN until it closes), and what a
// lockdown does to them here. The lock flags in the shared store stop every
// call that reads them after they are set; a call already past the lockdown
// stage would only meet them again at its pre-send re-check (orders only),
// after waiting minutes for an approver, seconds for a governor slot or the
// key's broker token, and a realtime session at its next periodic re-check.
// So when a lockdown is published (on any replica: response/lockdown-channel.ts),
// each replica ends the locked bots' calls and realtime sessions at once with
// the lockdown's error, drops their queued calls from the governor, and lets
// go of their key's broker token as soon as no call holds it. Nothing else of
// a bot is cached here that a lockdown changes: sessions, lock flags and
// trading state are read from the store on every call, and the credential
// records' cache only serves calls, which the flags refuse.
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import type { BotRegistry } from '../auth/index.js';
import type { BrokerSessions } from '../kiwoom/broker-sessions.js';
import type { Governor } from '../kiwoom/governor.js';
import type { LockdownScope, StoppedCalls } from '../response/index.js';

export interface BotCalls {
  /** Tracks one call of the bot until the returned function is called; `end` aborts it with the reason. */
  track(bot: { readonly id: string; readonly account: string }, end: (reason: GuardError) => void): () => void;
  /** Ends every tracked call that matches; how many. */
  end(match: (botId: string, account: string) => boolean, reason: GuardError): number;
}

export function createBotCalls(): BotCalls {
  const calls = new Set<{ botId: string; account: string; end: (reason: GuardError) => void }>();
  return {
    track(bot, end) {
      const c = { botId: bot.id, account: bot.account, end };
      calls.add(c);
      return () => calls.delete(c);
    },
    end(match, reason) {
      let n = 0;
      for (const c of [...calls]) {
        if (!match(c.botId, c.account)) continue;
        calls.delete(c);
        c.end(reason);
        n++;
      }
      return n;
    },
  };
}

export interface LockdownHere {
  readonly calls: BotCalls;
  readonly governor: Pick<Governor, 'rejectQueued'>;
  readonly brokerSessions: Pick<BrokerSessions, 'revokeKeyOf'>;
  readonly bots: Pick<BotRegistry, 'get' | 'list'>;
  readonly logger: Logger;
}

/** What a lockdown published on any replica does on this one (the publishing replica included). */
export function lockdownHere(d: LockdownHere): (e: { incidentId: string; scope: LockdownScope }) => Promise<StoppedCalls> {
  return async ({ incidentId, scope }) => {
    const inScope = (botId: string, account: string) =>
      scope.all === true || scope.botId === botId || (scope.account !== undefined && scope.account === account);
    const reason = new GuardError('KG3008', `incident ${incidentId}`);
    const ended = d.calls.end(inScope, reason);
    const refused = d.governor.rejectQueued((botId) => inScope(botId, d.bots.get(botId)?.account ?? ''), reason);
    // This replica's hold on the key's token goes as soon as no call needs it (not after a linger), so it can be revoked.
    const bots = scope.botId
      ? [scope.botId]
      : d.bots
          .list()
          .filter((b) => inScope(b.id, b.account))
          .map((b) => b.id);
    const revokes = await Promise.allSettled(bots.map((b) => d.brokerSessions.revokeKeyOf(b)));
    const failed = revokes.filter((r) => r.status === 'rejected').length;
    d.logger.warn({ incidentId, scope, ended, refused, ...(failed ? { revokesFailed: failed } : {}) }, "lockdown: this replica ended the locked bots' calls");
    // The incident records it: what was in flight here when the lockdown landed.
    return { ended, refused };
  };
}
