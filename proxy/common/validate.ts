// Small, strict readers for the raw config sections (risk, approval, response).
// Each reader names the full key path in its error so operators can fix the
// file without reading code. Unknown keys are errors: a typo must not silently
// fall back to a default.
import { GuardError } from '../common/errors.js';

export type Raw = Record<string, unknown>;

/** How people are named: admins, approvers and bot owners share it, so a bot's owner can be its approver. */
export const PERSON_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

export function configError(path: string, problem: string): GuardError {
  return new GuardError('KG3013', `${path}: ${problem}`);
}

export function section(raw: unknown, path: string, allowed: readonly string[]): Raw {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw configError(path, 'must be a mapping');
  for (const key of Object.keys(raw)) {
    if (!allowed.includes(key)) throw configError(`${path}.${key}`, `unknown key (allowed: ${allowed.join(', ')})`);
  }
  return raw as Raw;
}

export function num(obj: Raw, key: string, path: string, def: number, min: number, max: number, integer = false): number {
  const v = obj[key];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw configError(`${path}.${key}`, 'must be a number');
  if (integer && !Number.isInteger(v)) throw configError(`${path}.${key}`, 'must be an integer');
  if (v < min || v > max) throw configError(`${path}.${key}`, `must be between ${min} and ${max}`);
  return v;
}

export function bool(obj: Raw, key: string, path: string, def: boolean): boolean {
  const v = obj[key];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw configError(`${path}.${key}`, 'must be true or false');
  return v;
}

export function str(obj: Raw, key: string, path: string, def: string, pattern?: RegExp): string {
  const v = obj[key];
  if (v === undefined) return def;
  if (typeof v !== 'string') throw configError(`${path}.${key}`, 'must be a string');
  if (pattern && !pattern.test(v)) throw configError(`${path}.${key}`, `must match ${pattern}`);
  return v;
}

export function oneOf<T extends string>(obj: Raw, key: string, path: string, def: T, values: readonly T[]): T {
  const v = obj[key];
  if (v === undefined) return def;
  if (typeof v !== 'string' || !values.includes(v as T)) throw configError(`${path}.${key}`, `must be one of ${values.join(', ')}`);
  return v as T;
}

export function strList(obj: Raw, key: string, path: string, def: readonly string[], pattern?: RegExp): string[] {
  const v = obj[key];
  if (v === undefined) return [...def];
  if (!Array.isArray(v)) throw configError(`${path}.${key}`, 'must be a list of strings');
  return v.map((item, i) => {
    if (typeof item !== 'string') throw configError(`${path}.${key}[${i}]`, 'must be a string');
    if (pattern && !pattern.test(item)) throw configError(`${path}.${key}[${i}]`, `must match ${pattern}`);
    return item;
  });
}

export function list(obj: Raw, key: string, path: string): unknown[] | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw configError(`${path}.${key}`, 'must be a list');
  return v;
}
