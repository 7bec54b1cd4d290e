// What the admin route table cannot say about itself: a summary, the request
// body and the answer of each route, as JSON Schema 2020-12 (OpenAPI 3.1's
// dialect). Keyed by "METHOD path" exactly as the routes are registered;
// openapi.ts joins this to the live route table, and test/admin/openapi.test.ts
// fails when a registered route has no entry here, when an entry names no
// registered route, or when a live answer does not match its schema.
import { POSTURE_ROUTE_DOC } from './posture-openapi.js';

import { DASHBOARD_ROUTE_DOCS, DASHBOARD_SCHEMAS } from './dashboard/openapi-docs.js';

type Schema = Record<string, unknown>;

export interface RouteDoc {
  readonly summary: string;
  readonly description?: string;
  /** Query parameters (all optional strings unless the schema says otherwise). */
  readonly query?: Readonly<Record<string, { readonly description: string; readonly schema: Schema }>>;
  /** The JSON request body; absent: the route takes no body (an empty body or `{}` is accepted). */
  readonly body?: Schema;
  /** The body's media type when it is not JSON (e.g. application/x-ndjson). */
  readonly bodyMedia?: string;
  /** Success status (default 200) and its JSON schema. */
  readonly status?: number;
  readonly response: Schema;
  /** Other media types the success answer may take (e.g. ?format=md). */
  readonly alternatives?: Readonly<Record<string, Schema>>;
  /** Error statuses worth naming beyond 401/403/429 (all use the Error schema). */
  readonly errors?: readonly number[];
}

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
/** An account number: whole for the admin role, the last four digits (******0011) for viewer and approver. */
const account = str({ description: 'whole for the admin role; viewer and approver get the last four digits (******0011)' });
const int = (extra: Schema = {}): Schema => ({ type: 'integer', ...extra });
const bool: Schema = { type: 'boolean' };
const time: Schema = { type: 'string', format: 'date-time' };
const arr = (items: Schema): Schema => ({ type: 'array', items });
/** A closed object: every property named, the listed ones required. */
const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
});
/** An open object: the named properties are checked, others may be added by the part that owns it. */
const open = (properties: Record<string, Schema>, required: string[]): Schema => ({ type: 'object', required, properties });

export const COMPONENT_SCHEMAS: Record<string, Schema> = {
  Error: {
    ...obj(
      {
        return_code: int({ description: "Kiwoom's return_code family: 1 input, 2 policy, 3 auth, 5 rate, 9 sidecar" }),
        return_msg: str({ description: 'Message in the configured language with the sidecar code in brackets, e.g. 인증에 실패했습니다[KG2002]' }),
        code: str({ pattern: '^KG[0-9]{4}$', description: 'Stable error code (proxy/common/errors.ts)' }),
        reason: str({
          description:
            'Which condition of the code, when it covers several (stable key; the bracket says it in the configured language). KG3011 on approve/refuse: not-enrolled, needs-admin-role, owner-four-eyes, not-owner-or-approver, already-voted, code-invalid, code-reused, locked-out',
        }),
      },
      ['return_code', 'return_msg', 'code'],
    ),
  },
  Health: obj({ status: { const: 'ok' } }),
  Readiness: obj({
    ready: { ...bool, description: 'every check but the warnings passes: the pod belongs in the Service (200, else 503)' },
    serving: {
      ...bool,
      description: 'ready, and no warning refuses every bot call (refusesCalls: an unconfirmed Redis flush, KG7003, until confirm-flush)',
    },
    checks: {
      type: 'object',
      additionalProperties: obj({ ok: bool, reason: str(), severity: { const: 'warn' }, degraded: { const: true }, refusesCalls: { const: true } }, ['ok']),
    },
  }),
  Bot: obj({
    id: str(),
    owner: str(),
    account,
    allowed: { ...arr(str()), description: 'api-ids (kt10000) or kinds (kind:query): least privilege' },
    enabled: bool,
    createdAt: time,
    updatedAt: time,
  }),
  PolicyInfo: obj({ version: str(), file: str(), loadedAt: time }),
  BrokerSession: obj(
    {
      key: str({ description: "keyed fingerprint of the app key's credential record (never the key or token)" }),
      state: { enum: ['issuing', 'live', 'retiring'] },
      leases: int({ minimum: 0 }),
      issuedBy: str(),
      issuedAt: time,
      expiresAt: time,
      ageMs: { type: 'number', minimum: 0 },
    },
    ['key', 'state', 'leases', 'issuedBy'],
  ),
  Receipt: open(
    {
      v: { const: 1 },
      sink: str(),
      seq: int({ minimum: 1 }),
      recordHash: str(),
      leafIndex: int({ minimum: 0 }),
      treeSize: int({ minimum: 1 }),
      proof: arr(str()),
      checkpoint: open({ chain: str(), seq: int(), root: str(), sig: str(), keyId: str() }, ['chain', 'seq', 'root', 'sig']),
      record: { type: 'object' },
    },
    ['v', 'sink', 'seq', 'recordHash', 'leafIndex', 'treeSize', 'proof', 'checkpoint'],
  ),
  IncidentSummary: obj({ id: str(), createdAt: time, status: { enum: ['locked', 'unlocked'] }, reason: str(), automatic: bool, bots: arr(str()) }),
  Incident: open(
    {
      id: str(),
      createdAt: time,
      scope: obj({ botId: str(), account, all: bool }, []),
      targets: arr(obj({ botId: str(), account })),
      keptDisabled: arr(str()),
      priorTradingState: obj({ state: { enum: ['REDUCING', 'HALTED'] }, reason: str() }),
      reason: str(),
      actor: str(),
      automatic: bool,
      status: { enum: ['locked', 'unlocked'] },
      steps: arr(
        open(
          {
            step: str(),
            startedMs: { type: 'number' },
            endedMs: { type: 'number' },
            ok: bool,
            status: {
              enum: ['done', 'pending', 'failed'],
              description: 'pending: asked for, not confirmed yet (step 2 until Kiwoom revoked the broker tokens)',
            },
            errors: arr(str()),
          },
          ['step', 'ok'],
        ),
      ),
      brokerTokens: arr(
        open(
          {
            key: str({ description: "the app key's keyed fingerprint" }),
            bots: arr(str()),
            state: { enum: ['pending', 'revoked', 'failed'] },
            code: str({ description: 'why the last revoke failed (a sweep retries it)' }),
            attempts: int({ minimum: 0 }),
            at: time,
            failedAt: time,
          },
          ['key', 'bots', 'state', 'at'],
        ),
      ),
      cancels: arr(open({ account: str(), viaBot: str(), sentVia: str(), error: str() }, ['account'])),
      timings: { type: 'object', additionalProperties: { type: 'number' } },
      timeline: arr(open({ at: time, event: str(), detail: str() }, ['at', 'event'])),
      notifications: arr({ type: 'object' }),
      checklist: arr(open({ id: str(), title: str(), required: bool, confirmedBy: str(), confirmedAt: time, note: str() }, ['id', 'title', 'required'])),
      unlockApprovals: arr(obj({ approver: str(), at: time })),
      unlockApprovalsRequired: int({ minimum: 0 }),
      unlockedAt: time,
      unlockedBy: str(),
      compensation: ref('Compensation'),
    },
    ['id', 'createdAt', 'scope', 'targets', 'reason', 'actor', 'automatic', 'status', 'checklist', 'unlockApprovals', 'unlockApprovalsRequired'],
  ),
  Compensation: obj({
    incidentId: str(),
    cause: { enum: ['system_fault', 'user_negligence', 'external_attack'] },
    rate: { type: 'number' },
    lossKrw: { type: 'number' },
    lossBasis: { enum: ['damage_assessment', 'operator'] },
    uncappedKrw: { type: 'number' },
    capKrw: { type: 'number' },
    amountKrw: { type: 'number' },
    processing: obj({ minBusinessDays: int(), maxBusinessDays: int(), earliest: str(), latest: str() }),
    setBy: str(),
    setAt: time,
  }),
  Approval: obj(
    {
      id: str(),
      callHash: str(),
      botId: str(),
      account,
      apiId: str(),
      owner: str(),
      level: { enum: ['step_up', 'admin'] },
      score: { type: 'number' },
      reasons: arr(str()),
      ruleId: str({ description: 'the policy rule that held the call' }),
      summary: { type: 'object', additionalProperties: str(), description: 'whitelisted, non-secret order fields' },
      requiredApprovals: int({ minimum: 1 }),
      mode: { enum: ['hold', 'pending'] },
      requestId: str(),
      sessionEpoch: int({ minimum: 0, description: "the bot's session epoch when it made the call; ending its sessions voids the approval" }),
      createdAt: time,
      expiresAt: time,
      closedEarly: { enum: ['session-ended', 'request-ended'], description: "closed early (timeout): the bot's sessions or its held request ended" },
      status: { enum: ['pending', 'approved', 'refused', 'timeout', 'consumed'] },
      approvals: arr(obj({ approver: str(), at: time })),
      refusal: obj({ approver: str(), reason: str(), at: time, ownCall: bool }, ['approver', 'reason', 'at']),
    },
    'id callHash botId account apiId level score reasons summary requiredApprovals mode createdAt expiresAt status approvals'.split(' '),
  ),
  Approver: obj({ name: str(), roles: arr({ enum: ['approver', 'admin'] }), enrolledAt: time }),
  StateStatus: obj(
    {
      backend: { enum: ['memory', 'redis'] },
      up: bool,
      reason: str(),
      generation: { type: ['string', 'null'] },
      flushDetected: bool,
      clock: obj({ skewMs: int(), uncertaintyMs: int({ minimum: 0 }) }, ['skewMs', 'uncertaintyMs']),
    },
    ['backend', 'up', 'generation', 'flushDetected'],
  ),
  ...DASHBOARD_SCHEMAS,
};

const reason = (max: number): Schema => str({ minLength: 1, maxLength: max });
const botResult = obj({ bot: ref('Bot') });

export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'GET /healthz': { summary: 'Liveness: the process serves', response: ref('Health') },
  'GET /readyz': {
    summary: 'Readiness: every check passes (policy, audit, vault, state, …); 503 names the failing one',
    response: ref('Readiness'),
    errors: [503],
  },
  'GET /metrics': { summary: 'Prometheus metrics (text exposition format)', response: str() },
  'GET /admin/v1/openapi.json': {
    summary: 'This document, generated from the routes the listener serves',
    response: open({ openapi: str(), info: { type: 'object' }, paths: { type: 'object' } }, ['openapi', 'info', 'paths']),
  },
  'GET /admin/v1/bots': { summary: 'Bots and their allowlists (never their secrets)', response: obj({ bots: arr(ref('Bot')) }) },
  'POST /admin/v1/bots/batch': {
    summary: 'Register many bots and their Kiwoom credentials at once, all or none; 422 names every bad entry and changes nothing',
    description:
      'Body (application/x-ndjson, admin.batch.maxBytes): one bot a line, a JSON object {id, owner, account, allow} followed by TAB-separated botSecret=..., appKey=..., secretKey=... fields. The secrets are read as bytes, hashed or sealed, and zero-filled; none is ever returned. `kguard bots import --from-file` builds it.',
    bodyMedia: 'application/x-ndjson',
    body: str({ description: 'JSONL with TAB-separated secret fields (see description)' }),
    response: {
      oneOf: [
        obj({ ok: { const: true }, bots: int(), credentials: int() }),
        obj({
          ok: { const: false },
          code: str(),
          problems: arr(obj({ line: int(), id: str(), code: str(), message: str() }, ['line', 'code', 'message'])),
          more: int(),
        }),
      ],
    },
    errors: [413, 422],
  },
  'POST /admin/v1/bots/{id}/disable': {
    summary: 'Disable a bot: flag off everywhere, sessions ended on every replica, queued calls refused, broker token revoked',
    response: botResult,
    errors: [404],
  },
  'POST /admin/v1/bots/{id}/remove': {
    summary:
      'Offboard a bot: audited first, then disabled, its broker token revoked (unless another bot shares its app key), its credential record shredded, its bot file and per-bot state deleted',
    description:
      'Refused with 409 KG2015 while the bot, its account or everything is locked down (close the incident first: its evidence is kept), 404 KG2012 for a bot not registered (a second removal), 503 KG6001 when the audit record cannot be written (nothing changed). 503 with removed=false and code KG2016: the broker token revoke was not confirmed, so the removal stopped with the bot disabled and its credential record kept; retry. The session epoch stays (a bot registered again under the id starts past it).',
    body: obj({ reason: reason(500) }),
    response: obj(
      {
        botId: str(),
        removed: bool,
        code: str({ pattern: '^KG[0-9]{4}$' }),
        steps: arr(obj({ step: { enum: ['disable', 'broker', 'credentials', 'registration', 'state'] }, ok: bool, detail: str(), ms: int({ minimum: 0 }) })),
      },
      ['botId', 'removed', 'steps'],
    ),
    errors: [400, 404, 409, 500, 503],
  },
  'POST /admin/v1/bots/{id}/enable': { summary: 'Enable a bot again', response: botResult, errors: [404] },
  'POST /admin/v1/bots/{id}/kill-sessions': {
    summary: 'End every session of a bot (it must exchange its secret again)',
    response: obj({ ended: { const: true } }),
    errors: [404],
  },
  'GET /admin/v1/policy': {
    summary: 'The policy in force, the last rejected edit if any, and the `when` names no registered bot or bot account bears',
    response: obj({
      current: { anyOf: [ref('PolicyInfo'), { type: 'null' }] },
      lastError: { type: ['string', 'null'] },
      unmatched: arr(
        obj(
          {
            rule: str(),
            field: { enum: ['bots', 'accounts'] },
            name: str({ description: 'an account is masked to its last four digits for a viewer or approver' }),
            line: int({ minimum: 1 }),
          },
          ['rule', 'field', 'name', 'line'],
        ),
      ),
    }),
  },
  'POST /admin/v1/policy/reload': {
    summary: 'Re-read the policy file now; 422 keeps the previous policy in force',
    response: obj({ ok: bool, changed: bool, error: str(), current: ref('PolicyInfo') }, ['ok', 'changed']),
    errors: [422],
  },
  'GET /admin/v1/broker-tokens': { summary: 'Broker tokens live on this replica (a count)', response: obj({ outstanding: int({ minimum: 0 }) }) },
  'GET /admin/v1/broker-sessions': {
    summary: 'Live broker sessions per app key: fingerprint, state, leases, age, expiry — never the token',
    response: obj({ sessions: arr(ref('BrokerSession')) }),
  },
  'GET /admin/v1/audit/receipts/{seq}': {
    summary: "An audit record's inclusion receipt (Merkle proof to a signed checkpoint)",
    response: ref('Receipt'),
    errors: [400, 404],
  },
  'GET /admin/v1/approvals': {
    summary: 'Approvals, optionally filtered',
    query: {
      status: { description: 'only approvals in this status', schema: { enum: ['pending', 'approved', 'refused', 'timeout', 'consumed'] } },
      bot: { description: 'only approvals of this bot', schema: str() },
    },
    response: obj({ approvals: arr(ref('Approval')) }),
    errors: [400],
  },
  'GET /admin/v1/approvals/{id}': { summary: 'One approval', response: ref('Approval'), errors: [404] },
  'POST /admin/v1/approvals/{id}/approve': {
    summary: "Approve with the approver's current TOTP code",
    body: obj({ code: str({ minLength: 1, maxLength: 10, description: 'TOTP code (digits)' }) }),
    response: ref('Approval'),
    errors: [400, 404, 409],
  },
  'POST /admin/v1/approvals/{id}/refuse': {
    summary:
      "Refuse an approval: by default a call the bot did not make (its next order within risk.escalation.refusedOrdersHours locks it down); ownCall declines the bot's own call without that",
    body: obj(
      { reason: reason(500), ownCall: { type: 'boolean', description: 'the bot did make this call; it is only declined (not counted toward its lockdown)' } },
      ['reason'],
    ),
    response: ref('Approval'),
    errors: [400, 404, 409],
  },
  'GET /admin/v1/approvers': { summary: 'Enrolled approvers (names and roles, never their secrets)', response: obj({ approvers: arr(ref('Approver')) }) },
  'POST /admin/v1/approvers': {
    summary: 'Enrol an approver; the TOTP secret is in this answer once and nowhere else',
    body: obj({ name: str({ minLength: 1, maxLength: 64 }), roles: arr({ enum: ['approver', 'admin'] }), replace: bool }, ['name']),
    status: 201,
    response: obj({ name: str(), roles: arr({ enum: ['approver', 'admin'] }), secret: str(), uri: str() }),
    errors: [400, 409],
  },
  'DELETE /admin/v1/approvers/{name}': { summary: 'Remove an approver', response: obj({ removed: str() }), errors: [404] },
  'POST /admin/v1/lockdown': {
    summary:
      'Emergency lockdown of a bot, an account or everything: new orders stop, open orders are cancelled, keys disabled (202 with the incident so far when the cancel-all still waits on Kiwoom after response.answerWithinMs)',
    body: obj({ reason: reason(500), bot: str({ minLength: 1, maxLength: 64 }), account: str({ minLength: 1, maxLength: 64 }), all: bool }, ['reason']),
    status: 201,
    response: ref('Incident'),
    errors: [400],
  },
  'GET /admin/v1/incidents': { summary: 'Incidents, newest first', response: obj({ incidents: arr(ref('IncidentSummary')) }) },
  'GET /admin/v1/incidents/{id}': {
    summary: 'One incident report (?format=md: Markdown)',
    query: { format: { description: 'md for a Markdown report', schema: { enum: ['md'] } } },
    response: ref('Incident'),
    alternatives: { 'text/markdown': str() },
    errors: [404],
  },
  'POST /admin/v1/incidents/{id}/steps/{step}/confirm': {
    summary: 'Confirm a recovery checklist step',
    body: obj({ note: str({ minLength: 1, maxLength: 300 }) }, []),
    response: ref('Incident'),
    errors: [400, 404, 409],
  },
  'POST /admin/v1/incidents/{id}/approve-unlock': { summary: 'Approve unlocking (four eyes)', response: ref('Incident'), errors: [404, 409] },
  'POST /admin/v1/incidents/{id}/unlock': { summary: 'Unlock once the checklist and approvals are complete', response: ref('Incident'), errors: [404, 409] },
  'POST /admin/v1/incidents/{id}/compensation': {
    summary: 'Compute the compensation worksheet',
    body: obj({ cause: { enum: ['system_fault', 'user_negligence', 'external_attack'] }, lossKrw: { type: 'number', minimum: 0 } }, ['cause']),
    response: ref('Compensation'),
    errors: [400, 404],
  },
  'GET /admin/v1/posture': POSTURE_ROUTE_DOC,
  'GET /admin/v1/state': { summary: 'Shared state backend, health and flush detection', response: ref('StateStatus') },
  'POST /admin/v1/state/confirm-flush': {
    summary: 'Accept the loss of shared state after a Redis flush (audited) so calls flow again',
    body: obj({ reason: reason(500) }),
    response: open({ confirmed: { const: true }, backend: { enum: ['memory', 'redis'] }, up: bool, flushDetected: bool }, [
      'confirmed',
      'backend',
      'up',
      'flushDetected',
    ]),
    errors: [400, 409],
  },
  ...DASHBOARD_ROUTE_DOCS,
};
