// Holdings baselines and the damage assessment that compares with them. A
// baseline is the last holdings the sidecar saw for an account (a snapshot or
// a bot's own complete balance inquiry); after a lockdown the window's fills
// and current holdings are read per account, each within a deadline, so an
// unresponsive broker leaves the assessment incomplete rather than stuck.
import { GuardError } from '../common/errors.js';
import { baseCode } from '../kiwoom/protocol/index.js';
import { maskAccount, type ResponseContext } from './context.js';
import { cancelTotals, type AccountDamage, type DamageAssessment, type Incident } from './incident.js';
import { K } from './keys.js';
import type { Holding } from './types.js';

export interface Holdings {
  /** Records current holdings as the baseline damage assessments compare with. */
  snapshotHoldings(botId: string): Promise<void>;
  /** Records holdings the sidecar already saw (a bot's own complete balance inquiry) as the baseline: no extra broker call. */
  recordHoldings(account: string, holdings: readonly Holding[]): Promise<void>;
  /**
   * One page of a bot's own balance inquiry; the whole read is recorded once its last page comes (true then).
   * A read answered in pages is put together in the shared store, so pages that reach different replicas
   * still make one read: a part would say the names on the other pages are not held.
   */
  recordHoldingsPage(page: HoldingsPage): Promise<boolean>;
  /** Quantity held in one stock and its price (KRW, when the read gave one) per the last recorded baseline (undefined when none is known). */
  baselineHolding(account: string, stkCd: string): Promise<BaselineHolding | undefined>;
  /** Fills in the lookback window before t0 and holdings against the baseline, for every account of the incident. */
  assessDamage(inc: Incident, t0: number): Promise<DamageAssessment>;
}

export interface HoldingsPage {
  readonly botId: string;
  readonly account: string;
  readonly holdings: readonly Holding[];
  /** The request's next-key when it asked for a next page (cont-yn Y). */
  readonly continues?: string;
  /** The answer's next-key when more pages follow (cont-yn Y). */
  readonly more?: string;
}

/** A read whose next page does not come within this long is dropped. */
const PAGE_WAIT_MS = 60_000;
/** Pages of one read at most; more is not a balance inquiry a bot makes. */
const MAX_PAGES = 50;

export interface BaselineHolding {
  readonly qty: number;
  readonly price?: number;
}

/** How long a recorded baseline is kept. */
const BASELINE_TTL_MS = 30 * 86_400_000;

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} exceeded ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function createHoldings(ctx: ResponseContext): Holdings {
  const { opts, cfg, store, now } = ctx;

  async function holdingsBaseline(account: string): Promise<{ at: string; holdings: Holding[] } | undefined> {
    const json = await store.get(K.holdings(account));
    return json ? (JSON.parse(json) as { at: string; holdings: Holding[] }) : undefined;
  }

  async function recordHoldings(account: string, holdings: readonly Holding[]): Promise<void> {
    await store.set(K.holdings(account), JSON.stringify({ at: new Date(now()).toISOString(), holdings }), BASELINE_TTL_MS);
  }

  async function recordHoldingsPage(page: HoldingsPage): Promise<boolean> {
    const key = K.holdingsPages(page.botId);
    let before: { nextKey: string; holdings: Holding[]; pages: number } | undefined;
    if (page.continues !== undefined) {
      const raw = await store.get(key);
      before = raw ? (JSON.parse(raw) as typeof before) : undefined;
      // A next page continues the read this bot started, or nothing.
      if (!before || before.nextKey !== page.continues || before.pages >= MAX_PAGES) {
        if (raw) await store.del(key);
        return false;
      }
    }
    const holdings = [...(before?.holdings ?? []), ...page.holdings];
    if (page.more !== undefined) {
      await store.set(key, JSON.stringify({ nextKey: page.more, holdings, pages: (before?.pages ?? 0) + 1 }), PAGE_WAIT_MS);
      return false;
    }
    if (before) await store.del(key);
    await recordHoldings(page.account, holdings);
    return true;
  }

  async function snapshotHoldings(botId: string): Promise<void> {
    const all = await opts.vault.list();
    const account = all.find((m) => m.botId === botId)?.account;
    if (!account) throw new GuardError('KG4003', botId);
    await recordHoldings(account, await opts.gateway.withSession(botId, (s) => s.holdings()));
  }

  async function baselineHolding(account: string, stkCd: string): Promise<BaselineHolding | undefined> {
    const base = await holdingsBaseline(account);
    if (!base) return undefined;
    // Same stock whatever the venue suffix (KRX, _NX, _AL).
    const code = baseCode(stkCd);
    const rows = base.holdings.filter((h) => baseCode(h.stkCd) === code);
    const price = rows.find((h) => Number.isFinite(h.price) && h.price > 0)?.price;
    return { qty: rows.reduce((sum, h) => sum + h.qty, 0), ...(price !== undefined ? { price } : {}) };
  }

  async function assessAccount(botId: string, account: string, since: number): Promise<AccountDamage> {
    const [fills, holdings] = await opts.gateway.withSession(botId, (s) => Promise.all([s.fills(since), s.holdings()]));
    const baseline = await holdingsBaseline(account);
    const priceOf = new Map(holdings.map((h) => [baseCode(h.stkCd), h.price]));
    let bought = 0,
      sold = 0,
      loss = 0;
    for (const f of fills) {
      const notional = f.qty * f.price;
      const cur = priceOf.get(baseCode(f.stkCd));
      if (f.side === 'buy') {
        bought += notional;
        if (cur !== undefined) loss += Math.max(0, (f.price - cur) * f.qty);
      } else if (f.side === 'sell') {
        sold += notional;
        if (cur !== undefined) loss += Math.max(0, (cur - f.price) * f.qty);
      }
    }
    const baseQty = new Map((baseline?.holdings ?? []).map((h) => [h.stkCd, h]));
    const symbols = new Set([...holdings.map((h) => h.stkCd), ...baseQty.keys()]);
    const deltas = [...symbols].map((stkCd) => {
      const h = holdings.find((x) => x.stkCd === stkCd);
      const b = baseQty.get(stkCd);
      const price = h?.price ?? b?.price ?? 0;
      return { stkCd, qty: h?.qty ?? 0, ...(baseline ? { baselineQty: b?.qty ?? 0 } : {}), price, valueKrw: (h?.qty ?? 0) * price };
    });
    return {
      account: maskAccount(account),
      fills: fills.slice(0, 500),
      boughtKrw: bought,
      soldKrw: sold,
      holdings: deltas,
      holdingsValueKrw: deltas.reduce((a, d) => a + d.valueKrw, 0),
      ...(baseline ? { baselineValueKrw: baseline.holdings.reduce((a, h) => a + h.qty * h.price, 0), baselineAt: baseline.at } : {}),
      estimatedLossKrw: Math.round(loss),
    };
  }

  async function assessDamage(inc: Incident, t0: number): Promise<DamageAssessment> {
    const start = now();
    const since = t0 - cfg.damage.lookbackMs;
    const byAccount = new Map<string, string>();
    for (const t of inc.targets) if (t.account && !byAccount.has(t.account)) byAccount.set(t.account, t.botId);
    const accounts = await Promise.all(
      [...byAccount].map(async ([account, botId]): Promise<AccountDamage> => {
        try {
          return await withDeadline(assessAccount(botId, account, since), cfg.damage.deadlineMs, 'damage assessment');
        } catch (err) {
          return {
            account: maskAccount(account),
            fills: [],
            boughtKrw: 0,
            soldKrw: 0,
            holdings: [],
            holdingsValueKrw: 0,
            estimatedLossKrw: 0,
            error: (err as Error).message.slice(0, 200),
          };
        }
      }),
    );
    const sum = (f: (a: AccountDamage) => number) => accounts.reduce((a, x) => a + f(x), 0);
    return {
      windowStart: new Date(since).toISOString(),
      windowEnd: new Date(now()).toISOString(),
      complete: accounts.every((a) => !a.error),
      tookMs: now() - start,
      accounts,
      totals: {
        fills: sum((a) => a.fills.length),
        boughtKrw: sum((a) => a.boughtKrw),
        soldKrw: sum((a) => a.soldKrw),
        estimatedLossKrw: sum((a) => a.estimatedLossKrw),
        ...cancelTotals(inc.cancels),
      },
    };
  }

  return { snapshotHoldings, recordHoldings, recordHoldingsPage, baselineHolding, assessDamage };
}
