// The OpenAPI entry of GET /admin/v1/posture (joined into ROUTE_DOCS in
// openapi-docs.ts): a closed JSON Schema of the report, so the live answer is
// checked against it and the fields cannot drift from posture-types.ts.
import type { RouteDoc } from './openapi-docs.js';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
});
const bilingual = obj({ ko: str, en: str });
const recommendation = {
  anchor: { type: 'string', pattern: '^[a-z0-9-]+$', description: 'section id in docs/security-guide.ko.md and docs/security-guide.en.md' },
  ko: str,
  en: str,
  link: obj({ ko: { type: 'string', pattern: '^docs/security-guide\\.ko\\.md#' }, en: { type: 'string', pattern: '^docs/security-guide\\.en\\.md#' } }),
};
const weight: Schema = { type: 'integer', minimum: 1, maximum: 100 };

const check = obj({
  id: str,
  area: { enum: ['identity', 'keys', 'admins', 'policy', 'sources', 'audit', 'network'] },
  weight,
  status: { enum: ['pass', 'fail'] },
  title: bilingual,
  explanation: { ...bilingual, description: 'what was found, with the numbers' },
  recommendation: obj(recommendation),
});

const botPosture = obj({
  bot: str,
  owner: str,
  score: { type: 'integer', minimum: 0, maximum: 100, description: 'weight of the passing checks over the weight of all checks' },
  checks: { type: 'array', items: check },
  recommendations: {
    type: 'array',
    description: "the failed checks' recommendations, highest weight first",
    items: obj({ check: str, weight, ...recommendation }),
  },
});

export const POSTURE_ROUTE_DOC: RouteDoc = {
  summary: "Each bot's security posture, 0-100: weighted pass/fail checks with Korean and English explanations and ranked recommendations",
  description:
    'Checks the bot secret, the Kiwoom credentials and their key provider, admins without TOTP, policy gaps for the bot (order limits, ' +
    'market orders, trading window, shadow-mode hours), source addresses, audit durability and verification, upstream TLS, the listen ' +
    'address and broker-token exposure. `kguard doctor` prints the same report.',
  query: { bot: { description: 'only this bot (404 when it is not registered)', schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } } },
  response: obj({ generatedAt: { type: 'string', format: 'date-time' }, bots: { type: 'array', items: botPosture } }),
  errors: [400, 404],
};
