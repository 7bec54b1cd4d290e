// Step 2's broker token revoke as it really went. Asking for a revoke is not
// having one: the key's token may be held by a call (here or on another
// replica), the lockdown's own cancel-all and damage assessment use one, and
// a revoke Kiwoom refuses is retried later by a sweep. So once the lockdown's
// own calls are over, each key's token is marked, its revoke asked for again,
// and the mark followed until the token has ended (revoked, expired, [8005]).
// Each key's state lives in a hash beside the incident (never a rewrite of
// the incident itself, which an unlock may be saving meanwhile); a report on
// any replica merges it, reading afresh what is not revoked yet, so an
// operator is never told "revoked" before Kiwoom said so.
import { toGuardError } from '../common/errors.js';
import type { ResponseContext } from './context.js';
import type { BrokerTokenRevoke, Incident, StepTiming } from './incident.js';
import { K } from './keys.js';
import type { BrokerTokenMark, BrokerTokenState } from './types.js';

export const REVOKE_STEP = '2 kill sessions + revoke broker tokens';

export interface TokenRevokes {
  /** The broker layer can tell whether a token went (the sidecar's can); else step 2 is done once the revokes were asked for. */
  readonly followed: boolean;
  /** After the lockdown's own broker calls: mark, revoke again, record each key's state, and follow what has not ended. */
  follow(inc: Incident): Promise<void>;
  /** Step 2, the timeline and the per-key records as the report shows them. */
  merge(inc: Incident): Promise<Pick<Incident, 'steps' | 'timeline' | 'brokerTokens'>>;
  /** Stops following (shutdown); what is recorded stays, and a later report reads the rest afresh. */
  close(): void;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function createTokenRevokes(ctx: ResponseContext): TokenRevokes {
  const { opts, cfg, store, logger, now } = ctx;
  const { markToken, tokenState } = opts.tokens;
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  /** The record for a state just read; a failure stays named (code, failedAt) once the token is revoked. */
  function recordOf(prev: BrokerTokenRevoke, s: BrokerTokenState): BrokerTokenRevoke {
    if (s.state === 'failed') return { ...prev, state: 'failed', code: s.code, attempts: s.attempts, at: iso(s.at || now()), failedAt: iso(s.at || now()) };
    return { ...prev, state: s.state === 'ended' ? 'revoked' : 'pending', at: iso(now()) };
  }

  const changed = (a: BrokerTokenRevoke, b: BrokerTokenRevoke) => a.state !== b.state || a.code !== b.code || (a.state === 'failed' && a.at !== b.at);
  const save = (id: string, r: BrokerTokenRevoke) => store.hset(K.brokerTokens(id), r.key, JSON.stringify(r), cfg.incidentRetentionMs);

  /** Reads the state of a record not revoked yet; saves it when it moved. */
  async function refresh(id: string, r: BrokerTokenRevoke): Promise<BrokerTokenRevoke> {
    if (r.state === 'revoked' || !r.version || !tokenState) return r;
    const next = recordOf(r, await tokenState({ key: r.key, version: r.version }));
    if (changed(r, next)) await save(id, next);
    return changed(r, next) ? next : r;
  }

  function followLater(id: string, open: BrokerTokenRevoke[]): void {
    if (closed || open.length === 0) return;
    const check = async (r: BrokerTokenRevoke): Promise<BrokerTokenRevoke> => {
      try {
        return await refresh(id, r);
      } catch (err) {
        logger.warn({ incidentId: id, key: r.key, code: toGuardError(err).code }, 'broker token check failed; trying again');
        return r;
      }
    };
    const timer = setTimeout(() => {
      timers.delete(timer);
      void Promise.all(open.map(check)).then((next) =>
        followLater(
          id,
          next.filter((r) => r.state !== 'revoked'),
        ),
      );
    }, cfg.revokeCheckMs);
    timer.unref();
    timers.add(timer);
  }

  async function follow(inc: Incident): Promise<void> {
    if (!markToken || !tokenState) return;
    // One record per app key: bots sharing a key share its one token.
    const byKey = new Map<string, { bots: string[]; mark?: BrokerTokenMark; code?: string }>();
    const marks = await Promise.all(
      inc.targets.map((t) =>
        markToken(t.botId).then(
          (m) => ({ t, m }),
          (err: unknown) => ({ t, err: toGuardError(err) }),
        ),
      ),
    );
    for (const x of marks) {
      // No credentials: no key, no token to revoke.
      if ('err' in x && x.err.code === 'KG4003') continue;
      const k = 'm' in x ? x.m.key : `bot:${x.t.botId}`;
      const e = byKey.get(k) ?? { bots: [], ...('m' in x ? { mark: x.m } : { code: x.err.code }) };
      e.bots.push(x.t.botId);
      byKey.set(k, e);
    }
    // The lockdown's own calls left the token idle (or lingering): it goes now, not after a linger.
    await Promise.allSettled([...byKey.values()].filter((e) => e.mark?.version).map((e) => opts.tokens.revokeOutstanding(e.bots[0]!)));
    const records = await Promise.all(
      [...byKey].map(async ([key, e]): Promise<BrokerTokenRevoke> => {
        const base = { key, bots: e.bots, at: iso(now()), ...(e.mark?.version ? { version: e.mark.version } : {}) };
        // Not even marked (the store did not answer): it cannot be followed, so it is not called revoked.
        if (!e.mark) return { ...base, state: 'failed', code: e.code ?? 'KG7001' };
        // No token was live after the lockdown's calls: nothing of this key's is left to revoke.
        if (!e.mark.version) return { ...base, state: 'revoked' };
        return refresh(inc.id, { ...base, state: 'pending' });
      }),
    );
    await Promise.all(records.map((r) => save(inc.id, r)));
    const s2 = inc.steps.find((s) => s.step === REVOKE_STEP);
    if (s2) Object.assign(s2, stepWith(s2, records));
    followLater(
      inc.id,
      records.filter((r) => r.state !== 'revoked' && r.version),
    );
  }

  async function merge(inc: Incident): Promise<Pick<Incident, 'steps' | 'timeline' | 'brokerTokens'>> {
    const raw = await store.hgetall(K.brokerTokens(inc.id));
    if (Object.keys(raw).length === 0) return { steps: inc.steps, timeline: inc.timeline };
    // The replica that followed a token may be gone: what is not revoked yet is read afresh.
    const records = await Promise.all(Object.values(raw).map((v) => refresh(inc.id, JSON.parse(v) as BrokerTokenRevoke)));
    const events = records.flatMap((r) => [
      ...(r.failedAt ? [{ at: r.failedAt, event: 'broker token revoke FAILED', detail: `${r.bots.join(', ')}: ${r.code ?? 'failed'}` }] : []),
      ...(r.state === 'revoked' ? [{ at: r.at, event: 'broker token revoked', detail: r.bots.join(', ') }] : []),
    ]);
    return {
      steps: inc.steps.map((s) => (s.step === REVOKE_STEP ? { ...s, ...stepWith(s, records) } : s)),
      timeline: [...inc.timeline, ...events].sort((a, b) => a.at.localeCompare(b.at)),
      brokerTokens: records.map(({ version: _v, ...r }) => r),
    };
  }

  return {
    followed: markToken !== undefined && tokenState !== undefined,
    follow,
    merge,
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

/** Step 2 from its own tasks' errors and its keys' tokens: done only when every token is revoked. */
function stepWith(s: StepTiming, records: readonly BrokerTokenRevoke[]): Pick<StepTiming, 'ok' | 'status' | 'errors'> {
  const notRevoked = records
    .filter((r) => r.state === 'failed')
    .map((r) => `broker token of ${r.bots.join(', ')} not revoked (${r.code}${r.attempts ? `, ${r.attempts} attempts; retrying` : ''})`);
  const errors = [...s.errors.filter((e) => !e.startsWith('broker token of ')), ...notRevoked];
  const status = errors.length ? 'failed' : records.some((r) => r.state === 'pending') ? 'pending' : 'done';
  return { ok: status === 'done', status, errors };
}
