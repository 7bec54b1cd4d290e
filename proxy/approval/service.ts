// The approval queue, shared by every replica through the Store. Records are
// written once; decisions live in separate keys (votes hash, refusal and
// consumption markers set with SET NX), so concurrent approvers on different
// replicas never overwrite each other and "single use" is one atomic step.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { GuardError } from '../common/errors.js';
import type { Auditor } from '../audit/types.js';
import type { Store, Unsubscribe } from '../state/types.js';
import { counter } from '../common/metrics.js';
import { hashCall } from './canonical.js';
import type { ApprovalConfig } from './config.js';
import type { SecretSealer } from './sealer.js';
import { base32Encode, verifyTotp } from './totp.js';
import type {
  ApprovalCall, ApprovalOutcome, ApprovalRecord, ApprovalService, ApprovalStatus, ApprovalTicket, ApprovalView, ApproverRole, Enrolment,
} from './types.js';

export interface ApprovalServiceOptions {
  readonly config: ApprovalConfig;
  readonly store: Store;
  readonly sealer: SecretSealer;
  readonly auditor: Auditor;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly now?: () => number;
}

const CHANNEL = 'approval:events';
const K = {
  rec: (id: string) => `approval:rec:${id}`,
  votes: (id: string) => `approval:votes:${id}`,
  refused: (id: string) => `approval:refused:${id}`,
  consumed: (id: string) => `approval:consumed:${id}`,
  index: 'approval:index',
  open: 'approval:open',
  approvers: 'approval:approvers',
  totpFail: (a: string) => `approval:totpfail:${a}`,
  totpStep: (a: string, step: number) => `approval:totpstep:${a}:${step}`,
};
const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const ID = /^[0-9a-f-]{36}$/;
const SUMMARY_FIELDS = ['dmst_stex_tp', 'stk_cd', 'ord_qty', 'ord_uv', 'trde_tp', 'cond_uv', 'orig_ord_no', 'mdfy_qty', 'mdfy_uv', 'cncl_qty'];

interface ApproverDoc { roles: ApproverRole[]; sealed: string; enrolledAt: string; enrolledBy: string }

function summarise(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    for (const f of SUMMARY_FIELDS) {
      const v = (body as Record<string, unknown>)[f];
      if (typeof v === 'string' || typeof v === 'number') out[f] = String(v).slice(0, 32);
    }
  }
  return out;
}

function checkId(id: string): string {
  if (typeof id !== 'string' || !ID.test(id)) throw new GuardError('KG3015', 'malformed approval id');
  return id;
}

function checkName(name: string, what = 'approver'): string {
  if (typeof name !== 'string' || !NAME.test(name)) throw new GuardError('KG3016', `${what} name must match ${NAME}`);
  return name;
}

export function createApprovalService(opts: ApprovalServiceOptions): ApprovalService {
  const { config: cfg, store, sealer, auditor, logger } = opts;
  const now = opts.now ?? Date.now;
  const events = counter(opts.registry, 'kguard_approval_events_total', 'Approval lifecycle events', ['event', 'level']);
  // Read from the shared store at scrape time, so every replica reports the same backlog.
  new Gauge({
    name: 'kguard_approvals_pending', help: 'Approvals waiting for a decision (all replicas)', registers: [opts.registry],
    async collect() {
      try {
        this.set((await openCounts('')).total);
      } catch {
        // Store down: leave the last value; kguard_state_errors_total says why.
      }
    },
  });
  const waiters = new Map<string, Set<() => void>>();
  let subscription: Promise<Unsubscribe> | undefined;
  let closed = false;

  function ensureSubscribed(): Promise<Unsubscribe> {
    subscription ??= store.subscribe(CHANNEL, (id) => {
      for (const wake of waiters.get(id) ?? []) wake();
    });
    return subscription;
  }

  async function load(id: string): Promise<ApprovalRecord> {
    const json = await store.get(K.rec(checkId(id)));
    if (!json) throw new GuardError('KG3015', 'approval not found or expired');
    return JSON.parse(json) as ApprovalRecord;
  }

  async function view(rec: ApprovalRecord): Promise<ApprovalView> {
    const [votes, refusedJson, consumed] = await Promise.all([store.hgetall(K.votes(rec.id)), store.get(K.refused(rec.id)), store.get(K.consumed(rec.id))]);
    const approvals = Object.entries(votes).map(([approver, at]) => ({ approver, at })).sort((a, b) => a.at.localeCompare(b.at));
    const refusal = refusedJson ? (JSON.parse(refusedJson) as ApprovalView['refusal']) : undefined;
    let status: ApprovalStatus;
    if (consumed) status = 'consumed';
    else if (refusal) status = 'refused';
    else if (approvals.length >= rec.requiredApprovals) status = 'approved';
    else if (now() >= Date.parse(rec.expiresAt)) status = 'timeout';
    else status = 'pending';
    return { ...rec, status, approvals, ...(refusal ? { refusal } : {}) };
  }

  async function audit(action: string, rec: ApprovalRecord, extra: Record<string, unknown> = {}): Promise<void> {
    await auditor.append({ type: 'approval', action, approvalId: rec.id, botId: rec.botId, apiId: rec.apiId, level: rec.level, score: rec.score, requestId: rec.requestId, ...extra });
  }

  function recordTtl(rec: ApprovalRecord): number {
    return Math.max(1, Date.parse(rec.expiresAt) - now()) + cfg.useWithinMs + cfg.retentionMs;
  }

  async function openCounts(botId: string): Promise<{ total: number; bot: number }> {
    const open = await store.hgetall(K.open);
    let total = 0, bot = 0;
    const t = now();
    for (const [id, v] of Object.entries(open)) {
      const { b, e } = JSON.parse(v) as { b: string; e: number };
      if (e <= t) {
        await store.hdel(K.open, id);
        continue;
      }
      total++;
      if (b === botId) bot++;
    }
    return { total, bot };
  }

  function waitFor(rec: ApprovalRecord, signal?: AbortSignal): Promise<ApprovalOutcome> {
    return new Promise<ApprovalOutcome>((resolve, reject) => {
      let done = false;
      const timers: NodeJS.Timeout[] = [];
      const set = waiters.get(rec.id) ?? new Set();
      waiters.set(rec.id, set);
      const cleanup = (): void => {
        done = true;
        timers.forEach(clearTimeout);
        clearInterval(poll);
        set.delete(check);
        if (set.size === 0) waiters.delete(rec.id);
        signal?.removeEventListener('abort', onAbort);
      };
      const finish = (o: ApprovalOutcome): void => {
        if (done) return;
        cleanup();
        resolve(o);
      };
      const check = (): void => {
        if (done) return;
        view(rec).then((v) => {
          if (v.status === 'approved' || v.status === 'consumed') finish('approved');
          else if (v.status === 'refused') finish('refused');
          else if (v.status === 'timeout') {
            finish('timeout');
            void store.hdel(K.open, rec.id).catch(() => undefined);
          }
        }, (err: unknown) => {
          if (done) return;
          cleanup();
          reject(err instanceof GuardError ? err : new GuardError('KG7001', undefined, { cause: err }));
        });
      };
      const onAbort = (): void => finish('timeout');
      set.add(check);
      const poll = setInterval(check, cfg.pollMs);
      timers.push(setTimeout(check, Math.max(0, Date.parse(rec.expiresAt) - now()) + 5));
      if (signal?.aborted) return finish('timeout');
      signal?.addEventListener('abort', onAbort, { once: true });
      ensureSubscribed().then(check, (err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'approval pub/sub unavailable; polling');
        check();
      });
    });
  }

  async function loadApprover(name: string): Promise<ApproverDoc> {
    const json = await store.hget(K.approvers, checkName(name));
    if (!json) throw new GuardError('KG3011', `approver ${name} is not enrolled`);
    return JSON.parse(json) as ApproverDoc;
  }

  function mayDecide(rec: ApprovalRecord, approver: string, doc: ApproverDoc): string | undefined {
    if (rec.level === 'admin') {
      if (!doc.roles.includes('admin')) return 'admin-level approval needs the admin role';
      if (rec.owner !== undefined && approver === rec.owner) return "four-eyes: the bot's owner cannot approve an admin-level call";
      return undefined;
    }
    if (approver === rec.owner || doc.roles.includes('approver') || doc.roles.includes('admin')) return undefined;
    return "only the bot's owner or an approver may confirm";
  }

  async function checkCode(approver: string, doc: ApproverDoc, code: Buffer, rec: ApprovalRecord): Promise<void> {
    const failures = Number((await store.get(K.totpFail(approver))) ?? 0);
    if (failures >= cfg.totp.maxFailures) throw new GuardError('KG3011', 'too many failed codes; approver temporarily locked');
    const secret = await sealer.open(doc.sealed, { purpose: 'approver-totp', approver });
    let step: number | undefined;
    try {
      step = verifyTotp(secret, code, now(), cfg.totp);
    } finally {
      secret.fill(0);
    }
    if (step === undefined) {
      await store.incr(K.totpFail(approver), 1, cfg.totp.lockoutMs);
      events.inc({ event: 'totp_failed', level: rec.level });
      await audit('totp_failed', rec, { approver });
      throw new GuardError('KG3011', 'invalid second-factor code');
    }
    const replayTtl = cfg.totp.periodSec * 1000 * (2 * cfg.totp.window + 2);
    if (!(await store.setIfAbsent(K.totpStep(approver, step), '1', replayTtl))) {
      throw new GuardError('KG3011', 'this code was already used; wait for the next one');
    }
    await store.del(K.totpFail(approver));
  }

  function decidedError(v: ApprovalView): GuardError {
    switch (v.status) {
      case 'refused': return new GuardError('KG3006', v.id);
      case 'timeout': return new GuardError('KG3007', v.id);
      default: return new GuardError('KG3010', `approval ${v.id} is already ${v.status}`);
    }
  }

  const service: ApprovalService = {
    async request(call, o) {
      if (closed) throw new GuardError('KG9002');
      checkName(call.botId, 'bot');
      if (call.owner !== undefined) checkName(call.owner, 'owner');
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
        ...(call.owner !== undefined ? { owner: call.owner } : {}),
        level: call.level,
        score: call.score,
        reasons: (call.reasons ?? []).slice(0, 20).map((r) => String(r).slice(0, 300)),
        summary: summarise(call.body),
        requiredApprovals: call.level === 'admin' ? cfg.adminApprovers : 1,
        mode,
        ...(call.requestId !== undefined ? { requestId: call.requestId } : {}),
        createdAt: new Date(t).toISOString(),
        // A held request cannot outlive the hold time, so neither may its approval.
        expiresAt: new Date(t + (mode === 'hold' ? Math.min(timeout, cfg.holdMs) : timeout)).toISOString(),
      };
      await audit('requested', rec, { owner: rec.owner, mode, callHash: rec.callHash, expiresAt: rec.expiresAt });
      await store.set(K.rec(rec.id), JSON.stringify(rec), recordTtl(rec));
      await store.hset(K.index, rec.id, rec.expiresAt, recordTtl(rec));
      await store.hset(K.open, rec.id, JSON.stringify({ b: rec.botId, e: Date.parse(rec.expiresAt) }), recordTtl(rec));
      events.inc({ event: 'requested', level: rec.level });
      logger.info({ approvalId: rec.id, botId: rec.botId, apiId: rec.apiId, level: rec.level, score: rec.score, mode }, 'approval requested');
      const ticket: ApprovalTicket = { id: rec.id, callHash: rec.callHash, level: rec.level, expiresAt: rec.expiresAt, wait: (signal) => waitFor(rec, signal) };
      return ticket;
    },

    async approve(id, approver, code) {
      const rec = await load(id);
      const doc = await loadApprover(approver);
      const denial = mayDecide(rec, approver, doc);
      if (denial) {
        await audit('approve_denied', rec, { approver, why: denial });
        throw new GuardError('KG3011', denial);
      }
      const before = await view(rec);
      if (before.status !== 'pending') throw decidedError(before);
      if (before.approvals.some((a) => a.approver === approver)) throw new GuardError('KG3011', 'four-eyes: a second approval must come from a different approver');
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

    async refuse(id, approver, reason) {
      const rec = await load(id);
      const doc = await loadApprover(approver);
      // Refusing is always safe, so the owner may refuse even an admin-level call.
      const denial = approver === rec.owner ? undefined : mayDecide(rec, approver, doc);
      if (denial) throw new GuardError('KG3011', denial);
      const before = await view(rec);
      if (before.status !== 'pending') throw decidedError(before);
      const clean = String(reason ?? '').replace(/[\r\n\t]+/g, ' ').slice(0, 500);
      await audit('refused', rec, { approver, reason: clean });
      const refusal = { approver, reason: clean, at: new Date(now()).toISOString() };
      await store.setIfAbsent(K.refused(rec.id), JSON.stringify(refusal), recordTtl(rec));
      await store.hdel(K.open, rec.id);
      events.inc({ event: 'refused', level: rec.level });
      await store.publish(CHANNEL, rec.id);
      return view(rec);
    },

    async get(id) {
      return view(await load(id));
    },

    async list(filter) {
      const index = await store.hgetall(K.index);
      const views: ApprovalView[] = [];
      for (const id of Object.keys(index)) {
        const json = await store.get(K.rec(id));
        if (!json) {
          await store.hdel(K.index, id);
          await store.del(K.votes(id));
          continue;
        }
        const rec = JSON.parse(json) as ApprovalRecord;
        if (filter?.botId && rec.botId !== filter.botId) continue;
        const v = await view(rec);
        if (!filter?.status || v.status === filter.status) views.push(v);
      }
      return views.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },

    async consume(id, callHash) {
      const rec = await load(id);
      if (rec.callHash !== callHash) {
        await audit('consume_mismatch', rec, { presentedHash: String(callHash).slice(0, 64) });
        events.inc({ event: 'mismatch', level: rec.level });
        throw new GuardError('KG3009', rec.id);
      }
      const v = await view(rec);
      if (v.status === 'pending') throw new GuardError('KG3004', rec.id, { headers: { [cfg.header]: rec.id } });
      if (v.status !== 'approved') throw decidedError(v);
      const approvedAt = Date.parse(v.approvals.at(-1)!.at);
      if (now() > approvedAt + cfg.useWithinMs) throw new GuardError('KG3007', `${rec.id}: approved but not used in time`);
      if (!(await store.setIfAbsent(K.consumed(rec.id), new Date(now()).toISOString(), recordTtl(rec)))) {
        throw new GuardError('KG3010', rec.id);
      }
      await audit('consumed', rec);
      events.inc({ event: 'consumed', level: rec.level });
      await store.publish(CHANNEL, rec.id);
      return { ...v, status: 'consumed' };
    },

    async enroll(approver, roles, actor, o) {
      checkName(approver);
      if (!Array.isArray(roles) || roles.length === 0 || roles.some((r) => r !== 'approver' && r !== 'admin')) {
        throw new GuardError('KG3016', 'roles must be a non-empty list of approver/admin');
      }
      if (!o?.replace && (await store.hget(K.approvers, approver))) throw new GuardError('KG3016', `approver ${approver} is already enrolled (use replace to rotate)`);
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
      return Object.entries(all).map(([name, json]) => {
        const d = JSON.parse(json) as ApproverDoc;
        return { name, roles: d.roles, enrolledAt: d.enrolledAt };
      }).sort((a, b) => a.name.localeCompare(b.name));
    },

    async removeApprover(approver, actor) {
      checkName(approver);
      await auditor.append({ type: 'approval', action: 'approver_removed', approver, actor });
      await store.hdel(K.approvers, approver);
    },

    async close() {
      closed = true;
      for (const set of waiters.values()) for (const wake of set) wake();
      if (subscription) await (await subscription.catch(() => async () => undefined))();
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
