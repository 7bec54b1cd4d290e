// The approval records in the shared Store: the key layout, the validation of
// ids and names, and how a record plus its decision keys (votes, refusal,
// consumption) read as one view. Every replica derives status the same way
// from these keys, so none of them has to own an approval.
import { GuardError } from '../common/errors.js';
import { PERSON_NAME } from '../common/validate.js';
import type { Store } from '../state/types.js';
import { MAX_KEYS_PER_READ } from '../state/validate.js';
import type { ApprovalConfig } from './config.js';
import type { ApprovalRecord, ApprovalStatus, ApprovalView } from './types.js';

/** Pub/sub channel: the id of an approval whose decision keys just changed. */
export const CHANNEL = 'approval:events';
export const K = {
  rec: (id: string) => `approval:rec:${id}`,
  votes: (id: string) => `approval:votes:${id}`,
  refused: (id: string) => `approval:refused:${id}`,
  consumed: (id: string) => `approval:consumed:${id}`,
  index: 'approval:index',
  open: 'approval:open',
  approvers: 'approval:approvers',
  totpFail: (a: string) => `approval:totpfail:${a}`,
  totpFailsInARow: (a: string) => `approval:totpinarow:${a}`,
  totpLocked: (a: string) => `approval:totplocked:${a}`,
  totpLockouts: (a: string) => `approval:totplockouts:${a}`,
  totpStep: (a: string, step: number) => `approval:totpstep:${a}:${step}`,
};
const NAME = PERSON_NAME;
const ID = /^[0-9a-f-]{36}$/;
// Every documented order field that changes what the broker does (KIWOOM.md, the catalogue's credit orders).
const SUMMARY_FIELDS = [
  'dmst_stex_tp',
  'stk_cd',
  'ord_qty',
  'ord_uv',
  'trde_tp',
  'cond_uv',
  'crd_deal_tp',
  'orig_ord_no',
  'mdfy_qty',
  'mdfy_uv',
  'mdfy_cond_uv',
  'cncl_qty',
];

export function summarise(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    for (const f of SUMMARY_FIELDS) {
      const v = (body as Record<string, unknown>)[f];
      if (typeof v === 'string' || typeof v === 'number') out[f] = String(v).slice(0, 32);
    }
  }
  return out;
}

export function checkId(id: string): string {
  if (typeof id !== 'string' || !ID.test(id)) throw new GuardError('KG3015', 'malformed approval id');
  return id;
}

export function checkName(name: string, what = 'approver'): string {
  if (typeof name !== 'string' || !NAME.test(name)) throw new GuardError('KG3016', `${what} name must match ${NAME}`);
  return name;
}

export interface ApprovalRecords {
  /** The record by id; KG3015 when malformed, missing or expired. */
  load(id: string): Promise<ApprovalRecord>;
  /** The record with its status, votes and refusal, read from the decision keys. */
  view(rec: ApprovalRecord): Promise<ApprovalView>;
  /** How long the record and its decision keys are kept: until expiry, then the use window, then retention. */
  recordTtl(rec: ApprovalRecord): number;
  /** Approvals still open (all bots, and for one bot); expired entries are pruned on the way. */
  openCounts(botId: string): Promise<{ total: number; bot: number }>;
  /** The approvals kept, oldest first; a record gone (retention) leaves the index on the way. */
  list(filter?: { status?: ApprovalStatus; botId?: string }): Promise<ApprovalView[]>;
}

export function approvalRecords({
  store,
  cfg,
  now,
  admins,
}: {
  store: Store;
  cfg: ApprovalConfig;
  now: () => number;
  admins?: { enrolledAt(name: string, role: 'approver'): Promise<string | undefined> };
}): ApprovalRecords {
  async function load(id: string): Promise<ApprovalRecord> {
    const json = await store.get(K.rec(checkId(id)));
    if (!json) throw new GuardError('KG3015', 'approval not found or expired');
    return JSON.parse(json) as ApprovalRecord;
  }

  async function view(rec: ApprovalRecord): Promise<ApprovalView> {
    const [votes, refusedJson, consumed] = await Promise.all([store.hgetall(K.votes(rec.id)), store.get(K.refused(rec.id)), store.get(K.consumed(rec.id))]);
    // Only votes of approvers still enrolled, cast after they were (re-)enrolled, count: removing a compromised
    // approver voids what they approved and nobody used yet, and enrolling the name again does not revive it, even
    // in the same millisecond (a vote needs a code from the enrolled secret: it always comes strictly after).
    // So do only votes of approvers still holding an admin-API token given before the vote (admins remove voids them).
    const voters = Object.keys(votes);
    const [docs, tokens] = await Promise.all([
      Promise.all(voters.map((v) => store.hget(K.approvers, v))),
      Promise.all(voters.map((v) => (admins ? admins.enrolledAt(v, 'approver') : Promise.resolve('')))),
    ]);
    const approvals = voters
      .filter(
        (v, i) =>
          docs[i] !== null &&
          votes[v]! > String((JSON.parse(docs[i]!) as { enrolledAt?: unknown }).enrolledAt ?? '') &&
          tokens[i] !== undefined &&
          votes[v]! > tokens[i]!,
      )
      .map((approver) => ({ approver, at: votes[approver]! }))
      .sort((a, b) => a.at.localeCompare(b.at));
    const refusal = refusedJson ? (JSON.parse(refusedJson) as ApprovalView['refusal']) : undefined;
    let status: ApprovalStatus;
    if (consumed) status = 'consumed';
    else if (refusal) status = 'refused';
    else if (approvals.length >= rec.requiredApprovals) status = 'approved';
    else if (now() >= Date.parse(rec.expiresAt)) status = 'timeout';
    else status = 'pending';
    return { ...rec, status, approvals, ...(refusal ? { refusal } : {}) };
  }

  function recordTtl(rec: ApprovalRecord): number {
    return Math.max(1, Date.parse(rec.expiresAt) - now()) + cfg.useWithinMs + cfg.retentionMs;
  }

  async function openCounts(botId: string): Promise<{ total: number; bot: number }> {
    const open = await store.hgetall(K.open);
    let total = 0,
      bot = 0;
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

  async function list(filter?: { status?: ApprovalStatus; botId?: string }): Promise<ApprovalView[]> {
    // Pending ones are all in the open set (at most maxPending); the index names every approval kept for retention,
    // thousands on a busy day: the dashboard asks for the pending ones on every refresh.
    const from = filter?.status === 'pending' ? K.open : K.index;
    const ids = Object.keys(await store.hgetall(from));
    const views: ApprovalView[] = [];
    for (let i = 0; i < ids.length; i += MAX_KEYS_PER_READ) {
      const page = ids.slice(i, i + MAX_KEYS_PER_READ);
      const jsons = await store.mget(page.map(K.rec));
      const gone = page.filter((_, j) => jsons[j] === null);
      await Promise.all(gone.flatMap((id) => (from === K.index ? [store.hdel(K.index, id), store.del(K.votes(id))] : [store.hdel(K.open, id)])));
      const recs = jsons.flatMap((j) => (j === null ? [] : [JSON.parse(j) as ApprovalRecord]));
      for (const v of await Promise.all(recs.filter((r) => !filter?.botId || r.botId === filter.botId).map(view)))
        if (!filter?.status || v.status === filter.status) views.push(v);
    }
    // Newest first, as `kguard approvals list` says and as incidents are listed.
    return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  return { load, view, recordTtl, openCounts, list };
}
