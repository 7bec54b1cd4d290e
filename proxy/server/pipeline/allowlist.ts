// The bot record's own least-privilege list applies on top of policy.
import { GuardError } from '../../common/errors.js';
import { botAllows } from '../../auth/index.js';
import { classified } from './need.js';
import type { RequestContext } from '../context.js';

export function allowlist(ctx: RequestContext): void {
  const c = classified(ctx);
  if (!botAllows(c.bot, c.apiId, c.entry.kind)) throw new GuardError('KG3002', c.apiId);
}
