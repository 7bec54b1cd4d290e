// Offboarding: one meaning of "remove a bot", for the admin API and the CLI
// (which calls the admin API). Audited first (no record, nothing changes),
// refused while the bot is under an open incident (its evidence is kept until
// the incident is closed, and looked at again before anything is destroyed),
// then in order, each step reported:
//   disable     = stop (bot-control.ts: flag off on every replica, sessions
//                 ended, queued calls refused) + its credential record disabled;
//   broker      = its key's broker token revoked, unless another bot's record
//                 holds the same app key (that bot keeps trading on it: the
//                 vault's key index names them, vault/key-index.ts); the
//                 removal stops here, the bot disabled and its record kept
//                 (needed to revoke), unless the token is confirmed ended;
//   credentials = the vault record overwritten and unlinked (crypto-shred);
//   registration= the bot file deleted;
//   state       = its per-bot shared keys: the disabled flag (the epoch stays:
//                 Sessions.forget says why), its risk baseline, and today's
//                 policy counters of its own (rate limits, daily caps, order
//                 counts), which a bot registered again under the id the same
//                 day would otherwise inherit.
import { GuardError, toGuardError, type ErrorCode } from '../common/errors.js';
import type { BotRegistry, Sessions } from '../auth/index.js';
import { markToken, tokenState } from '../kiwoom/revoke-status.js';
import type { PolicyEngine } from '../policy/types.js';
import type { RiskEngine } from '../risk/types.js';
import type { Store } from '../state/types.js';
import type { ManagedVault } from '../vault/index.js';
import type { BotControl } from './bot-control.js';

export interface RemoveStep {
  readonly step: 'disable' | 'broker' | 'credentials' | 'registration' | 'state';
  readonly ok: boolean;
  /** What was done, in words; never a secret. */
  readonly detail: string;
  readonly ms: number;
}

export interface RemoveReport {
  readonly botId: string;
  readonly removed: boolean;
  /** Set when the removal stopped before the end (the steps say where). */
  readonly code?: ErrorCode;
  readonly steps: readonly RemoveStep[];
}

export interface BotRemoveDeps {
  readonly bots: BotRegistry;
  readonly sessions: Pick<Sessions, 'forget'>;
  readonly botControl: Pick<BotControl, 'stop' | 'revokeBrokerAccess'>;
  readonly vault: Pick<ManagedVault, 'appKeyOf' | 'holdersOf' | 'setEnabled' | 'destroyCredentials'>;
  readonly store: Store;
  readonly risk: Pick<RiskEngine, 'resetBaseline'>;
  readonly policy: Pick<PolicyEngine, 'forgetBot'>;
  /** The incident holding a lock on the bot, its account or everything, if any. */
  readonly lockedBy: (botId: string, account: string) => Promise<string | undefined>;
  /** Writes an audit record; rejects when it cannot. */
  readonly audit: (fields: Record<string, unknown>) => Promise<unknown>;
}

export type BotRemover = (botId: string, reason: string, actor: string) => Promise<RemoveReport>;

export function createBotRemover(d: BotRemoveDeps): BotRemover {
  // One removal of an id at a time here: a second waits, then finds the bot gone (KG2012).
  const running = new Map<string, Promise<unknown>>();

  async function removeOnce(botId: string, reason: string, actor: string): Promise<RemoveReport> {
    const bot = d.bots.get(botId);
    if (!bot) throw new GuardError('KG2012', `bot ${botId}`);
    // Lock flags live in the shared store: after a flush, "no flag" proves nothing.
    if (d.store.flushDetected()) throw new GuardError('KG7003', 'lockdown flags may have been lost');
    const incident = await d.lockedBy(botId, bot.account);
    if (incident) throw new GuardError('KG2015', `incident ${incident}`);
    await d.audit({ action: 'bot.remove', botId, actor, reason });

    const steps: RemoveStep[] = [];
    let failed: ErrorCode | undefined; // the code of the step that failed
    const run = async (step: RemoveStep['step'], fn: () => Promise<string>): Promise<boolean> => {
      const started = performance.now();
      try {
        steps.push({ step, ok: true, detail: await fn(), ms: Math.round(performance.now() - started) });
        return true;
      } catch (err) {
        const g = toGuardError(err);
        failed = g.code;
        steps.push({ step, ok: false, detail: g.code === 'KG9001' ? g.code : g.message, ms: Math.round(performance.now() - started) });
        return false;
      }
    };
    const finish = async (removed: boolean, code = failed): Promise<RemoveReport> => {
      const report: RemoveReport = { botId, removed, ...(code ? { code } : {}), steps };
      await d
        .audit({ action: removed ? 'bot.removed' : 'bot.remove.stopped', botId, actor, steps: steps.map((s) => `${s.step}:${s.ok ? 'ok' : 'failed'}`) })
        .catch(() => undefined); // the change was recorded before it was made; this is its outcome
      return report;
    };

    let key: string | undefined;
    const stopped = await run('disable', async () => {
      await d.botControl.stop(botId, `removed by ${actor}`);
      key = await d.vault.appKeyOf(botId, 'revoke').catch((err: unknown) => {
        if (toGuardError(err).code === 'KG4003') return undefined;
        throw err;
      });
      if (key) await d.vault.setEnabled(botId, false);
      return `flag off on every replica, sessions ended, queued calls refused${key ? ', credential record disabled' : ''}`;
    });
    if (!stopped) return finish(false);

    // Any failure here stops the removal: the record is what a later revoke needs.
    const revoked = await run('broker', async () => {
      if (!key) return 'no credential record: no broker token to revoke';
      const sharedWith = (await d.vault.holdersOf(key)).filter((id) => id !== botId).length;
      if (sharedWith > 0) return `token kept: the app key is also used by ${sharedWith} other bot(s), which keep trading on it`;
      const sessionKey = key.replace(/^hmac-sha256:/, '');
      const mark = await markToken(d.store, sessionKey);
      await d.botControl.revokeBrokerAccess(botId, 'KG2006');
      const state = await tokenState(d.store, mark);
      if (state.state !== 'ended')
        throw new GuardError('KG2016', state.state === 'failed' ? `revoke failed (${state.code}, ${state.attempts} attempts)` : 'token still live');
      return mark.version ? "the key's broker token revoked at Kiwoom" : 'no live broker token for the key';
    });
    if (!revoked) return finish(false);

    if (
      !(await run('credentials', async () => {
        // A lockdown raised while the removal ran (a compromise found meanwhile) keeps the bot's evidence, and its
        // cancel-all needs the key: nothing is destroyed until the incident is closed and the removal retried.
        const incident = await d.lockedBy(botId, bot.account);
        if (incident) throw new GuardError('KG2015', `incident ${incident}`);
        return (await d.vault.destroyCredentials(botId)) ? 'credential record overwritten and deleted' : 'no credential record';
      }))
    )
      return finish(false);
    if (
      !(await run('registration', async () => {
        await d.bots.remove(botId);
        return 'bot file deleted';
      }))
    )
      return finish(false);
    await run('state', async () => {
      await d.sessions.forget(botId);
      await d.risk.resetBaseline(botId);
      await d.policy.forgetBot(botId, bot.account);
      return 'disabled flag, risk state and policy counters deleted; session epoch kept so a bot registered again under this id cannot use what was the old one';
    });
    return finish(true);
  }

  return async (botId, reason, actor) => {
    for (;;) {
      const before = running.get(botId);
      if (!before) break;
      await before.catch(() => undefined);
    }
    const p = removeOnce(botId, reason, actor);
    running.set(botId, p);
    try {
      return await p;
    } finally {
      if (running.get(botId) === p) running.delete(botId);
    }
  };
}
