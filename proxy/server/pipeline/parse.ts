// The body parsed once (duplicate keys refused); every later stage and the
// forwarded bytes use this one value.
import { GuardError } from '../../common/errors.js';
import { parseJsonObject } from '../http.js';
import { classified } from './need.js';
import type { RequestContext } from '../context.js';

export function parse(ctx: RequestContext): void {
  const c = classified(ctx);
  c.json = parseJsonObject(c.body);
  for (const field of c.entry.requiredFields) {
    if (!(field in c.json)) throw new GuardError('KG1010', field);
  }
}
