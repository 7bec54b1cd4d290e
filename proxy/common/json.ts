// Bodies bots send: one JSON object, parsed once; anything else is KG1001.
import { GuardError } from './errors.js';

/** Parses a bot's body: must be a JSON object (Kiwoom sends `{}` when there are no inputs). */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new GuardError('KG1001');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GuardError('KG1001', 'body must be a JSON object');
  return v as Record<string, unknown>;
}
