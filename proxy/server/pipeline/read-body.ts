// The body, read once and size-capped; every later stage judges these bytes.
import { readBody } from '../http.js';
import type { RequestContext } from '../context.js';

export function readBodyStage(maxBodyBytes: number) {
  return async (ctx: RequestContext): Promise<void> => {
    ctx.body = await readBody(ctx.req, maxBodyBytes, ctx.signal);
  };
}
