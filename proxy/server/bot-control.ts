// One meaning of "disable a bot" and "end its sessions", shared by the admin
// API, the CLI (which calls the admin API) and lockdown:
//   end sessions  = every token of the bot stops at once on every replica,
//                   its calls queued for Kiwoom's limits are refused, and its
//                   key's broker token is revoked once no call holds it;
//   stop          = the bot's flag off (registry and shared store), its sessions
//                   ended and its queued calls refused, its key's token untouched;
//   disable       = stop + its key's broker token revoked (remove revokes only a key
//                   no other bot shares: server/bot-remove.ts).
import { GuardError, type ErrorCode } from '../common/errors.js';
import type { BotRegistry, PublicBot, Sessions } from '../auth/index.js';
import type { BrokerSessions } from '../kiwoom/broker-sessions.js';
import type { Governor } from '../kiwoom/governor.js';
import { markToken, tokenState } from '../kiwoom/revoke-status.js';
import type { BrokerTokenControl } from '../response/index.js';
import type { Store } from '../state/types.js';

export interface BotControl {
  disable(botId: string, reason: string): Promise<PublicBot>;
  /** disable without the broker half: for a bot whose app key another bot may share (remove). */
  stop(botId: string, reason: string): Promise<PublicBot>;
  enable(botId: string): Promise<PublicBot>;
  /** Kills every session and revokes the broker access; `code` is what queued calls are refused with. */
  endSessions(botId: string, code?: ErrorCode): Promise<void>;
  /** The broker half of endSessions (lockdown runs the two halves as separate, audited steps). */
  revokeBrokerAccess(botId: string, code?: ErrorCode): Promise<void>;
}

export function createBotControl(d: { bots: BotRegistry; sessions: Sessions; brokerSessions: BrokerSessions; governor: Governor }): BotControl {
  async function revokeBrokerAccess(botId: string, code: ErrorCode = 'KG2007'): Promise<void> {
    d.governor.rejectQueued((b) => b === botId, new GuardError(code));
    await d.brokerSessions.revokeKeyOf(botId);
  }
  async function stop(botId: string, reason: string): Promise<PublicBot> {
    const bot = await d.bots.setEnabled(botId, false);
    await d.sessions.setDisabled(botId, true, reason); // the flag every replica reads, and the sessions killed
    d.governor.rejectQueued((b) => b === botId, new GuardError('KG2006'));
    return bot;
  }
  return {
    stop,
    async disable(botId, reason) {
      const bot = await stop(botId, reason);
      await revokeBrokerAccess(botId, 'KG2006');
      return bot;
    },
    async enable(botId) {
      await d.sessions.setDisabled(botId, false);
      return d.bots.setEnabled(botId, true);
    },
    async endSessions(botId, code) {
      await d.sessions.killAll(botId);
      await revokeBrokerAccess(botId, code);
    },
    revokeBrokerAccess,
  };
}

/** Lockdown's broker half: the bot's access revoked (queued calls refused KG3008), and whether its key's token really went. */
export function brokerTokenControl(botControl: BotControl, store: Store, keyOf: (botId: string, purpose: 'revoke') => Promise<string>): BrokerTokenControl {
  return {
    revokeOutstanding: (botId) => botControl.revokeBrokerAccess(botId, 'KG3008'),
    markToken: async (botId) => markToken(store, await keyOf(botId, 'revoke')),
    tokenState: (mark) => tokenState(store, mark),
  };
}
