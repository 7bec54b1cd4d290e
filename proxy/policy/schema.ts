// The JSON Schema of a policy file. This object is the single source of truth:
// the loader compiles it with ajv, and `kguard policy schema` writes it to
// policies/schema.json for editors (a test keeps the two identical). What one
// value may be (an api-id from the catalogue, a stock code, a count the Store
// keeps exactly) is said here, so an editor underlines what the loader refuses;
// semantic.ts keeps only what spans several values.
import { allApis } from '../kiwoom/catalogue.js';

const KINDS = ['order', 'modify', 'cancel', 'query', 'account', 'auth', 'transfer', 'realtime'] as const;
export const TRADE_TYPE_NAMES: Readonly<Record<string, string>> = {
  limit: '0',
  market: '3',
  conditional: '5',
  best: '6',
  priority: '7',
  'limit-ioc': '10',
  'market-ioc': '13',
  'best-ioc': '16',
  'limit-fok': '20',
  'market-fok': '23',
  'best-fok': '26',
  'stop-limit': '28',
  mid: '29',
  'mid-ioc': '30',
  'mid-fok': '31',
  'pre-open': '61',
  'after-hours-single': '62',
  'post-close': '81',
};
const TRADE_TYPES = [...Object.keys(TRADE_TYPE_NAMES), ...Object.values(TRADE_TYPE_NAMES)];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const idString = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Letters, digits, dot, dash, underscore; up to 64 characters.' };
// Every list a rule reads names at least one thing: an empty one (an edit that removed the last entry, templating
// that emits []) would select or deny nothing, a rule silently never applied.
const nameList = (description: string) => ({
  type: 'array',
  items: { type: 'string', minLength: 1, maxLength: 64 },
  uniqueItems: true,
  minItems: 1,
  description,
});
const positive = (description: string) => ({ type: 'number', exclusiveMinimum: 0, description });
const positiveInt = (description: string) => ({ type: 'integer', minimum: 1, description });
// Counted limits go to the Store, which counts in exact integers (at most 2^53 - 1).
const counted = <T extends object>(s: T) => ({ ...s, maximum: Number.MAX_SAFE_INTEGER });
const symbolList = (description: string) => ({
  type: 'array',
  items: {
    type: 'string',
    // isStockCode after trim and upper case: an entry no order's code can match would be a rule silently never applied.
    pattern: '^\\s*[0-9A-Za-z]{6,9}(_[Nn][Xx]|_[Aa][Ll])?\\s*$',
    description: 'A stock code: 6-9 letters and digits, e.g. 005930; 005930_NX, 005930_AL and A005930 name the same instrument.',
  },
  uniqueItems: true,
  minItems: 1,
  description,
});
const scope = { enum: ['bot', 'account', 'bot-account', 'global'], default: 'bot', description: 'Whose calls share one counter.' };
const venueList = { type: 'array', items: { enum: ['KRX', 'NXT', 'SOR'] }, uniqueItems: true, minItems: 1 };
const clock = { type: 'string', pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00(:00)?)$', description: 'HH:MM or HH:MM:SS, Asia/Seoul time.' };
const apiSet = {
  kinds: { type: 'array', items: { enum: [...KINDS] }, uniqueItems: true, minItems: 1, description: 'api-id kinds.' },
  apiIds: {
    type: 'array',
    // Every api-id the sidecar knows: a misspelt one (kt10090) would select nothing and deny nothing.
    items: { $ref: '#/definitions/apiId' },
    uniqueItems: true,
    minItems: 1,
    description: 'Exact api-ids, e.g. kt10000, or realtime types, e.g. 0B.',
  },
};

const common = {
  id: { ...idString, description: 'Unique rule id; shown to bots in denials and used in metrics.' },
  type: { type: 'string' },
  mode: { enum: ['enforce', 'shadow'], default: 'enforce', description: 'shadow: log and count would-denies but let the call through.' },
  description: { type: 'string', maxLength: 500 },
  message: { type: 'string', minLength: 1, maxLength: 200, description: 'Reason shown to the bot instead of the generated one.' },
  overrides: { ...idString, description: 'Id of a rule this one replaces for the calls it selects (per-bot override of a default).' },
  when: {
    type: 'object',
    additionalProperties: false,
    description: 'Which calls the rule applies to; every listed condition must hold. Omitted = all calls.',
    properties: {
      bots: nameList('Bot ids.'),
      accounts: nameList('Account numbers.'),
      kinds: apiSet.kinds,
      apiIds: apiSet.apiIds,
      sides: {
        type: 'array',
        items: { enum: ['buy', 'sell'] },
        uniqueItems: true,
        minItems: 1,
        description:
          "Order sides. A new order has its own; a modify or cancel has the side of the order it names (orig_ord_no), from the sidecar's record of the orders it forwarded today. An order the sidecar has no record of (placed elsewhere, past policy.maxOrderRecords, on another replica with memory state, or none named) is of unknown side: rules on either side judge the call, and an override narrowed by side does not replace the rule it overrides. A cancel is judged by a rule on a side only when the rule's when.kinds names cancel.",
      },
    },
  },
};

function rule(type: string, description: string, props: Record<string, unknown>, required: string[] = [], extra: Record<string, unknown> = {}) {
  return {
    type: 'object',
    description,
    additionalProperties: false,
    required: ['id', 'type', ...required],
    properties: { ...common, type: { const: type }, ...props },
    ...extra,
  };
}

const RULES = [
  rule('allow-apis', 'Least privilege: selected calls may use only these kinds / api-ids.', apiSet, [], {
    anyOf: [{ required: ['kinds'] }, { required: ['apiIds'] }],
  }),
  rule('deny-apis', 'Selected calls may not use these kinds / api-ids.', apiSet, [], { anyOf: [{ required: ['kinds'] }, { required: ['apiIds'] }] }),
  rule('allow-symbols', 'Only these stock codes (e.g. 005930) may be traded.', { symbols: symbolList('Stock codes.') }, ['symbols']),
  rule('deny-symbols', 'Restricted securities: these stock codes may not be traded.', { symbols: symbolList('Stock codes.') }, ['symbols']),
  rule('markets', 'Allowed venues (dmst_stex_tp).', { allow: venueList }, ['allow']),
  rule(
    'order-size',
    'Per-order maximum quantity and notional (KRW); market orders are priced at the reference price.',
    {
      maxQuantity: positiveInt('Shares per order.'),
      maxNotional: positive('KRW per order.'),
    },
    [],
    { anyOf: [{ required: ['maxQuantity'] }, { required: ['maxNotional'] }] },
  ),
  rule(
    'price-collar',
    'A limit price more than N% away from the reference price is rejected.',
    {
      maxDeviationPercent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
    },
    ['maxDeviationPercent'],
  ),
  rule(
    'trade-types',
    'Allowed or forbidden order types (trde_tp), by code or name.',
    {
      allow: { type: 'array', items: { enum: TRADE_TYPES }, uniqueItems: true, minItems: 1 },
      deny: { type: 'array', items: { enum: TRADE_TYPES }, uniqueItems: true, minItems: 1 },
    },
    [],
    { oneOf: [{ required: ['allow'] }, { required: ['deny'] }] },
  ),
  rule(
    'trading-window',
    'Calls are allowed only inside these Asia/Seoul windows (start inclusive, end exclusive).',
    {
      windows: {
        type: 'array',
        minItems: 1,
        maxItems: 32,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['start', 'end'],
          properties: {
            days: { type: 'array', items: { enum: [...DAYS] }, uniqueItems: true, minItems: 1, default: ['mon', 'tue', 'wed', 'thu', 'fri'] },
            start: clock,
            end: clock,
            markets: { ...venueList, description: 'The venues (dmst_stex_tp) this window is for; all when left out. A venue no window names is closed.' },
          },
        },
      },
      closedOnHolidays: { type: 'boolean', default: true, description: 'Deny on dates listed in calendar.holidays.' },
    },
    ['windows'],
  ),
  rule(
    'rate-limit',
    'Layered rate limits on one counter, all checked and charged together.',
    {
      scope,
      limits: {
        type: 'array',
        minItems: 1,
        maxItems: 8,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['max', 'per'],
          properties: {
            max: counted(positiveInt('Calls allowed per period.')),
            per: { type: 'string', pattern: '^([1-9][0-9]{0,8}(ms|s|m|h)|day)$', description: 'e.g. 1s, 500ms, 1m, 1h, or day (Asia/Seoul calendar day).' },
          },
        },
      },
    },
    ['limits'],
  ),
  rule(
    'daily-cap',
    'Caps per Asia/Seoul day on order count and notional. With a notional cap a modify is charged what it adds over the order it modifies (its whole notional when the sidecar never saw that order).',
    {
      scope,
      maxOrders: counted(positiveInt('Orders per day.')),
      maxBuyNotional: counted(positive('KRW bought per day.')),
      maxSellNotional: counted(positive('KRW sold per day.')),
      maxGrossNotional: counted(positive('KRW bought + sold per day.')),
    },
    [],
    { anyOf: [{ required: ['maxOrders'] }, { required: ['maxBuyNotional'] }, { required: ['maxSellNotional'] }, { required: ['maxGrossNotional'] }] },
  ),
  rule(
    'cancel-ratio',
    'Cancels (and modifies) per successful order in the Asia/Seoul day.',
    {
      scope,
      maxCancelsPerOrder: positive('e.g. 0.8'),
      minOrders: { type: 'integer', minimum: 0, default: 10, description: 'No check until this many orders went through today.' },
      countModifies: { type: 'boolean', default: true },
    },
    ['maxCancelsPerOrder'],
  ),
  rule(
    'realtime-limits',
    "Caps on a bot's realtime session: (type, item) registrations held and live condition searches (the lower of this and the sidecar's realtime config wins).",
    {
      maxRegistrations: positiveInt('Registrations per bot.'),
      maxLiveSearches: { type: 'integer', minimum: 0, maximum: 10, description: 'Live condition searches per bot.' },
    },
    [],
    { anyOf: [{ required: ['maxRegistrations'] }, { required: ['maxLiveSearches'] }] },
  ),
  rule('max-open-orders', 'New orders are refused while this many orders are open on the account.', { max: positiveInt('Open orders.') }, ['max']),
  rule(
    'duplicate-guard',
    'The same account/symbol/side/quantity/price within N seconds is refused unless marked intentional.',
    {
      windowSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
    },
    ['windowSeconds'],
  ),
  rule(
    'trading-state',
    'Put the selected bots/accounts in a posture: REDUCING (sells of held quantity and cancels) or HALTED (cancels and queries).',
    {
      state: { enum: ['REDUCING', 'HALTED'] },
    },
    ['state'],
  ),
  rule('require-approval', 'Selected calls (optionally above a size) need step-up or admin approval.', {
    outcome: { enum: ['step-up', 'hold'], default: 'step-up' },
    minQuantity: positiveInt('Only orders of at least this many shares.'),
    minNotional: positive('Only orders of at least this KRW notional.'),
  }),
];

export const RULE_TYPES = RULES.map((r) => (r.properties.type as { const: string }).const);

export const POLICY_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://kiwoom-guard.local/policies/schema.json',
  title: 'kiwoom-guard policy',
  // Defined once and referred to by every rule's apiIds: the catalogue's ~200 ids, not one copy per rule type.
  definitions: {
    apiId: {
      enum: allApis().map((a) => a.apiId),
      description: 'An api-id of the Kiwoom catalogue (case-sensitive), e.g. kt10000, or a realtime type, e.g. 0B.',
    },
  },
  type: 'object',
  additionalProperties: false,
  required: ['version', 'rules'],
  properties: {
    version: { const: 1, description: 'Policy language version.' },
    name: { type: 'string', maxLength: 100 },
    description: { type: 'string', maxLength: 2000 },
    language: { enum: ['ko', 'en'], description: 'Language of generated reasons; defaults to the sidecar setting.' },
    riskThresholds: {
      type: 'object',
      additionalProperties: false,
      description: 'Risk score (0..1) at which a call needs step-up approval, or admin approval (hold).',
      properties: {
        stepUp: { type: 'number', minimum: 0, maximum: 1, default: 0.7 },
        approval: { type: 'number', minimum: 0, maximum: 1, default: 0.9 },
      },
    },
    calendar: {
      type: 'object',
      additionalProperties: false,
      properties: {
        holidays: {
          type: 'array',
          uniqueItems: true,
          maxItems: 1000,
          items: { type: 'string', pattern: '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' },
          description: 'Dates (YYYY-MM-DD, Asia/Seoul) the market is closed.',
        },
      },
    },
    rules: {
      type: 'array',
      items: { type: 'object', required: ['type'], discriminator: { propertyName: 'type' }, oneOf: RULES },
    },
  },
} as const;
