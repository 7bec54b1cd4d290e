// MarketData for the policy engine, fetched from Kiwoom through the sidecar's
// own path (the key's governor slot and broker session) with the credentials
// of the bot being judged, which the policy passes explicitly.
import { AsyncLocalStorage } from 'node:async_hooks';
import { BrokerGateway } from '../kiwoom/gateway.js';
import { BALANCE, OPEN_ORDERS, baseCode, kiwoomPrice, kiwoomQuantity, returnedOk } from '../kiwoom/protocol/index.js';
import type { MarketData } from '../policy/types.js';

/**
 * The request being served, for the read-only state fallback only (opt-in:
 * state.redis.readOnlyQueriesWhenDown). Identity and request ids are never
 * taken from here: every part that acts for a call is given it explicitly.
 */
export const requestScope = new AsyncLocalStorage<{ requestId: string; readOnly?: boolean }>();

export function createMarketData(gateway: BrokerGateway): MarketData {
  return {
    async referencePrice(bot, stkCd, signal) {
      return gateway.withSession(
        bot,
        async (call) => {
          const r = await call('ka10001', { stk_cd: stkCd });
          // Kiwoom's sign on cur_prc is the change direction, not a negative price.
          const price = kiwoomPrice(r.json.cur_prc);
          return returnedOk(r.json.return_code) && price !== undefined && price !== 0 ? price : undefined;
        },
        signal,
      );
    },
    async heldQuantity(bot, _account, stkCd, signal) {
      return gateway.withSession(
        bot,
        async (call) => {
          const rows = await BrokerGateway.allPages(call, BALANCE.apiId, BALANCE.body(), BALANCE.listField);
          const want = baseCode(stkCd);
          return rows.filter((r) => baseCode(String(r.stk_cd ?? '')) === want).reduce((sum, r) => sum + (kiwoomQuantity(r.rmnd_qty) ?? 0), 0);
        },
        signal,
      );
    },
    async openOrderCount(bot, _account, signal) {
      return gateway.withSession(
        bot,
        async (call) => {
          const rows = await BrokerGateway.allPages(call, OPEN_ORDERS.apiId, OPEN_ORDERS.body(), OPEN_ORDERS.listField);
          return rows.length;
        },
        signal,
      );
    },
  };
}
