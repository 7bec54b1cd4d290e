// MarketData for the policy engine, fetched from Kiwoom through the sidecar's
// own just-in-time path with the calling bot's credentials (the bot being
// judged is carried in AsyncLocalStorage so the engine's interface stays narrow).
import { AsyncLocalStorage } from 'node:async_hooks';
import { BrokerGateway, kiwoomNumber } from '../kiwoom/gateway.js';
import type { MarketData } from '../policy/types.js';

/** The request being served, for parts deeper down (market data, decrypt and token audit records). */
export const requestScope = new AsyncLocalStorage<{ requestId: string; botId?: string; readOnly?: boolean }>();

function botId(): string {
  const id = requestScope.getStore()?.botId;
  if (!id) throw new Error('market data requested outside a bot call');
  return id;
}

/** Stock codes carry a market suffix (005930_NX); balances prefix an "A" (A005930). */
export function baseCode(stkCd: string): string {
  return stkCd.replace(/^A/, '').replace(/_(NX|AL)$/, '');
}

export function createMarketData(gateway: BrokerGateway): MarketData {
  return {
    async referencePrice(stkCd) {
      return gateway.withSession(botId(), async (call) => {
        const r = await call('ka10001', { stk_cd: stkCd });
        const price = kiwoomNumber(r.json.cur_prc);
        // Kiwoom's sign on cur_prc is the change direction, not a negative price.
        return r.json.return_code === 0 && price !== undefined && price !== 0 ? Math.abs(price) : undefined;
      });
    },
    async heldQuantity(bot, _account, stkCd) {
      return gateway.withSession(bot, async (call) => {
        const rows = await BrokerGateway.allPages(call, 'kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, 'acnt_evlt_remn_indv_tot');
        const want = baseCode(stkCd);
        return rows.filter((r) => baseCode(String(r.stk_cd ?? '')) === want).reduce((sum, r) => sum + (kiwoomNumber(r.rmnd_qty) ?? 0), 0);
      });
    },
    async openOrderCount(bot) {
      return gateway.withSession(bot, async (call) => {
        const rows = await BrokerGateway.allPages(call, 'ka10075', { all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' }, 'oso');
        return rows.length;
      });
    },
  };
}
