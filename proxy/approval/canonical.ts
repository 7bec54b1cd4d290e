// The approval is bound to the exact call: sha256 over bot, api-id and the
// canonical JSON of the judged body (keys sorted, no whitespace), so key
// order or spacing cannot make a different call look approved, and a
// different body can never reuse it.
//
// The encoder is common/canonical-json.ts (why not the audit's: see there).
import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json.js';

export { canonicalJson };

export function hashCall(botId: string, apiId: string, body: unknown): string {
  return createHash('sha256').update(botId).update('\n').update(apiId).update('\n').update(canonicalJson(body)).digest('hex');
}
