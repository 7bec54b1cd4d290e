// Kiwoom's protocol knowledge, in one place: how its numbers, stock codes and
// times are written, and the request bodies of the inquiries the sidecar makes
// itself. Parts above kiwoom (policy, risk, response, sim, server, auth) read
// Kiwoom data only through this module; state uses common/kst.ts directly.
export {
  isMarketPriced,
  kiwoomNumber,
  kiwoomPrice,
  kiwoomQuantity,
  orderPrice,
  orderQuantity,
  orderTerms,
  returnCodeOf,
  returnedOk,
} from './numbers.js';
export { baseCode, isStockCode, quoteCode, venueOfCode, venueOfListedOrder, type Venue } from './codes.js';
export { tradeTypeName, tradeTypesOf, type Book } from './trade-types.js';
export {
  DAY_MS,
  KST_OFFSET_MS,
  formatExpiresDt,
  formatHhmmss,
  hhmmssToEpoch,
  msUntilSeoulMidnight,
  parseExpiresDt,
  seoulDate,
  seoulDay,
  seoulMidnight,
  seoulParts,
  seoulTimeOfDay,
  seoulToEpoch,
  seoulWeekday,
  type SeoulParts,
} from './time.js';
export { BALANCE, FILLS, OPEN_ORDERS, cancelAllBody, type PagedInquiry } from './bodies.js';
