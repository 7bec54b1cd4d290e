// The body parsed once (duplicate keys refused); every later stage and the
// forwarded bytes use this one value. An order's, modify's or cancel's fields
// are checked here, each against the one form Kiwoom documents: policy, risk,
// approval records and alerts read them, and a value the sidecar reads one
// way and the broker another ("03" for a market order a policy denies as "3",
// "100abc" shares that risk cannot size) must not reach either.
import { GuardError } from '../../common/errors.js';
import { aliasedKeys, foldKey } from '../../common/json.js';
import { allApis } from '../../kiwoom/catalogue.js';
import { type Book, isStockCode, orderPrice, orderQuantity, tradeTypesOf, venueOfCode } from '../../kiwoom/protocol/index.js';
import { parseJsonObject } from '../http.js';
import { classified } from './need.js';
import type { RequestContext } from '../context.js';

const QUANTITY_FIELDS = ['ord_qty', 'mdfy_qty', 'cncl_qty'] as const;
const PRICE_FIELDS = ['ord_uv', 'mdfy_uv', 'cond_uv', 'mdfy_cond_uv'] as const;
const VENUES: ReadonlySet<unknown> = new Set(['KRX', 'NXT', 'SOR']);

/**
 * Every field name Kiwoom documents for a TR body and every one the sidecar reads, by its fold (foldKey). A key
 * that is not one of them but folds to one ("ORD_QTY", " stk_cd", "ｏｒｄ＿ｑｔｙ") is what a broker reading names
 * leniently (many Java/Spring JSON set-ups ignore case) could act on while the policy judged the field absent.
 */
const KNOWN_FIELDS: ReadonlyMap<string, string> = new Map(
  [...allApis().flatMap((e) => e.requiredFields), ...QUANTITY_FIELDS, ...PRICE_FIELDS, 'stk_cd', 'trde_tp', 'orig_ord_no', 'dmst_stex_tp'].map((f) => [
    foldKey(f),
    f,
  ]),
);

/** A bot's key in a message: JSON-quoted (control characters escaped) and cut short. */
const quoted = (key: string): string => JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);

/** `maxBodyDepth`: limits.maxBodyDepth. */
export function parse(ctx: RequestContext, maxBodyDepth?: number): void {
  const c = classified(ctx);
  c.json = parseJsonObject(c.body, maxBodyDepth);
  // Two names one lenient reader takes for one field: the policy would judge one and the broker might act on the other.
  const twins = aliasedKeys(c.json);
  if (twins) throw new GuardError('KG1016', `${quoted(twins[0])} and ${quoted(twins[1])} name one field to a reader that ignores case, width or separators`);
  for (const key of Object.keys(c.json)) {
    const known = KNOWN_FIELDS.get(foldKey(key));
    if (known !== undefined && known !== key)
      throw new GuardError('KG1016', `${quoted(key)} reads as ${known} to a reader that ignores case, width or separators; send ${known}`);
  }
  for (const field of c.entry.requiredFields) {
    if (!(field in c.json)) throw new GuardError('KG1010', field);
  }
  // The catalogue names a book (market) for exactly the order, modify and cancel api-ids.
  if (c.entry.market !== undefined) checkTradingFields(c.entry.market, c.json);
  else checkQueryCodes(c.json.stk_cd);
}

/**
 * An inquiry's stk_cd: blank (every stock, on some), one code, or several separated by '|' (ka10095 관심종목정보);
 * each code in the form Kiwoom accepts. Symbol rules judge every code it names; a code with control characters,
 * spaces or another case ("035720\u0000", " 035720") they would judge as some other code, while a broker that strips
 * or folds it answers for the restricted one.
 */
function checkQueryCodes(code: unknown): void {
  if (typeof code !== 'string' || code === '') return;
  if (!code.split('|').every(isStockCode))
    malformed('stk_cd', "a stock code (6-9 upper-case letters and digits, optionally _NX or _AL), or several separated by '|'");
}

/** The message names the field and its form, never the value (it can be anything a bot sent). */
function malformed(field: string, form: string): never {
  throw new GuardError('KG1015', `${field} must be ${form}`);
}

const isNumberText = (v: unknown): boolean => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

function checkTradingFields(book: Book, json: Readonly<Record<string, unknown>>): void {
  const code = json.stk_cd;
  if (code !== undefined && (typeof code !== 'string' || !isStockCode(code))) {
    malformed('stk_cd', 'a stock code: 6-9 upper-case letters and digits, optionally _NX or _AL');
  }
  for (const f of QUANTITY_FIELDS) {
    const v = json[f];
    if (v !== undefined && (!isNumberText(v) || Number.isNaN(orderQuantity(v)))) malformed(f, 'a whole number of shares: digits only, no sign or spaces');
  }
  for (const f of PRICE_FIELDS) {
    const v = json[f];
    if (v !== undefined && (!isNumberText(v) || Number.isNaN(orderPrice(v)))) {
      malformed(f, 'a price: digits, up to 4 decimals after a point, no spaces, or empty or 0 for none');
    }
  }
  const types = tradeTypesOf(book);
  const tp = json.trde_tp;
  if (tp !== undefined && (typeof tp !== 'string' || !types.has(tp)))
    malformed('trde_tp', `a string, one of this order's types: ${[...types.keys()].join(', ')}`);
  const orig = json.orig_ord_no;
  if (orig !== undefined && (typeof orig !== 'string' || !/^[0-9]{1,10}$/.test(orig))) malformed('orig_ord_no', 'an order number: a string of digits');
  if (json.dmst_stex_tp !== undefined && !VENUES.has(json.dmst_stex_tp)) malformed('dmst_stex_tp', 'KRX, NXT or SOR');
  // Gold trades on KRX's gold market only and its orders carry no venue: a policy must not judge "NXT" the broker ignores.
  if (book === 'gold' && json.dmst_stex_tp !== undefined && json.dmst_stex_tp !== 'KRX') malformed('dmst_stex_tp', 'absent or KRX on a gold order');
  // A code's venue suffix and dmst_stex_tp naming two venues: policy's venue rules read dmst_stex_tp, a broker may route by either.
  if (typeof code === 'string' && code.includes('_') && json.dmst_stex_tp !== undefined && venueOfCode(code) !== json.dmst_stex_tp) {
    malformed('stk_cd', "a code whose venue suffix (_NX: NXT, _AL: SOR) is dmst_stex_tp's venue");
  }
  // Kiwoom's order fields are all strings: an object, array, boolean or null anywhere in an order is nothing it
  // documents, and a field nested inside one ({"ext":{"ord_qty":"1000"}}) is one the policy never judged.
  for (const [key, v] of Object.entries(json)) {
    if (!isNumberText(v)) throw new GuardError('KG1015', `${quoted(key)} must be a string: an order's fields are all strings`);
  }
}
