// Only POST with sane framing and a JSON content type gets further (request smuggling defences in ../http.ts).
import { GuardError } from '../../common/errors.js';
import { checkContentType, checkFraming } from '../http.js';
import type { RequestContext } from '../context.js';

export function framing(ctx: RequestContext): void {
  if (ctx.req.method !== 'POST') throw new GuardError('KG1008');
  checkFraming(ctx.req);
  checkContentType(ctx.req);
}
