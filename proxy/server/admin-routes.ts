// Admin API routes owned by the core: bots, sessions, policy, broker tokens,
// audit receipts. Every change is audited with the acting admin's name.
import { GuardError } from '../common/errors.js';
import { accountFor, bodyString, type AdminRoute } from '../common/admin-route.js';
import { dashboardRoutes, primaryFileSink } from '../admin/dashboard/routes.js';
import type { SidecarParts } from './sidecar.js';
import { createBotRemover } from './bot-remove.js';
import { applyBatch, BatchRefused, idsDigest, parseBatch, wipeBatch, type BatchEntry } from './tenant-batch.js';

/** Ids per audit record of a batch (a record stays well under audit.maxRecordBytes). */
const AUDIT_IDS_PER_RECORD = 500;

export function coreAdminRoutes(p: SidecarParts): AdminRoute[] {
  const audit = (fields: Record<string, unknown>) => p.auditor.append({ type: 'admin', ...fields });
  const bot = (id: string) => {
    if (!p.bots.get(id)) throw new GuardError('KG1009', `bot ${id}`);
    return id;
  };
  const remove = createBotRemover({
    bots: p.bots,
    sessions: p.sessions,
    botControl: p.botControl,
    vault: p.vault,
    store: p.store,
    risk: p.risk,
    policy: p.policy,
    lockedBy: (botId, account) => p.responder.lockedBy(botId, account),
    audit,
  });
  return [
    {
      method: 'GET',
      path: '/admin/v1/bots',
      role: 'viewer',
      handler: async ({ principal }) => ({ body: { bots: p.bots.list().map((b) => ({ ...b, account: accountFor(principal, b.account) })) } }),
    },
    {
      // Bulk provisioning (server/tenant-batch.ts): JSONL with the secrets as TAB name=value fields, read as bytes, never parsed into strings.
      method: 'POST',
      path: '/admin/v1/bots/batch',
      role: 'admin',
      rawBody: { maxBytes: p.config.admin.batch.maxBytes },
      handler: async ({ raw, principal }) => {
        const language = p.config.language;
        const limits = { maxEntries: p.config.admin.batch.maxEntries };
        let entries: BatchEntry[] = [];
        try {
          entries = parseBatch(raw ?? Buffer.alloc(0), { language, limits, requireBotSecret: true });
          const ids = entries.map((e) => e.id);
          const digest = idsDigest(ids);
          const withKeys = entries.filter((e) => e.appKey).length;
          await audit({ action: 'bots.batch', actor: principal.name, entries: entries.length, keyRecords: withKeys, idsSha256: digest });
          const r = await applyBatch(entries, { bots: p.bots, vault: p.vault, language, limits });
          for (let i = 0; i < ids.length; i += AUDIT_IDS_PER_RECORD)
            await audit({ action: 'bots.batch.created', actor: principal.name, idsSha256: digest, ids: ids.slice(i, i + AUDIT_IDS_PER_RECORD) });
          return { body: { ok: true, bots: r.bots, credentials: r.credentials } };
        } catch (err) {
          if (!(err instanceof BatchRefused)) throw err;
          await audit({ action: 'bots.batch.refused', actor: principal.name, problems: err.problems.length + err.more });
          return { status: 422, body: { ok: false, code: err.code, problems: err.problems, more: err.more } };
        } finally {
          // applyBatch wipes what it is given; this covers a failure before it runs (the audit record above).
          wipeBatch(entries);
        }
      },
    },
    {
      method: 'POST',
      path: '/admin/v1/bots/:id/disable',
      role: 'admin',
      handler: async ({ params, principal }) => {
        const id = bot(params.id!);
        await audit({ action: 'bot.disable', botId: id, actor: principal.name });
        return { body: { bot: await p.botControl.disable(id, `by ${principal.name}`) } };
      },
    },
    {
      // Offboarding (server/bot-remove.ts): audited first, refused under an open incident, then step by step.
      method: 'POST',
      path: '/admin/v1/bots/:id/remove',
      role: 'admin',
      handler: async ({ params, body, principal }) => {
        const reason = bodyString(body, 'reason', 500)!;
        const report = await remove(params.id!, reason, principal.name);
        // Stopped part-way: the status of the step's error (503 KG2016: the broker token revoke not confirmed).
        return { status: report.removed ? 200 : new GuardError(report.code ?? 'KG9001').status, body: report };
      },
    },
    {
      method: 'POST',
      path: '/admin/v1/bots/:id/enable',
      role: 'admin',
      handler: async ({ params, principal }) => {
        const id = bot(params.id!);
        await audit({ action: 'bot.enable', botId: id, actor: principal.name });
        return { body: { bot: await p.botControl.enable(id) } };
      },
    },
    {
      method: 'POST',
      path: '/admin/v1/bots/:id/kill-sessions',
      role: 'admin',
      handler: async ({ params, principal }) => {
        const id = bot(params.id!);
        await audit({ action: 'sessions.kill', botId: id, actor: principal.name });
        await p.botControl.endSessions(id);
        return { body: { ended: true } };
      },
    },
    {
      method: 'GET',
      path: '/admin/v1/policy',
      role: 'viewer',
      handler: async ({ principal }) => {
        const err = p.policy.lastError();
        // A `when` name no registered bot bears selects nothing: a misspelt deny rule denies nothing (or a bot not added yet).
        const bots = p.bots.list();
        const known = { bots: new Set(bots.map((b) => b.id)), accounts: new Set(bots.map((b) => b.account)) };
        const unmatched = p.policy
          .namedInRules()
          .filter((n) => !known[n.field].has(n.name))
          .map((n) => (n.field === 'accounts' ? { ...n, name: accountFor(principal, n.name) } : n));
        return { body: { current: p.policy.current() ?? null, lastError: err ? String(err.message) : null, unmatched } };
      },
    },
    {
      method: 'POST',
      path: '/admin/v1/policy/reload',
      role: 'admin',
      handler: async ({ principal }) => {
        // Recorded before it takes effect, like every admin change: no record, no reload.
        await audit({ action: 'policy.reload.requested', actor: principal.name, version: p.policy.current()?.version });
        const r = await p.policy.reload();
        await audit({ action: 'policy.reload', actor: principal.name, ok: r.ok, changed: r.changed, version: p.policy.current()?.version });
        return {
          status: r.ok ? 200 : 422,
          body: { ok: r.ok, changed: r.changed, error: r.error ? String(r.error.message) : undefined, current: p.policy.current() },
        };
      },
    },
    { method: 'GET', path: '/admin/v1/broker-tokens', role: 'viewer', handler: async () => ({ body: { outstanding: p.brokerSessions.outstanding() } }) },
    // Live broker sessions per app key (keyed fingerprint, age, leases, expiry): never the token.
    { method: 'GET', path: '/admin/v1/broker-sessions', role: 'viewer', handler: async () => ({ body: { sessions: await p.brokerSessions.list() } }) },
    {
      method: 'GET',
      path: '/admin/v1/audit/receipts/:seq',
      role: 'viewer',
      handler: async ({ params }) => {
        // One decimal spelling per record: Number() would also read 0x10, 1e3, 01 and 1.0.
        const seq = /^[1-9][0-9]{0,15}$/.test(params.seq!) ? Number(params.seq) : Number.NaN;
        if (!Number.isSafeInteger(seq)) throw new GuardError('KG1010', 'seq must be a decimal record number from 1');
        const receipt = await p.auditor.receipt(seq);
        if (!receipt) throw new GuardError('KG1009', `receipt ${seq} (not yet checkpointed or unknown)`);
        return { body: receipt };
      },
    },
    // The dashboard's reads: recent audit records, risk per bot, audit chain status.
    ...dashboardRoutes({ auditor: p.auditor, fileSink: primaryFileSink(p.config), tailBytes: p.config.admin.dashboard.auditTailBytes }),
  ];
}
