// The approval queue, shared by every replica through the Store. Records are
// written once; decisions live in separate keys (votes hash, refusal and
// consumption markers set with SET NX), so concurrent approvers on different
// replicas never overwrite each other and "single use" is one atomic step.
// The records and their keys live in records.ts, waiting for a decision in
// waiting.ts; this file holds the decisions themselves and the approvers.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { GuardError } from '../common/errors.js';
import { PERSON_NAME } from '../common/validate.js';
import type { Auditor } from '../audit/types.js';
import { amortisedPruner } from '../state/index-prune.js';
import type { Store } from '../state/types.js';
import { counter } from '../common/metrics.js';
import { hashCall } from './canonical.js';
import type { ApprovalConfig } from './config.js';
import { approvalRecords, CHANNEL, checkName, K, summarise } from './records.js';
import { approveRefused } from './refusals.js';
import type { SecretSealer } from './sealer.js';
import { secondFactor } from './second-factor.js';
import { base32Encode } from './totp.js';
import type { ApprovalOutcome, ApprovalRecord, ApprovalService, ApprovalTicket, ApprovalView, ApproverRole } from './types.js';
import { approvalWaits } from './waiting.js';

export interface ApprovalServiceOptions {
  readonly config: ApprovalConfig;
  readonly store: Store;
  readonly sealer: SecretSealer;
  readonly auditor: Auditor;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly now?: () => number;
  /**
   * Told of every refusal of a call the bot did not make, after it is recorded (the risk engine counts them toward
   * lockdown, the owner and the admins are alerted); not of a call declined as the bot's own. A failure here is
   * logged and does not undo the refusal: refusing is the safe direction.
   */
  readonly onRefused?: (
    rec: Pick<ApprovalRecord, 'id' | 'botId' | 'account' | 'apiId' | 'summary'>,
    refusal: { approver: string; reason: string },
  ) => Promise<void>;
  /** Told of every request once it is recorded (the responder alerts the approvers); it must not throw. */
  readonly onRequested?: (rec: ApprovalRecord) => void;
  /** The bot's current session epoch (Sessions.currentEpoch): a call held in an ended session is not approvable. */
  readonly sessionEpochOf?: (botId: string) => Promise<number>;
  /**
   * The admin API's principals now (admins.json): a vote counts while its approver still holds a token of role
   * approver or above, given before the vote, so `kguard admins remove` voids what they approved and nobody used yet
   * (their approver enrolment may outlive the token). Without it only the enrolment is checked.
   */
  readonly admins?: { enrolledAt(name: string, role: 'approver'): Promise<string | undefined> };
}

const SESSION_ENDED = 'session ended';

interface ApproverDoc {
  roles: ApproverRole[];
  sealed: string;
  enrolledAt: string;
  enrolledBy: string;
}

export function createApprovalService(opts: ApprovalServiceOptions): ApprovalService {
  const { config: cfg, store, sealer, auditor, logger } = opts;
  const now = opts.now ?? Date.now;
  const { load, view, recordTtl, openCounts, list } = approvalRecords({ store, cfg, now, ...(opts.admins ? { admins: opts.admins } : {}) });
  const events = counter(opts.registry, 'kguard_approval_events_total', 'Approval lifecycle events', ['event', 'level']);
  // The events an alert watches start at 0: a series born at 1 shows Prometheus no increase (the first refusal).
  for (const event of ['refused', 'totp_failed']) for (const level of ['step_up', 'admin']) events.inc({ event, level }, 0);
  // Read from the shared store at scrape time, so every replica reports the same backlog.
  new Gauge({
    name: 'kguard_approvals_pending',
    help: 'Approvals waiting for a decision (all replicas)',
    registers: [opts.registry],
    async collect() {
      try {
        this.set((await openCounts('')).total);
      } catch {
        // Store down: leave the last value; kguard_state_errors_total says why.
      }
    },
  });
  const waits = approvalWaits({ store, cfg, logger, now, view });
  const { checkCode } = secondFactor({ store, cfg, sealer, logger, now, events, audit: (a, r, x) => audit(a, r, x) });
  // Reads the whole index (every approval kept for retention): amortised over the requests, which hold bots' calls.
  const pruneApprovalIndex = amortisedPruner(store, K.index, K.rec);
  let closed = false;

  async function audit(action: string, rec: ApprovalRecord, extra: Record<string, unknown> = {}): Promise<void> {
    await auditor.append({
      type: 'approval',
      action,
      approvalId: rec.id,
      botId: rec.botId,
      apiId: rec.apiId,
      level: rec.level,
      score: rec.score,
      requestId: rec.requestId,
      ...extra,
    });
  }

  async function loadApprover(name: string): Promise<ApproverDoc> {
    const json = await store.hget(K.approvers, checkName(name));
    if (!json) throw approveRefused('not-enrolled', name);
    return JSON.parse(json) as ApproverDoc;
  }

  function mayDecide(rec: ApprovalRecord, approver: string, doc: ApproverDoc): GuardError | undefined {
    if (rec.level === 'admin') {
      if (!doc.roles.includes('admin')) return approveRefused('needs-admin-role');
      if (rec.owner !== undefined && approver === rec.owner) return approveRefused('owner-four-eyes');
      return undefined;
    }
    if (approver === rec.owner || doc.roles.includes('approver') || doc.roles.includes('admin')) return undefined;
    return approveRefused('not-owner-or-approver');
  }

  /**
   * A held request ended (its bot left, its deadline passed) before a decision: nobody waits for the call any
   * more, so it expires now. An approver can no longer approve, and be told "approved", a call that never goes out.
   */
  async function abandon(rec: ApprovalRecord, why?: string): Promise<void> {
    const t = now();
    if (t >= Date.parse(rec.expiresAt)) return;
    const ended: ApprovalRecord = { ...rec, expiresAt: new Date(t).toISOString(), closedEarly: why === SESSION_ENDED ? 'session-ended' : 'request-ended' };
    try {
      await audit('abandoned', rec, { expiresAt: ended.expiresAt, ...(why ? { why } : {}) });
      await store.set(K.rec(rec.id), JSON.stringify(ended), recordTtl(ended));
      await store.hset(K.index, rec.id, ended.expiresAt, recordTtl(ended));
      await store.hdel(K.open, rec.id);
      events.inc({ event: 'abandoned', level: rec.level });
      await store.publish(CHANNEL, rec.id);
    } catch (err) {
      logger.error({ err: String(err), approvalId: rec.id }, 'approval of an abandoned hold not closed; it lapses at its expiry');
    }
  }

  /**
   * Pending approvals whose bot's sessions ended since it made the call (kill-sessions, disable, a lockdown) are
   * closed as approve() would close them, so a listing never offers an approver a call that can no longer go out.
   */
  async function withoutEndedSessions(views: ApprovalView[]): Promise<ApprovalView[]> {
    const epochOf = opts.sessionEpochOf;
    if (!epochOf) return views;
    const epochs = new Map<string, Promise<number>>();
    return Promise.all(
      views.map(async (v) => {
        if (v.status !== 'pending' || v.sessionEpoch === undefined) return v;
        if (!epochs.has(v.botId)) epochs.set(v.botId, epochOf(v.botId));
        if ((await epochs.get(v.botId)) === v.sessionEpoch) return v;
        const rec = await load(v.id);
        await abandon(rec, SESSION_ENDED);
        return view(await load(rec.id));
      }),
    );
  }

  function decidedError(v: ApprovalView): GuardError {
    switch (v.status) {
      case 'refused':
        return new GuardError('KG3006', v.id);
      case 'timeout':
        return new GuardError('KG3007', v.id);
      case 'consumed':
        return new GuardError('KG3010', `approval ${v.id} was used: the call it approved went out`);
      default:
        return new GuardError('KG3010', `approval ${v.id} is already ${v.status}`);
    }
  }

  const service: ApprovalService = {
    async request(call, o) {
      if (closed) throw new GuardError('KG9002');
      checkName(call.botId, 'bot');
      // A bot registered before owners had to be approver names: its owner cannot confirm, approvers still can
      // (refusing every held call of the bot instead would leave no way to approve any).
      const owner = call.owner !== undefined && PERSON_NAME.test(call.owner) ? call.owner : undefined;
      if (owner !== call.owner)
        logger.warn({ botId: call.botId }, "approval: the bot's owner is not an approver name; only approvers can confirm its held calls");
      const mode = o?.mode ?? cfg.mode;
      const counts = await openCounts(call.botId);
      if (counts.total >= cfg.maxPending) throw new GuardError('KG3014', `${cfg.maxPending} approvals pending`);
      if (counts.bot >= cfg.maxPendingPerBot) throw new GuardError('KG3014', `${cfg.maxPendingPerBot} approvals pending for this bot`);
      const t = now();
      const timeout = call.level === 'admin' ? cfg.adminTimeoutMs : cfg.stepUpTimeoutMs;
      const rec: ApprovalRecord = {
        id: randomUUID(),
        callHash: hashCall(call.botId, call.apiId, call.body),
        botId: call.botId,
        account: call.account,
        apiId: call.apiId,
        ...(owner !== undefined ? { owner } : {}),
        level: call.level,
        score: call.score,
        reasons: (call.reasons ?? []).slice(0, 20).map((r) => String(r).slice(0, 300)),
        ...(call.ruleId !== undefined ? { ruleId: call.ruleId.slice(0, 128) } : {}),
        summary: summarise(call.body),
        requiredApprovals: call.level === 'admin' ? cfg.adminApprovers : 1,
        mode,
        ...(call.requestId !== undefined ? { requestId: call.requestId } : {}),
        ...(call.sessionEpoch !== undefined ? { sessionEpoch: call.sessionEpoch } : {}),
        createdAt: new Date(t).toISOString(),
        // A held request cannot outlive the hold time (nor its own deadline), so neither may its approval.
        expiresAt: new Date(t + (mode === 'hold' ? Math.max(0, Math.min(timeout, cfg.holdMs, o?.holdMs ?? Number.POSITIVE_INFINITY)) : timeout)).toISOString(),
      };
      await audit('requested', rec, { owner: rec.owner, mode, callHash: rec.callHash, expiresAt: rec.expiresAt });
      await store.set(K.rec(rec.id), JSON.stringify(rec), recordTtl(rec));
      await store.hset(K.index, rec.id, rec.expiresAt, recordTtl(rec));
      await store.hset(K.open, rec.id, JSON.stringify({ b: rec.botId, e: Date.parse(rec.expiresAt) }), recordTtl(rec));
      // The index's TTL is renewed by this entry: without this it would keep every approval ever requested.
      await pruneApprovalIndex().catch((err: unknown) => logger.warn({ err: String(err) }, 'approval index not pruned; the next request prunes it'));
      events.inc({ event: 'requested', level: rec.level });
      logger.info({ approvalId: rec.id, botId: rec.botId, apiId: rec.apiId, level: rec.level, score: rec.score, mode }, 'approval requested');
      try {
        opts.onRequested?.(rec);
      } catch (err) {
        logger.error({ err: String(err), approvalId: rec.id }, 'approvers not alerted');
      }
      const ticket: ApprovalTicket = {
        id: rec.id,
        callHash: rec.callHash,
        level: rec.level,
        expiresAt: rec.expiresAt,
        async wait(signal) {
          const outcome = await waits.waitFor(rec, signal);
          if (outcome === 'timeout' && signal?.aborted) await abandon(rec);
          return outcome;
        },
      };
      return ticket;
    },

    async approve(id, approver, code) {
      const rec = await load(id);
      const doc = await loadApprover(approver);
      const denial = mayDecide(rec, approver, doc);
      if (denial) {
        await audit('approve_denied', rec, { approver, why: denial.detail });
        throw denial;
      }
      const before = await view(rec);
      if (before.status !== 'pending') throw decidedError(before);
      if (before.approvals.some((a) => a.approver === approver)) throw approveRefused('already-voted');
      // Its retry would be refused (consume): the approver is told now, not "approved" for a call that never goes out.
      if (rec.sessionEpoch !== undefined && opts.sessionEpochOf && (await opts.sessionEpochOf(rec.botId)) !== rec.sessionEpoch) {
        await abandon(rec, SESSION_ENDED);
        throw new GuardError('KG3007', `${rec.id}: the bot's sessions ended (killed, disabled or locked down) after it made this call`);
      }
      await checkCode(approver, doc, code, rec);
      if (now() >= Date.parse(rec.expiresAt)) throw new GuardError('KG3007', rec.id);
      await audit('approved', rec, { approver, votes: before.approvals.length + 1, required: rec.requiredApprovals });
      await store.hset(K.votes(rec.id), approver, new Date(now()).toISOString(), recordTtl(rec));
      const after = await view(rec);
      if (after.status !== 'pending') await store.hdel(K.open, rec.id);
      events.inc({ event: after.status === 'approved' ? 'approved' : 'vote', level: rec.level });
      await store.publish(CHANNEL, rec.id);
      return after;
    },

    async refuse(id, approver, reason, refuseOpts) {
      const rec = await load(id);
      const doc = await loadApprover(approver);
      // Refusing is always safe, so the owner may refuse even an admin-level call.
      const denial = approver === rec.owner ? undefined : mayDecide(rec, approver, doc);
      if (denial) throw denial;
      const before = await view(rec);
      // An approved call not sent yet (pending mode: the bot retries within useWithinSeconds) can still be refused:
      // an approver who sees the approval was a mistake stops the call, and its retry gets KG3006.
      if (before.status !== 'pending' && before.status !== 'approved') throw decidedError(before);
      const clean = String(reason ?? '')
        .replace(/[\r\n\t]+/g, ' ')
        .slice(0, 500);
      // The bot's own call, declined: not a sign of compromise, so the risk engine is not told (no escalation).
      const ownCall = refuseOpts?.ownCall === true;
      await audit('refused', rec, { approver, reason: clean, ...(ownCall ? { ownCall } : {}) });
      const refusal = { approver, reason: clean, at: new Date(now()).toISOString(), ...(ownCall ? { ownCall } : {}) };
      await store.setIfAbsent(K.refused(rec.id), JSON.stringify(refusal), recordTtl(rec));
      await store.hdel(K.open, rec.id);
      events.inc({ event: ownCall ? 'declined_own_call' : 'refused', level: rec.level });
      await store.publish(CHANNEL, rec.id);
      if (!ownCall)
        await opts
          .onRefused?.(rec, { approver, reason: clean })
          .catch((err) => logger.error({ err: String(err), approvalId: rec.id, botId: rec.botId }, 'refusal not counted by the risk engine'));
      return view(rec);
    },

    async get(id) {
      return (await withoutEndedSessions([await view(await load(id))]))[0]!;
    },

    async list(filter) {
      const views = await withoutEndedSessions(await list(filter));
      return filter?.status ? views.filter((v) => v.status === filter.status) : views;
    },

    async consume(id, callHash, o) {
      const rec = await load(id);
      // Which call used (or tried to use) it: in pending mode the bot's retry, a request of its own.
      const usedBy = o?.requestId ? { usedBy: o.requestId } : {};
      if (rec.callHash !== callHash) {
        await audit('consume_mismatch', rec, { ...usedBy, presentedHash: String(callHash).slice(0, 64) });
        events.inc({ event: 'mismatch', level: rec.level });
        throw new GuardError('KG3009', rec.id);
      }
      // Judged again on the retry as needing more than it was given (one approver instead of the admin rule).
      if (o?.level === 'admin' && rec.level !== 'admin') {
        await audit('consume_mismatch', rec, { ...usedBy, neededLevel: o.level });
        events.inc({ event: 'mismatch', level: rec.level });
        throw new GuardError('KG3009', `${rec.id}: a ${rec.level} approval; this call now needs an admin-level approval`);
      }
      // The bot's sessions were ended (kill, disable, lockdown) after it asked: whoever retries now is not who
      // the approver was asked about, and security staff meant to stop them.
      if (rec.sessionEpoch !== undefined && o?.sessionEpoch !== rec.sessionEpoch) {
        await audit('consume_mismatch', rec, { ...usedBy, why: 'session ended', sessionEpoch: rec.sessionEpoch, presentedEpoch: o?.sessionEpoch ?? null });
        events.inc({ event: 'mismatch', level: rec.level });
        throw new GuardError('KG2007', `${rec.id}: approval asked for in a session that has since ended`);
      }
      const v = await view(rec);
      if (v.status === 'pending') throw new GuardError('KG3004', rec.id, { headers: { [cfg.header]: rec.id } });
      if (v.status !== 'approved') throw decidedError(v);
      const approvedAt = Date.parse(v.approvals.at(-1)!.at);
      if (now() > approvedAt + cfg.useWithinMs) throw new GuardError('KG3007', `${rec.id}: approved but not used in time`);
      if (!(await store.setIfAbsent(K.consumed(rec.id), new Date(now()).toISOString(), recordTtl(rec)))) {
        throw new GuardError('KG3010', rec.id);
      }
      await audit('consumed', rec, usedBy);
      events.inc({ event: 'consumed', level: rec.level });
      await store.publish(CHANNEL, rec.id);
      return { ...v, status: 'consumed' };
    },

    async enroll(approver, roles, actor, o) {
      checkName(approver);
      if (!Array.isArray(roles) || roles.length === 0 || roles.some((r) => r !== 'approver' && r !== 'admin')) {
        throw new GuardError('KG3016', 'roles must be a non-empty list of approver/admin');
      }
      if (!o?.replace && (await store.hget(K.approvers, approver)))
        throw new GuardError('KG3016', `approver ${approver} is already enrolled (use replace to rotate)`);
      const raw = randomBytes(20);
      const secret = base32Encode(raw);
      try {
        const sealed = await sealer.seal(raw, { purpose: 'approver-totp', approver });
        raw.fill(0);
        const doc: ApproverDoc = { roles: [...new Set(roles)], sealed, enrolledAt: new Date(now()).toISOString(), enrolledBy: actor };
        await auditor.append({ type: 'approval', action: 'enrolled', approver, roles: doc.roles, actor });
        await store.hset(K.approvers, approver, JSON.stringify(doc));
        const label = encodeURIComponent(`${cfg.totp.issuer}:${approver}`);
        const uri = Buffer.concat([
          Buffer.from(`otpauth://totp/${label}?secret=`),
          secret,
          Buffer.from(`&issuer=${encodeURIComponent(cfg.totp.issuer)}&algorithm=SHA1&digits=${cfg.totp.digits}&period=${cfg.totp.periodSec}`),
        ]);
        return { secret, uri };
      } catch (err) {
        secret.fill(0);
        throw err;
      } finally {
        raw.fill(0);
      }
    },

    async approvers() {
      const all = await store.hgetall(K.approvers);
      return Object.entries(all)
        .map(([name, json]) => {
          const d = JSON.parse(json) as ApproverDoc;
          return { name, roles: d.roles, enrolledAt: d.enrolledAt };
        })
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async removeApprover(approver, actor) {
      checkName(approver);
      await auditor.append({ type: 'approval', action: 'approver_removed', approver, actor });
      await store.hdel(K.approvers, approver);
    },

    async close() {
      closed = true;
      await waits.close();
    },
  };
  return service;
}

/** The Kiwoom-shaped "pending approval" error for pending mode: the bot retries with the id in the header. */
export function pendingApprovalError(id: string, header = 'x-kguard-approval-id'): GuardError {
  return new GuardError('KG3004', id, { headers: { [header]: id } });
}

/** Maps a hold-mode outcome other than 'approved' to the error the bot receives. */
export function outcomeError(outcome: Exclude<ApprovalOutcome, 'approved'>, id: string): GuardError {
  return new GuardError(outcome === 'refused' ? 'KG3006' : 'KG3007', id);
}
