// What the call is: api-id → kind from the catalogue of every Kiwoom api-id.
// The upstream path comes from the catalogue, never from the bot's raw path.
import { GuardError } from '../../common/errors.js';
import { lookupApi } from '../../kiwoom/catalogue.js';
import { readApiId, readPaging } from '../http.js';
import type { RequestContext } from '../context.js';

const APPROVAL_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** `approvalHeader`: approval.header, where a retry after a pending-approval error carries its approval id. */
export function classify(ctx: RequestContext, approvalHeader = 'x-kguard-approval-id'): void {
  const apiId = readApiId(ctx.req);
  ctx.apiId = apiId;
  const entry = lookupApi(apiId);
  if (!entry) throw new GuardError('KG1004', apiId);
  if (entry.kind === 'auth' || entry.kind === 'realtime') throw new GuardError('KG1005', `${apiId} is not a TR call`);
  if ((ctx.req.url ?? '') !== entry.path) throw new GuardError('KG1005', `${apiId} → ${entry.path}`);
  ctx.entry = entry;
  Object.assign(ctx, readPaging(ctx.req));
  ctx.intentional = ctx.req.headers['x-kguard-intentional'] === '1';
  const approval = ctx.req.headers[approvalHeader];
  if (typeof approval === 'string' && APPROVAL_ID.test(approval)) ctx.approvalId = approval;
}
