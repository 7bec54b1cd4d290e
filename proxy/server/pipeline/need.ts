// The context narrows as stages complete: a stage states what it needs
// (an authenticated bot, a classified api-id, a parsed body, a decision) and
// gets a typed view, or the call fails closed if the pipeline order were ever
// wrong — instead of optional fields and `!` assertions.
import { GuardError } from '../../common/errors.js';
import type { BotRecord, SessionClaims } from '../../auth/index.js';
import type { ApiEntry } from '../../kiwoom/types.js';
import type { Decision } from '../../policy/types.js';
import type { RequestContext } from '../context.js';

export type Authenticated = RequestContext & { claims: SessionClaims; bot: BotRecord; liveCheck: Promise<void> };
export type Classified = Authenticated & { apiId: string; entry: ApiEntry };
export type Parsed = Classified & { json: Record<string, unknown> };
export type Judged = Parsed & { decision: Decision };

function missing(what: string): GuardError {
  return new GuardError('KG9001', `pipeline order: ${what} missing`);
}

export function authenticated(ctx: RequestContext): Authenticated {
  if (!ctx.claims || !ctx.bot || !ctx.liveCheck) throw missing('authentication');
  return ctx as Authenticated;
}

export function classified(ctx: RequestContext): Classified {
  const a = authenticated(ctx);
  if (!a.apiId || !a.entry) throw missing('classification');
  return a as Classified;
}

export function parsed(ctx: RequestContext): Parsed {
  const c = classified(ctx);
  if (!c.json) throw missing('parsed body');
  return c as Parsed;
}

export function judged(ctx: RequestContext): Judged {
  const p = parsed(ctx);
  if (!p.decision) throw missing('decision');
  return p as Judged;
}
