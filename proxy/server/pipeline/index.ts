// The request pipeline: the one place the order of stages is decided. Each
// stage is a plain function over the request context (Envoy's filter chain,
// fastify's hooks): it returns (the next runs), sets `reply` (the pipeline
// answers), or throws a GuardError (the bot gets a Kiwoom-shaped error).
// Nothing that costs a key unwrap or a broker token runs before the call is
// authenticated, classified, judged by risk and by the policy's plan; market
// data (the only such cost before the intent is audited) is fetched only
// when the plan asks for it. After-stages run once the bot has its answer and never throw.
import type { NamedStage, Route } from '../context.js';
import { allowlist } from './allowlist.js';
import { approval } from './approval.js';
import { auditIntent } from './audit-intent.js';
import { authenticate, sessionFirst } from './authenticate.js';
import { classify } from './classify.js';
import type { PipelineDeps } from './deps.js';
import { forward } from './forward.js';
import { framing } from './framing.js';
import { lockdown } from './lockdown.js';
import { parse } from './parse.js';
import { decide, limits, marketData, policy } from './policy.js';
import { prefetch } from './prefetch.js';
import { readBodyStage } from './read-body.js';
import { risk } from './risk.js';
import { session } from './session.js';
import { tokenExchange, tokenRevoke } from './token.js';
import { counters } from './after/counters.js';
import { dailyVolume } from './after/daily-volume.js';
import { holdings } from './after/holdings.js';
import { learning } from './after/learning.js';
import { outcomeAudit } from './after/outcome.js';

export type { PipelineDeps } from './deps.js';
export { durabilityFor } from './audit-intent.js';
export { policyCall } from './policy.js';

export interface Pipelines extends Record<Route, readonly NamedStage[]> {
  /** After the response: each is run in order; a failure is logged, never thrown. */
  readonly after: readonly NamedStage[];
}

export function buildPipelines(deps: PipelineDeps): Pipelines {
  const body: NamedStage = { name: 'body', run: readBodyStage(deps.maxBodyBytes) };
  // Token and revoke ask deps.loginLimiter once the bot id is parsed, before its secret is checked.
  return {
    token: [{ name: 'framing', run: framing }, body, { name: 'token', run: tokenExchange(deps) }],
    revoke: [{ name: 'framing', run: framing }, body, { name: 'revoke', run: tokenRevoke(deps) }],
    tr: [
      { name: 'framing', run: framing },
      // Until the session verdict, an error waits for it: a revoked session gets its own code.
      sessionFirst({ name: 'authenticate', run: authenticate(deps) }),
      sessionFirst({ name: 'classify', run: (ctx) => classify(ctx, deps.approvalConfig.header) }),
      sessionFirst(body),
      sessionFirst({ name: 'parse', run: (ctx) => parse(ctx, deps.maxBodyDepth) }),
      sessionFirst({ name: 'allowlist', run: allowlist }),
      sessionFirst({ name: 'prefetch', run: prefetch(deps) }),
      { name: 'session', run: session },
      { name: 'lockdown', run: lockdown },
      { name: 'risk', run: risk(deps) },
      { name: 'policy', run: policy(deps) },
      { name: 'market-data', run: marketData(deps) },
      { name: 'decide', run: decide(deps) },
      { name: 'limits', run: limits(deps) },
      { name: 'audit-intent', run: auditIntent(deps) },
      { name: 'approval', run: approval(deps) },
      { name: 'forward', run: forward(deps) },
    ],
    after: [
      { name: 'outcome-audit', run: outcomeAudit(deps) },
      { name: 'counters', run: counters(deps) },
      { name: 'holdings', run: holdings(deps) },
      { name: 'learning', run: learning(deps) },
      { name: 'daily-volume', run: dailyVolume(deps) },
    ],
  };
}
