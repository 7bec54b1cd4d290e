// Helpers for admin route handlers (the admin listener in proxy/admin parses
// JSON, authenticates and checks roles; routes only validate their fields).
import { GuardError } from '../common/errors.js';

export function bodyString(body: Record<string, unknown>, key: string, max = 500, required = true): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new GuardError('KG3016', `${key} must be a non-empty string of at most ${max} characters`);
  return v;
}
