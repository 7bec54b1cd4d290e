// OpenAPI entries for the dashboard's read routes (routes.ts), joined into
// the admin document by ../openapi-docs.ts; same conventions as there.
import type { RouteDoc } from '../openapi-docs.js';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const int: Schema = { type: 'integer', minimum: 0 };
const seq: Schema = { type: 'integer', minimum: 1 };
const time: Schema = { type: 'string', format: 'date-time' };
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });
const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
});

export const DASHBOARD_SCHEMAS: Record<string, Schema> = {
  RiskSummary: obj({
    score: { type: 'number', minimum: 0, maximum: 1 },
    contributions: {
      type: 'array',
      description: 'Detectors that fired, highest contribution first (weight × score is what each adds)',
      items: obj({ detector: str, score: { type: 'number' }, weight: { type: 'number' }, reason: str }),
    },
  }),
  AuditWindow: nullable(obj({ fromSeq: seq, toSeq: seq })),
  AuditSummary: obj(
    {
      seq,
      ts: time,
      type: str,
      requestId: str,
      botId: str,
      apiId: str,
      kind: str,
      route: str,
      action: str,
      actor: str,
      approvalId: str,
      incidentId: str,
      reason: str,
      ok: { type: 'boolean' },
      code: str,
      stage: str,
      decision: obj({ outcome: str, ruleId: str, reason: str }, []),
      risk: ref('RiskSummary'),
    },
    ['seq', 'ts', 'type'],
  ),
};

const windowNote =
  'Read from the newest part of the primary file sink’s log (admin.dashboard.auditTailBytes, 512 KiB by default), so older records are not included; empty when no file sink is configured.';

export const DASHBOARD_ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'GET /admin/v1/whoami': {
    summary: "The token's admin name and role (viewer, approver, admin): the dashboard offers only the actions the role may take",
    response: obj({ name: str, role: { type: 'string', enum: ['viewer', 'approver', 'admin'] } }),
  },
  'GET /admin/v1/audit/recent': {
    summary: 'Recent audit records, newest first, as named non-secret fields (decisions, denials, approvals, lockdowns)',
    description: windowNote,
    query: {
      limit: { description: 'at most this many records (1–500, default 100)', schema: { type: 'string', pattern: '^[0-9]{1,6}$' } },
      type: { description: 'only these event types, comma-separated (call.intent,call.outcome)', schema: str },
      bot: { description: 'only records about this bot', schema: str },
    },
    response: obj({ window: ref('AuditWindow'), records: { type: 'array', items: ref('AuditSummary') } }),
    errors: [400],
  },
  'GET /admin/v1/risk/bots': {
    summary: 'The latest risk score per bot with its contributions (from the newest call.intent records), highest first',
    description: windowNote,
    response: obj({
      window: ref('AuditWindow'),
      bots: {
        type: 'array',
        items: obj(
          {
            botId: str,
            seq,
            ts: time,
            requestId: str,
            apiId: str,
            outcome: { type: 'string', description: 'the decision on that call' },
            score: { type: 'number', minimum: 0, maximum: 1 },
            contributions: { type: 'array', items: obj({ detector: str, score: { type: 'number' }, weight: { type: 'number' }, reason: str }) },
          },
          ['botId', 'seq', 'ts', 'score', 'contributions'],
        ),
      },
    }),
  },
  'GET /admin/v1/audit/status': {
    summary: 'Audit sinks, the chain checked over the newest records, and the last signed checkpoint',
    description: `${windowNote} The whole log is verified with \`kguard audit verify\`.`,
    response: obj({
      keyId: str,
      sinks: {
        type: 'array',
        items: obj({ id: str, kind: str, up: { type: 'boolean' }, reason: str, writtenSeq: int, syncedSeq: int }, ['id', 'kind', 'up']),
      },
      chain: nullable(
        obj(
          {
            sink: str,
            checkedRecords: int,
            fromSeq: nullable(seq),
            toSeq: nullable(seq),
            head: nullable(str),
            windowBytes: int,
            intact: {
              type: 'boolean',
              description:
                'no break in the window; every checkpoint read is signed by the key in use and matches its record; none read before by this process is gone; and the highest one is validly signed and matches the log',
            },
            problem: obj({ seq: nullable(seq), reason: str }),
          },
          ['sink', 'checkedRecords', 'fromSeq', 'toSeq', 'head', 'windowBytes', 'intact'],
        ),
      ),
      checkpoint: nullable(
        obj({
          seq,
          fromSeq: seq,
          time,
          keyId: str,
          signature: { enum: ['valid', 'invalid', 'other-key', 'handed-over'] },
          matchesLog: { type: ['boolean', 'null'], description: 'null when the checkpointed record is outside the window' },
        }),
      ),
    }),
  },
};
