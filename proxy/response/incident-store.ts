// Incident records in the shared store: saving and loading the incident
// document, the index behind list(), and the report that merges in what is
// kept beside it (checklist confirmations, unlock approvals, the compensation
// worksheet, webhook deliveries, step 2's broker tokens). The record's shape and the pure rendering
// live in incident.ts; this module is the storage side.
import { pruneIndex } from '../state/index-prune.js';
import { GuardError } from '../common/errors.js';
import type { ResponseContext } from './context.js';
import type { ChecklistItem, CompensationWorksheet, Incident, IncidentReport } from './incident.js';
import { K } from './keys.js';
import type { TokenRevokes } from './token-revokes.js';
import type { CancelRetries } from './cancel-retries.js';
import type { StoppedHere } from './lockdown-channel.js';

export interface IncidentSummary {
  readonly id: string;
  readonly createdAt: string;
  readonly status: 'locked' | 'unlocked';
  readonly reason: string;
  readonly automatic: boolean;
  readonly bots: readonly string[];
}

export interface IncidentStore {
  save(inc: Incident): Promise<void>;
  /** The lockdown's saves after the record exists: an unlock done meanwhile (on a 202 lockdown still running) is kept. */
  saveProgress(inc: Incident): Promise<void>;
  /**
   * Read-change-write of the stored record with compare-and-set: `apply` is given the record as stored now (again
   * when another writer saved it in between) and returns what to write.
   */
  update(id: string, apply: (stored: Incident | undefined) => Incident): Promise<Incident>;
  /** Throws KG3015 for a malformed or unknown id. */
  load(id: string): Promise<Incident>;
  /** Adds the incident to the index list() reads. */
  addToIndex(inc: Incident): Promise<void>;
  report(inc: Incident): Promise<IncidentReport>;
  get(id: string): Promise<IncidentReport>;
  list(): Promise<IncidentSummary[]>;
}

const ID = /^[0-9a-f-]{36}$/;
/** Saves of one incident record racing another writer's: more than a handful means something is wrong. */
const MAX_SAVE_ATTEMPTS = 20;

export function createIncidentStore(ctx: ResponseContext, revokes: TokenRevokes, cancelRetries: CancelRetries): IncidentStore {
  const { cfg, store } = ctx;

  async function save(inc: Incident): Promise<void> {
    await store.set(K.incident(inc.id), JSON.stringify(inc), cfg.incidentRetentionMs);
  }

  async function update(id: string, apply: (stored: Incident | undefined) => Incident): Promise<Incident> {
    for (let attempt = 1; ; attempt++) {
      const json = await store.get(K.incident(id));
      const next = apply(json ? (JSON.parse(json) as Incident) : undefined);
      // Written only over the record read: another replica's save in between (an unlock, the lockdown) is read again.
      if (await store.setIfUnchanged(K.incident(id), json, JSON.stringify(next), cfg.incidentRetentionMs)) return next;
      if (attempt >= MAX_SAVE_ATTEMPTS) throw new Error(`incident ${id}: the record kept changing while it was saved (${attempt} tries)`);
    }
  }

  async function saveProgress(inc: Incident): Promise<void> {
    // The lockdown holds its own copy while it runs: saved as it stands, it would say locked after an unlock.
    await update(inc.id, (stored) => {
      if (inc.status !== 'locked' || stored?.status !== 'unlocked') return inc;
      inc.status = 'unlocked';
      inc.unlockedAt = stored.unlockedAt;
      inc.unlockedBy = stored.unlockedBy;
      const mine = new Set(inc.timeline.map((e) => `${e.at} ${e.event}`));
      inc.timeline.push(...stored.timeline.filter((e) => !mine.has(`${e.at} ${e.event}`)));
      inc.timeline.sort((a, b) => a.at.localeCompare(b.at));
      return inc;
    });
  }

  async function load(id: string): Promise<Incident> {
    if (typeof id !== 'string' || !ID.test(id)) throw new GuardError('KG3015', 'malformed incident id');
    const json = await store.get(K.incident(id));
    if (!json) throw new GuardError('KG3015', `incident ${id}`);
    return JSON.parse(json) as Incident;
  }

  async function addToIndex(inc: Incident): Promise<void> {
    await store.hset(K.index, inc.id, inc.createdAt, cfg.incidentRetentionMs);
    // The index's TTL is renewed by this entry: without this it would keep every incident ever recorded.
    await pruneIndex(store, K.index, K.incident).catch(() => undefined);
  }

  /**
   * An unlock approval or a step confirmation counts while its admin is still one, and only if given after their
   * token was made: strictly after, as stamps are in ms and one given with the replaced token in the millisecond of
   * its replacement must not count (as approval votes, approval/records.ts).
   */
  const stillAdmin = async (approver: string, at: string): Promise<boolean> => {
    if (!ctx.opts.admins) return true;
    const since = await ctx.opts.admins.enrolledAt(approver, 'admin');
    return since !== undefined && at > since;
  };
  const stillAdmins = async <T>(items: readonly T[], by: (item: T) => [string, string]): Promise<T[]> => {
    const kept = await Promise.all(items.map((item) => stillAdmin(...by(item))));
    return items.filter((_, i) => kept[i]);
  };

  async function report(inc: Incident): Promise<IncidentReport> {
    const [confirmed, approvals, comp, sent, tokens, stoppedRaw] = await Promise.all([
      store.hgetall(K.checklist(inc.id)),
      store.hgetall(K.approvals(inc.id)),
      store.get(K.compensation(inc.id)),
      store.hgetall(K.notifications(inc.id)),
      // Step 3 as its retries left it, then step 2 as Kiwoom revoked the tokens.
      cancelRetries.merge(inc).then(async (c) => ({ ...c, ...(await revokes.merge({ ...inc, ...c })) })),
      store.hgetall(K.stopped(inc.id)),
    ]);
    const stopped = Object.values(stoppedRaw)
      .map((v) => JSON.parse(v) as StoppedHere)
      .sort((a, b) => a.at.localeCompare(b.at));
    const base = tokens.timeline ?? inc.timeline;
    const timeline = stopped.length
      ? [
          ...base,
          ...stopped.map((x) => ({
            at: x.at,
            event: 'calls in flight stopped',
            detail: `replica ${x.replica}: ${x.ended} call(s) and realtime session(s) ended before they were sent, ${x.refused} queued call(s) refused`,
          })),
        ].sort((a, b) => a.at.localeCompare(b.at))
      : base;
    const notifications = [
      ...inc.notifications,
      ...Object.keys(sent)
        .sort()
        .map((k) => JSON.parse(sent[k]!) as Incident['notifications'][number]),
    ];
    const confirmations = await stillAdmins(
      Object.entries(confirmed).map(([step, json]) => [step, JSON.parse(json) as { by: string; at: string; note?: string }] as const),
      ([, c]) => [c.by, c.at],
    );
    const counted = new Map(confirmations);
    const checklist: ChecklistItem[] = cfg.recoverySteps.map((s) => {
      const c = counted.get(s.id);
      return { ...s, ...(c ? { confirmedBy: c.by, confirmedAt: c.at, ...(c.note ? { note: c.note } : {}) } : {}) };
    });
    return {
      ...inc,
      ...tokens,
      timeline,
      ...(stopped.length ? { stopped } : {}),
      notifications,
      checklist,
      unlockApprovals: (await stillAdmins(Object.entries(approvals), (e) => e))
        .map(([approver, at]) => ({ approver, at }))
        .sort((a, b) => a.at.localeCompare(b.at)),
      unlockApprovalsRequired: inc.automatic ? cfg.unlock.automaticApprovers : cfg.unlock.adminTriggeredApprovers,
      ...(comp ? { compensation: JSON.parse(comp) as CompensationWorksheet } : {}),
    };
  }

  async function get(id: string): Promise<IncidentReport> {
    return report(await load(id));
  }

  async function list(): Promise<IncidentSummary[]> {
    const index = await store.hgetall(K.index);
    const out: IncidentSummary[] = [];
    for (const id of Object.keys(index)) {
      const json = await store.get(K.incident(id));
      if (!json) {
        // Expired with its retention: drop it from the index as well.
        await store.hdel(K.index, id);
        continue;
      }
      const inc = JSON.parse(json) as Incident;
      out.push({ id, createdAt: inc.createdAt, status: inc.status, reason: inc.reason, automatic: inc.automatic, bots: inc.targets.map((t) => t.botId) });
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  return { save, saveProgress, update, load, addToIndex, report, get, list };
}
