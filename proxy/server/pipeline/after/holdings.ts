// A bot's own complete balance inquiry (kt00018) becomes the holdings
// baseline that sells are judged against and a lockdown's damage assessment
// compares with: the baseline stays current without the sidecar calling the
// broker itself. An account with more names than a page holds answers in
// pages (cont-yn Y, next-key): the pages a bot fetches in a row are put
// together in this process, and only the whole is recorded. A part would say
// "none held" of the names on the pages not read, and a sell of one would
// look like selling more than the position.
import { BALANCE } from '../../../kiwoom/protocol/index.js';
import { type Holding, holdingsFromBalance } from '../../../response/index.js';
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';

/** A read whose next page does not come within this long is dropped. */
const PAGE_WAIT_MS = 60_000;
/** Pages of one read at most; more is not a balance inquiry a bot makes. */
const MAX_PAGES = 50;
/** Reads waiting for their next page at most (one per bot); the oldest is dropped beyond it. */
const MAX_PENDING = 10_000;

interface PendingRead {
  readonly nextKey: string;
  readonly holdings: Holding[];
  readonly pages: number;
  readonly at: number;
}

export function holdings(deps: Pick<PipelineDeps, 'responder' | 'logger' | 'clock'>) {
  const pending = new Map<string, PendingRead>();
  return async (ctx: RequestContext): Promise<void> => {
    if (!ctx.outcome?.ok || ctx.apiId !== BALANCE.apiId || !ctx.upstream || !ctx.bot) return;
    const botId = ctx.bot.id;
    const now = deps.clock();
    const before = pending.get(botId);
    pending.delete(botId);
    // A next page continues the read this bot started, or nothing: its first page was read elsewhere (another replica).
    const continues = ctx.contYn === 'Y';
    if (continues && (!before || before.nextKey !== ctx.nextKey || now - before.at > PAGE_WAIT_MS || before.pages >= MAX_PAGES)) return;
    try {
      const rows = (JSON.parse(ctx.upstream.body.toString('utf8')) as Record<string, unknown>)[BALANCE.listField];
      if (!Array.isArray(rows)) return;
      const page = holdingsFromBalance(rows as Record<string, unknown>[]);
      const all = continues && before ? [...before.holdings, ...page] : page;
      if (ctx.upstream.contYn === 'Y') {
        if (!ctx.upstream.nextKey) return;
        if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value as string);
        pending.set(botId, { nextKey: ctx.upstream.nextKey, holdings: all, pages: (continues && before ? before.pages : 0) + 1, at: now });
        return;
      }
      await deps.responder.recordHoldings(ctx.bot.account, all);
      ctx.holdingsRecorded = true;
    } catch (err) {
      deps.logger.warn({ err: String(err) }, 'holdings baseline update failed');
    }
  };
}
