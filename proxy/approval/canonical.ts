// The approval is bound to the exact call: sha256 over bot, api-id and the
// canonical JSON of the judged body (keys sorted, no whitespace), so key
// order or spacing cannot make a different call look approved, and a
// different body can never reuse it.
//
// Not proxy/audit/canonical.ts on purpose: the two agree byte for byte on
// JSON values (what a parsed body is), but not on everything else. The audit
// encoder refuses what JCS cannot encode (undefined in an array or at the top,
// functions, symbols), because its bytes are hashed into signed records; this
// one writes them the way JSON.stringify would ('null') and never throws on
// them (hashCall takes any value, an absent body included). Sharing one would
// change either the audit chain's refusals or which calls hashCall accepts.
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('non-finite number in body');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}

export function hashCall(botId: string, apiId: string, body: unknown): string {
  return createHash('sha256').update(botId).update('\n').update(apiId).update('\n').update(canonicalJson(body)).digest('hex');
}
