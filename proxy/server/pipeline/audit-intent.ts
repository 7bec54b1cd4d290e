// The intent record must be durable before anything is forwarded (fail
// closed). An order's intent is fsynced (group commit) before the order goes
// out; a read's intent is written in chain order without waiting for the disk.
import { GuardError } from '../../common/errors.js';
import type { RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';
import { judged } from './need.js';

export function durabilityFor(kind: string): 'fsync' | 'write' {
  return kind === 'order' || kind === 'modify' || kind === 'cancel' || kind === 'transfer' ? 'fsync' : 'write';
}

export function auditIntent(deps: Pick<PipelineDeps, 'auditor'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const j = judged(ctx);
    const d = j.decision;
    try {
      await deps.auditor.append(
        {
          type: 'call.intent',
          requestId: j.id,
          botId: j.bot.id,
          apiId: j.apiId,
          kind: j.entry.kind,
          account: j.bot.account,
          sourceIp: j.sourceIp,
          body: j.entry.kind === 'query' ? undefined : j.json,
          decision: {
            outcome: d.outcome,
            ruleId: d.ruleId,
            ruleKind: d.ruleKind,
            reason: d.reason,
            matched: d.matched,
            shadowDenies: d.shadowDenies,
            policyVersion: d.policyVersion,
            ...(d.market ? { market: d.market } : {}),
          },
          risk: j.risk,
        },
        { durability: durabilityFor(j.entry.kind) },
      );
    } catch (err) {
      throw err instanceof GuardError && err.code === 'KG6001' ? err : new GuardError('KG6001', undefined, { cause: err });
    }
  };
}
