// A bot's own complete balance inquiry (kt00018) becomes the holdings
// baseline that sells are judged against and a lockdown's damage assessment
// compares with: the baseline stays current without the sidecar calling the
// broker itself. An account with more names than a page holds answers in
// pages (cont-yn Y, next-key); the responder puts them together in the shared
// store and records the whole once the last page comes.
import { BALANCE } from '../../../kiwoom/protocol/index.js';
import { holdingsFromBalance } from '../../../response/index.js';
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';
import { answerOf } from './outcome.js';

export function holdings(deps: Pick<PipelineDeps, 'responder' | 'logger'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const up = ctx.upstream;
    if (!ctx.outcome?.ok || ctx.apiId !== BALANCE.apiId || !up || !ctx.bot) return;
    // More pages without a key to ask for them: the read cannot be completed.
    if (up.contYn === 'Y' && !up.nextKey) return;
    try {
      const rows = answerOf(ctx)[BALANCE.listField];
      if (!Array.isArray(rows)) return;
      ctx.holdingsRecorded = await deps.responder.recordHoldingsPage({
        botId: ctx.bot.id,
        account: ctx.bot.account,
        holdings: holdingsFromBalance(rows as Record<string, unknown>[]),
        ...(ctx.contYn === 'Y' ? { continues: ctx.nextKey ?? '' } : {}),
        ...(up.contYn === 'Y' ? { more: up.nextKey } : {}),
      });
    } catch (err) {
      deps.logger.warn({ err: String(err) }, 'holdings baseline update failed');
    }
  };
}
