// The body parsed once (duplicate keys refused); every later stage and the
// forwarded bytes use this one value. An order's, modify's or cancel's stock
// code is checked here: policy, risk, approval records and alerts read it,
// and the broker would refuse anything else anyway.
import { GuardError } from '../../common/errors.js';
import { isStockCode } from '../../kiwoom/protocol/index.js';
import { parseJsonObject } from '../http.js';
import { classified } from './need.js';
import type { RequestContext } from '../context.js';

export function parse(ctx: RequestContext): void {
  const c = classified(ctx);
  c.json = parseJsonObject(c.body);
  for (const field of c.entry.requiredFields) {
    if (!(field in c.json)) throw new GuardError('KG1010', field);
  }
  const code = c.json.stk_cd;
  // The catalogue names a book (market) for exactly the order, modify and cancel api-ids.
  if (c.entry.market !== undefined && code !== undefined && (typeof code !== 'string' || !isStockCode(code)))
    throw new GuardError('KG1015', 'stk_cd must be a stock code: 6-9 upper-case letters and digits, optionally _NX or _AL');
}
