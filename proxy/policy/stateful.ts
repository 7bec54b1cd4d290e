// The last evaluation phase: counters kept in the Store (cancel-ratio counts,
// the duplicate guard, rate limits and daily caps). Apart from evaluate.ts
// because it is the only phase that writes state. Outside explain it runs only
// when nothing enforced denied before it, so a denied call does not use up a limit.
import type { LimitRequest, Store } from '../state/types.js';
import type { Accumulator } from './accumulator.js';
import type { CompiledRule, MarketSnapshot, Verdict } from './compiled.js';
import type { Scope } from './document.js';
import type { CallFacts } from './facts.js';
import { originalOrder } from './orders.js';
import { OUTCOME_COUNTER_TTL_MS, outcomeCounterKey } from './rules/counters.js';
import { seoulDate } from '../kiwoom/protocol/index.js';
import type { CallOutcome, Decision } from './types.js';

/** Gives back counts taken at admission by a call that is not going out (best effort: the call is refused either way). */
async function uncount(store: Store, keys: readonly string[]): Promise<void> {
  await Promise.all(keys.map((k) => store.incr(k, -1, OUTCOME_COUNTER_TTL_MS))).catch(() => undefined);
}

/**
 * The broker answered a call the policy let through: an accepted order, cancel or modify is counted in every
 * scope the cancel-ratio rules count in, except where it was counted at admission (Decision.counted). A call that
 * certainly had no effect (outcome.notPlaced: refused, or never sent) gives back what it was counted under and what
 * the daily caps charged it (Decision.charged); one whose fate is not known keeps both: it may have taken effect.
 */
export async function settleCounts(
  store: Store,
  scopes: ReadonlySet<Scope>,
  f: Pick<CallFacts, 'botId' | 'account' | 't' | 'kind'>,
  decision: Pick<Decision, 'outcome' | 'counted' | 'charged'>,
  outcome: Pick<CallOutcome, 'ok' | 'notPlaced'>,
): Promise<void> {
  const counted = decision.counted ?? [];
  if (decision.outcome === 'deny') return uncount(store, counted);
  if (!outcome.ok) {
    // Only a call that certainly had no effect gives back: a cancel written and never answered may have cancelled.
    if (outcome.notPlaced !== true) return;
    const charged = decision.charged ?? [];
    await Promise.all([uncount(store, counted), charged.length > 0 ? store.refund(charged) : undefined]);
    return;
  }
  const what = f.kind === 'order' ? 'orders' : f.kind === 'cancel' ? 'cancels' : f.kind === 'modify' ? 'modifies' : undefined;
  if (what === undefined) return;
  const keys = [...scopes].map((scope) => outcomeCounterKey(scope, f, what)).filter((k) => !counted.includes(k));
  await Promise.all(keys.map((k) => store.incr(k, 1, OUTCOME_COUNTER_TTL_MS)));
}

/**
 * Deletes today's counters of one bot (its rate limits, daily caps and order/cancel counts, scope bot or
 * bot-account), so a bot registered again under its id the same day starts from none. Shared scopes are kept.
 */
export async function forgetBotCounters(store: Store, rules: readonly CompiledRule[], botId: string, account: string, t: number): Promise<void> {
  const keys = new Set<string>();
  for (const r of rules) for (const k of r.botKeys?.(botId, account, seoulDate(t)) ?? []) keys.add(k);
  for (const scope of ['bot', 'bot-account'] as const)
    for (const what of ['orders', 'cancels', 'modifies'] as const) keys.add(outcomeCounterKey(scope, { botId, account, t }, what));
  await Promise.all([...keys].map((k) => store.del(k)));
}

export async function statefulPhase(
  rules: readonly CompiledRule[],
  f: CallFacts,
  market: MarketSnapshot,
  store: Store,
  acc: Accumulator,
  dryRun: boolean,
): Promise<boolean> {
  // 4a: counted calls (cancel ratio). Outside explain the call is counted first and the counts read after,
  // so cancels sent at once each see the ones admitted before them; a call refused gives its count back.
  const readers = rules.filter((r) => r.counterKeys);
  if (readers.length > 0) {
    const own = dryRun ? [] : [...new Set(readers.map((r) => r.counterCharge?.(f)).filter((k): k is string => k !== undefined))];
    const charged = await Promise.allSettled(own.map((k) => store.incr(k, 1, OUTCOME_COUNTER_TTL_MS)));
    acc.counted = own.filter((_k, i) => charged[i]!.status === 'fulfilled');
    const byKey = new Map<string, number>();
    try {
      for (const c of charged) if (c.status === 'rejected') throw c.reason;
      for (let i = 0; i < own.length; i++) byKey.set(own[i]!, Number((charged[i] as PromiseFulfilledResult<number>).value));
      const keys = [...new Set(readers.flatMap((r) => r.counterKeys!(f)))].filter((k) => !byKey.has(k));
      const values = await Promise.all(keys.map((k) => store.get(k)));
      for (let i = 0; i < keys.length; i++) byKey.set(keys[i]!, Number(values[i] ?? 0) || 0);
    } catch (err) {
      await uncounted(store, acc);
      throw err;
    }
    const get = (k: string) => byKey.get(k) ?? 0;
    for (const r of readers) {
      const mine = r.counterCharge?.(f);
      if (acc.record(r, r.checkCounters!(f, { get, includesThisCall: mine !== undefined && acc.counted.includes(mine) }))) {
        await uncounted(store, acc);
        return true;
      }
    }
  }

  // The retry of a call an approval held is that call: its rate limits were charged when it was held. Its
  // daily caps and duplicate claims are not: the held call, never sent, gave both back when its request ended
  // (so a refused or lapsed hold leaves the same order free to be sent again), and the retry that may go out
  // claims and is charged (and judged) now, as any order: it cannot go out unguarded, nor be charged twice.
  const retry = f.approvalRetry === true;
  if (retry) for (const r of rules) if (r.limits && !r.refundable) acc.skip(r, 'skipped');
  const charging = retry ? rules.filter((r) => !r.limits || r.refundable === true) : rules;

  // 4b: duplicate guard, before anything is charged.
  const dups: { rule: CompiledRule; key: string }[] = [];
  for (const r of rules) {
    if (!r.duplicateKey) continue;
    const key = r.duplicateKey(f);
    if (key === undefined) {
      acc.record(r, undefined);
      continue;
    }
    dups.push({ rule: r, key: r.mode === 'shadow' ? `${key}:shadow` : key });
  }
  // Outside explain the keys are claimed now, before any limit is charged: an identical call that loses
  // the race is refused without using up a limit, and a call refused later gives its claims back.
  const claimed: string[] = [];
  const release = async (): Promise<void> => {
    // Best effort: the call is refused either way, and a key left behind only refuses its own duplicate.
    await Promise.all([Promise.all(claimed.map((k) => store.del(k))).catch(() => undefined), uncounted(store, acc), uncharged(store, acc)]);
  };
  let free: boolean[] = [];
  if (dups.length > 0) {
    try {
      free = dryRun
        ? (await Promise.all(dups.map((d) => store.get(d.key)))).map((v) => v === null)
        : await Promise.all(dups.map((d) => store.setIfAbsent(d.key, '1', d.rule.duplicateTtlMs!)));
    } catch (err) {
      await uncounted(store, acc);
      throw err;
    }
    dups.forEach((d, i) => {
      if (free[i] && !dryRun) claimed.push(d.key);
    });
    for (let i = 0; i < dups.length; i++) {
      if (free[i]) continue;
      if (acc.record(dups[i]!.rule, { outcome: 'deny', reason: dups[i]!.rule.duplicateReason! })) {
        await release();
        return true;
      }
    }
  }

  // 4c: a call refused here (or by a Store failure) was never sent: it gives its duplicate claims back
  // (and, in explain, what the limits charged it).
  let stopped: boolean;
  try {
    stopped = await chargeCounters(charging, f, market, store, acc, dryRun);
  } catch (err) {
    await release();
    throw err;
  }
  if (stopped || acc.deny !== undefined) {
    await release();
    if (stopped) return true;
  }

  // 4d: the duplicate guards that passed; their claims are given back if the call does not become an order.
  if (!dryRun) for (let i = 0; i < dups.length; i++) if (free[i]) acc.record(dups[i]!.rule, undefined);
  acc.claimed = claimed;
  return false;
}

/** The call is refused: the counts it took at admission are given back, and the decision names none. */
async function uncounted(store: Store, acc: Accumulator): Promise<void> {
  const keys = acc.counted;
  acc.counted = [];
  await uncount(store, keys);
}

/** The call is refused after its limits were charged (explain goes on past a deny): daily caps get theirs back. */
async function uncharged(store: Store, acc: Accumulator): Promise<void> {
  const limits = acc.charged;
  acc.charged = [];
  if (limits.length > 0) await store.refund(limits).catch(() => undefined);
}

/**
 * Rate limits and daily caps: every enforced limit in one atomic consume, then each shadow rule's in its own; in
 * explain (dryRun) all are peeked. True when a deny stops evaluation.
 */
async function chargeCounters(
  rules: readonly CompiledRule[],
  f: CallFacts,
  market: MarketSnapshot,
  store: Store,
  acc: Accumulator,
  dryRun: boolean,
): Promise<boolean> {
  const enforced: LimitRequest[] = [];
  const enforcedOwner: { rule: CompiledRule; index: number }[] = [];
  const shadow: LimitRequest[] = [];
  const shadowOwner: { rule: CompiledRule; index: number }[] = [];
  // A modify is charged against the order it names (daily caps): its recorded terms, null when never seen.
  const original = f.kind === 'modify' && rules.some((r) => r.needsOriginalOrder) ? await originalOrder(store, f) : undefined;
  for (const r of rules) {
    if (!r.limits) continue;
    const reqs = r.limits(f, market, original);
    if (reqs === undefined) continue;
    if (!Array.isArray(reqs)) {
      if (acc.record(r, reqs)) return true;
      continue;
    }
    // Nothing to charge (a modify that adds no notional): the rule passed.
    if (reqs.length === 0) {
      acc.record(r, undefined);
      continue;
    }
    const into = r.mode === 'shadow' ? shadow : enforced;
    const owners = r.mode === 'shadow' ? shadowOwner : enforcedOwner;
    reqs.forEach((q, index) => {
      into.push(q);
      owners.push({ rule: r, index });
    });
  }
  if (enforced.length > 0) {
    if (dryRun) {
      const usage = await store.peek(enforced);
      const failed = new Set<CompiledRule>();
      for (let i = 0; i < enforced.length; i++) {
        const q = enforced[i]!;
        const o = enforcedOwner[i]!;
        if (!failed.has(o.rule) && usage[i]! + (q.cost ?? 1) > q.limit) {
          failed.add(o.rule);
          if (acc.record(o.rule, { outcome: 'deny', reason: o.rule.limitReason!(o.index, q, usage[i]!) })) return true;
        }
      }
      for (const o of new Set(enforcedOwner.map((x) => x.rule))) if (!failed.has(o)) acc.record(o, undefined);
    } else {
      const result = await store.consume(enforced);
      if (!result.allowed) {
        const i = result.failedIndex ?? 0;
        const o = enforcedOwner[i]!;
        const q = enforced[i]!;
        // The Store reports usage with this call's cost in it; a reason tells what was used before the call.
        const before = Math.max(0, (result.usage[i] ?? 0) - (q.cost ?? 1));
        const v: Verdict = { outcome: 'deny', reason: o.rule.limitReason!(o.index, q, before) };
        if (result.retryAfterMs !== undefined) v.retryAfterMs = result.retryAfterMs;
        if (acc.record(o.rule, v)) return true;
      } else {
        acc.charged = enforced.filter((_q, i) => enforcedOwner[i]!.rule.refundable === true);
        for (const o of new Set(enforcedOwner.map((x) => x.rule))) acc.record(o, undefined);
      }
    }
  }
  // Shadow limits count as they would if enforced: a call that goes out is charged to each shadow rule's own
  // counters (a rule at a time, so one over its limit charges nothing and leaves the others charged), and a call
  // over one is its would-deny. Peeked only (charged nothing), shadow counters never moved and never said so.
  // After the enforced ones: a call they refuse is charged to no shadow rule either.
  if (shadow.length > 0) await chargeShadow(shadow, shadowOwner, store, acc, dryRun);

  return false;
}

async function chargeShadow(
  shadow: readonly LimitRequest[],
  owners: readonly { rule: CompiledRule; index: number }[],
  store: Store,
  acc: Accumulator,
  dryRun: boolean,
): Promise<void> {
  const rules = [...new Set(owners.map((o) => o.rule))];
  const mine = (r: CompiledRule) => shadow.map((q, i) => ({ q, o: owners[i]! })).filter((x) => x.o.rule === r);
  await Promise.all(
    rules.map(async (rule) => {
      const reqs = mine(rule);
      if (dryRun) {
        const usage = await store.peek(reqs.map((x) => x.q));
        const over = reqs.findIndex((x, i) => usage[i]! + (x.q.cost ?? 1) > x.q.limit);
        acc.record(rule, over < 0 ? undefined : { outcome: 'deny', reason: rule.limitReason!(reqs[over]!.o.index, reqs[over]!.q, usage[over]!) });
        return;
      }
      const result = await store.consume(reqs.map((x) => x.q));
      if (result.allowed) {
        if (rule.refundable === true) acc.charged.push(...reqs.map((x) => x.q));
        acc.record(rule, undefined);
        return;
      }
      const i = result.failedIndex ?? 0;
      const before = Math.max(0, (result.usage[i] ?? 0) - (reqs[i]!.q.cost ?? 1));
      acc.record(rule, { outcome: 'deny', reason: rule.limitReason!(reqs[i]!.o.index, reqs[i]!.q, before) });
    }),
  );
}
