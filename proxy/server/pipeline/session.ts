// The store's verdict on the session (revoked, killed, bot disabled), started
// by authenticate. Nothing with side effects runs before it.
import { authenticated } from './need.js';
import type { RequestContext } from '../context.js';

export async function session(ctx: RequestContext): Promise<void> {
  await authenticated(ctx).liveCheck;
}
