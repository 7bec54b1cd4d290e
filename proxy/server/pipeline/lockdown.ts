// A lockdown (global, account or bot) refuses the call (KG3008).
import { GuardError } from '../../common/errors.js';
import type { RequestContext } from '../context.js';

export async function lockdown(ctx: RequestContext): Promise<void> {
  if (!ctx.prefetched) throw new GuardError('KG9001', 'pipeline order: prefetch missing');
  await ctx.prefetched.lockdown;
}
