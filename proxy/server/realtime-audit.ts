// The realtime endpoint's two ways of writing an audit record: after the fact (a failure is logged, the session
// goes on), and before a request goes upstream (a failure refuses it, KG6001: fail closed).
import type { Logger } from 'pino';
import type { Auditor } from '../audit/types.js';
import { GuardError, toGuardError } from '../common/errors.js';

export type RealtimeAuditFields = Record<string, unknown>;

export function realtimeAudit(auditor: Auditor, logger: Logger) {
  const append = (fields: RealtimeAuditFields) => auditor.append({ ...fields, type: String(fields.type) } as never);
  return {
    /** A record of what happened; its failure is logged. */
    audit: (fields: RealtimeAuditFields): Promise<unknown> =>
      append(fields).catch((err) => logger.error({ code: toGuardError(err).code }, 'realtime audit failed')),
    /** The record of what the bot asks, before anything goes upstream: without it the request is refused (KG6001, fail closed). */
    async auditFirst(fields: RealtimeAuditFields): Promise<void> {
      try {
        await append(fields);
      } catch (err) {
        const g = err instanceof GuardError && err.code === 'KG6001' ? err : new GuardError('KG6001', undefined, { cause: err });
        logger.warn(
          { code: toGuardError(err).code, type: fields.type, botId: fields.botId },
          'realtime request refused: its audit record could not be written',
        );
        throw g;
      }
    },
  };
}
