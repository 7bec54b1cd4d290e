// The api-id catalogue model. The data comes from Kiwoom's own command map
// (kiwoom_cli/maps/api_commands.csv in Kiwoom-Securities/Kiwoom-REST-API).

/** What a call does, for classification and least-privilege policies. */
export type ApiKind =
  | 'order' // new buy/sell (stock, credit, gold)
  | 'modify' // order modification
  | 'cancel' // order cancellation
  | 'query' // market data (safety class `read`)
  | 'account' // account, orders and fills inquiries (safety class `account_read`)
  | 'auth' // au10001 / au10002
  | 'transfer' // moves money or securities out (none known today; denied by default)
  | 'realtime'; // websocket registrations

/** Kiwoom's own safety class from the CSV. */
export type SafetyClass = 'read' | 'account_read' | 'order_write' | 'auth_write';

export type OrderSide = 'buy' | 'sell';

export interface ApiEntry {
  readonly apiId: string; // e.g. 'kt10000'
  readonly name: string; // Kiwoom's Korean name, e.g. '주식 매수주문'
  readonly category: string; // major category
  readonly subcategory: string;
  readonly path: string; // e.g. '/api/dostk/ordr'
  readonly group: string; // last path segment, e.g. 'ordr'
  readonly kind: ApiKind;
  readonly safety: SafetyClass;
  readonly requiredFields: readonly string[];
  /** For order/modify/cancel kinds: which book they act on. */
  readonly market?: 'stock' | 'credit' | 'gold';
  /** For kind 'order': buy or sell. */
  readonly side?: OrderSide;
}
