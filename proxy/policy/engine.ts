// The policy engine: loads and compiles the policy file, swaps it atomically on
// change, and evaluates calls. No valid policy → every call is refused (KG3003).
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { GuardError, isGuardError, type Language } from '../common/errors.js';
import { calendarCoverage, calendarWarning } from '../common/market-calendar.js';
import type { Store } from '../state/types.js';
import type { CompiledPolicy, MarketSnapshot, OrderTerms } from './compiled.js';
import { compilePolicy } from './compile.js';
import type { PolicyConfig } from './config.js';
import { PolicyLoadError, policyIssue } from './errors.js';
import { chargeLimits, decideOnSnapshot, evaluatePolicy, planPolicy, type EvalDeps, type EvalOptions, type PolicyPlan, type Step } from './evaluate.js';
import { type NamedInRule, parsePolicySource, policyVersion, readPolicyBytes } from './load.js';
import { createMarketFetcher } from './market.js';
import { createPolicyMetrics } from './metrics.js';
import { orderNamedBy, recordAccepted } from './orders.js';
import { forgetBotCounters, settleCounts } from './stateful.js';
import { readTradingState, setTradingState } from './trading-state.js';
import type { Decision, EffectiveTradingState, MarketData, PolicyCall, PolicyEngine, PolicyInfo } from './types.js';
import { watchPolicyFile } from './watch.js';
import { callFacts } from './facts.js';

export interface PolicyEngineOptions {
  config: PolicyConfig;
  store: Store;
  market: MarketData;
  registry: Registry;
  logger: Logger;
  now?: () => Date;
  /** Language of generated reasons when the policy file does not say (the sidecar's `language`). Default ko. */
  language?: Language;
}

/** A trading-state read started earlier (concurrently with other reads) for this bot and account. */
export interface PrefetchedTradingState {
  readonly botId: string;
  readonly account: string;
  /** From `engine.tradingState(botId, account)`; a rejection fails the evaluation closed, as a read would. */
  readonly state: Promise<EffectiveTradingState>;
}

export interface EvaluateOptions {
  tradingState?: PrefetchedTradingState;
}

/** A decision under way in the request pipeline: what the plan still needs. */
export interface PendingDecision {
  readonly call: PolicyCall;
  readonly plan: PolicyPlan;
  /** Market data the remaining rules need; 0 = nothing to fetch. */
  readonly wanted: number;
  /** Time spent deciding so far (market data fetches excluded). */
  spentMs: number;
}

export type PolicyStep = { readonly decision: Decision; readonly pending?: undefined } | { readonly decision?: undefined; readonly pending: PendingDecision };

/** Internal extension used by the CLI, tests and the request pipeline. */
export interface PolicyEngineInternals extends PolicyEngine {
  /**
   * The pipeline's steps, each a stage: the plan and the snapshot decision are
   * pure; market data and counters are the only I/O, and each runs only when
   * the plan says it is needed.
   */
  plan(call: PolicyCall, state: EffectiveTradingState): PolicyStep;
  marketData(pending: PendingDecision): Promise<MarketSnapshot>;
  /**
   * A symbol's reference price (a quote) through the market-data cache the rules use, so the risk stage's
   * price for an order at the market and the policy's notional are one broker call (null: cannot tell).
   */
  referencePrice(botId: string, symbol: string, venue: string | undefined): Promise<number | null>;
  decide(pending: PendingDecision, market: MarketSnapshot): PolicyStep;
  chargeLimits(pending: PendingDecision): Promise<Decision>;
  /**
   * For a modify or cancel, when the policy in force selects such calls by side: the sidecar's record of the
   * order it names (null: none), for PolicyCall.original. undefined: not needed. A Store failure rejects (KG7001).
   */
  originalOrder(call: PolicyCall): Promise<OrderTerms | null | undefined>;
  /** Whether the policy in force charges modifies against the orders they name or selects them by side (then recordOrder is wanted). */
  recordsOrders(): boolean;
  /** The broker accepted this order, modify or cancel under `orderNo`: recorded for later modifies (orders.ts). */
  recordOrder(call: PolicyCall, decision: Decision, orderNo: string): Promise<void>;
  /** The tightest enforced `realtime-limits` caps for this bot and account (undefined = no rule). */
  realtimeCaps(botId: string, account: string): { maxRegistrations?: number; maxLiveSearches?: number };
  /** As PolicyEngine.evaluate; a prefetched trading state replaces the engine's own read (same semantics). */
  evaluate(call: PolicyCall, opts?: EvaluateOptions): Promise<Decision>;
  evaluateWith(call: PolicyCall, opts: EvalOptions): Promise<Decision>;
  compiled(): CompiledPolicy | undefined;
}

export async function createPolicyEngine(opts: PolicyEngineOptions): Promise<PolicyEngineInternals> {
  const { config, store, logger } = opts;
  const log = logger.child({ part: 'policy' });
  const nowDate = opts.now ?? (() => new Date());
  const nowMs = () => nowDate().getTime();
  const language = opts.language ?? 'ko';
  const metrics = createPolicyMetrics(opts.registry, config.metricsMaxRuleLabels);
  // At 0 from start: a series born at 1 shows Prometheus no increase, and the first rejected edit would raise no alert.
  for (const outcome of ['success', 'invalid', 'unchanged']) metrics.reloads.inc({ outcome }, 0);
  metrics.editRejected.set(0);
  const fetcher = createMarketFetcher({
    market: opts.market,
    ttlMs: config.referencePriceTtlMs,
    cacheSize: config.referencePriceCacheSize,
    timeoutMs: config.marketDataTimeoutMs,
    now: nowMs,
    errors: metrics.marketErrors,
    // Only the error's code or class is logged: a MarketData failure could carry upstream text we do not control.
    onError: (source, err) =>
      log.warn(
        { source, err: isGuardError(err) ? err.code : err instanceof Error ? err.name : typeof err },
        'policy market data unavailable; rules needing it deny',
      ),
  });

  let active: { policy: CompiledPolicy; info: PolicyInfo; names: readonly NamedInRule[] } | undefined;
  let lastError: PolicyLoadError | undefined;
  let closed = false;
  let reloading: Promise<{ ok: boolean; changed: boolean; error?: PolicyLoadError }> | undefined;

  const storeErrors = (err: unknown): never => {
    if (isGuardError(err)) throw err;
    throw new GuardError('KG7001', undefined, { cause: err });
  };
  const deps: EvalDeps = {
    store,
    market: (needs, f) => fetcher.fetch(needs, f),
    tradingState: (botId, account) => readTradingState(store, botId, account),
  };

  // The content version of the file last rejected: read again unchanged (a recheck every policy.recheckIntervalMs),
  // it gets the same answer without being parsed, counted or logged again.
  let rejected: string | undefined;

  async function loadOnce(): Promise<{ ok: boolean; changed: boolean; error?: PolicyLoadError }> {
    let version: string | undefined;
    try {
      const bytes = await readPolicyBytes(config.file, config);
      version = policyVersion(bytes);
      // Same bytes as the active policy: nothing to parse (a spurious watch event costs one read).
      if (active && active.policy.version === version) {
        metrics.reloads.inc({ outcome: 'unchanged' });
        lastError = undefined;
        rejected = undefined;
        metrics.editRejected.set(0);
        return { ok: true, changed: false };
      }
      if (version === rejected && lastError) return { ok: false, changed: false, error: lastError };
      const loaded = parsePolicySource(bytes, config.file, config);
      const policy = compilePolicy(loaded, language);
      // The swap is one assignment: a call in flight keeps the policy it started with.
      active = { policy, info: { version: loaded.version, file: config.file, loadedAt: nowDate().toISOString() }, names: loaded.names };
      lastError = undefined;
      rejected = undefined;
      metrics.editRejected.set(0);
      metrics.reloads.inc({ outcome: 'success' });
      metrics.valid.set(1);
      metrics.info.reset();
      metrics.info.set({ version: loaded.version, name: (loaded.doc.name ?? '').slice(0, 64) }, 1);
      log.info({ version: loaded.version, file: config.file, rules: policy.rules.length }, 'policy loaded');
      const cal = calendarCoverage('policy', policy.holidays, nowMs(), config.calendarWarnDays);
      if (cal?.short)
        log.warn(
          { file: config.file, coveredThrough: cal.coveredThrough, daysLeft: cal.daysLeft, warnDays: config.calendarWarnDays },
          calendarWarning(cal, language),
        );
      return { ok: true, changed: true };
    } catch (err) {
      const error =
        err instanceof PolicyLoadError
          ? err
          : new PolicyLoadError(config.file, [
              policyIssue({ file: config.file, line: 1, column: 1, path: '' }, 'not-compiled', { detail: (err as Error).message }),
            ]);
      lastError = error;
      rejected = version;
      metrics.editRejected.set(1);
      metrics.reloads.inc({ outcome: 'invalid' });
      metrics.valid.set(active ? 1 : 0);
      log.error(
        { file: config.file, issues: error.issues.slice(0, 20), keptVersion: active?.info.version },
        active ? 'policy file invalid; keeping the last good policy' : 'policy file invalid and no policy in force; refusing all calls',
      );
      return { ok: false, changed: false, error };
    }
  }

  function reload() {
    // Serialise reloads so two quick events cannot race each other's swap.
    const run = (reloading ?? Promise.resolve()).then(loadOnce, loadOnce);
    reloading = run;
    return run;
  }

  await reload();
  const watcher = config.watch
    ? watchPolicyFile(
        config.file,
        config.reloadDebounceMs,
        () => {
          if (!closed) void reload();
        },
        log,
        config.recheckIntervalMs,
      )
    : undefined;

  function depsFor(prefetched: PrefetchedTradingState | undefined): EvalDeps {
    if (!prefetched) return deps;
    return {
      ...deps,
      // Only for the bot and account it was read for; anything else is read as usual.
      tradingState: (botId, account) =>
        botId === prefetched.botId && account === prefetched.account ? prefetched.state : readTradingState(store, botId, account),
    };
  }

  function current(): CompiledPolicy {
    if (closed) throw new GuardError('KG9002');
    if (!active) throw new GuardError('KG3003', 'no valid policy loaded');
    return active.policy;
  }

  function finished(call: PolicyCall, decision: Decision, elapsedMs: number): Decision {
    decision.evalMicros = Math.round(elapsedMs * 1000);
    metrics.evalSeconds.observe({ outcome: decision.outcome }, elapsedMs / 1000);
    metrics.decisions.inc({ rule: decision.ruleId ? metrics.ruleLabel(decision.ruleId) : 'none', decision: decision.outcome });
    for (const id of decision.shadowDenies) metrics.decisions.inc({ rule: metrics.ruleLabel(id), decision: 'shadow-deny' });
    if (decision.shadowDenies.length > 0 && log.isLevelEnabled('info'))
      log.info(
        { bot: call.botId, apiId: call.apiId, shadowDenies: decision.shadowDenies, policyVersion: decision.policyVersion },
        'policy shadow rules would have denied',
      );
    return decision;
  }

  function failed(started: number, err: unknown): never {
    metrics.evalSeconds.observe({ outcome: 'error' }, (performance.now() - started) / 1000);
    return storeErrors(err);
  }

  function step(call: PolicyCall, s: Step, spentMs: number): PolicyStep {
    if (s.decision) return { decision: finished(call, s.decision, spentMs) };
    return { pending: { call, plan: s.plan, wanted: s.plan.wanted, spentMs } };
  }

  async function run(call: PolicyCall, evalOpts: EvalOptions, prefetched?: PrefetchedTradingState): Promise<Decision> {
    const policy = current();
    const started = performance.now();
    let decision: Decision;
    try {
      decision = await evaluatePolicy(policy, call, depsFor(prefetched), nowMs(), evalOpts);
    } catch (err) {
      return failed(started, err);
    }
    return finished(call, decision, performance.now() - started);
  }

  return {
    evaluate: (call, opts) => run(call, {}, opts?.tradingState),
    plan(call, state) {
      const policy = current();
      const started = performance.now();
      return step(call, planPolicy(policy, call, state, nowMs()), performance.now() - started);
    },
    marketData: (pending) => fetcher.fetch(pending.wanted, pending.plan.facts),
    referencePrice: (botId, symbol, venue) => fetcher.referencePrice(botId, symbol, venue),
    realtimeCaps(botId, account) {
      const caps: { maxRegistrations?: number; maxLiveSearches?: number } = {};
      for (const r of current().rules) {
        const c = r.realtimeCaps;
        if (!c || r.mode !== 'enforce' || (r.bots && !r.bots.has(botId)) || (r.accounts && !r.accounts.has(account))) continue;
        if (c.maxRegistrations !== undefined) caps.maxRegistrations = Math.min(caps.maxRegistrations ?? Infinity, c.maxRegistrations);
        if (c.maxLiveSearches !== undefined) caps.maxLiveSearches = Math.min(caps.maxLiveSearches ?? Infinity, c.maxLiveSearches);
      }
      return caps;
    },
    decide(pending, market) {
      const started = performance.now();
      return step(pending.call, decideOnSnapshot(pending.plan, market), pending.spentMs + performance.now() - started);
    },
    async chargeLimits(pending) {
      const started = performance.now();
      let decision: Decision;
      try {
        decision = await chargeLimits(pending.plan, store);
      } catch (err) {
        return failed(started, err);
      }
      return finished(pending.call, decision, pending.spentMs + performance.now() - started);
    },
    evaluateWith: (call, evalOpts) => run(call, evalOpts),
    compiled: () => active?.policy,
    calendar: (at) => (active ? calendarCoverage('policy', active.policy.holidays, at ?? nowMs(), config.calendarWarnDays) : undefined),

    async recordOutcome(call, decision, outcome) {
      // What was counted and charged at admission is settled even when the policy was swapped since (its keys are in the decision).
      const scopes = active?.policy.counterScopes ?? new Set();
      if (scopes.size === 0 && decision.counted === undefined && decision.charged === undefined) return;
      try {
        await settleCounts(store, scopes, callFacts(call, nowMs()), decision, outcome);
      } catch (err) {
        storeErrors(err);
      }
    },
    async forgetBot(botId, account) {
      try {
        await forgetBotCounters(store, active?.policy.rules ?? [], botId, account, nowMs());
      } catch (err) {
        storeErrors(err);
      }
    },
    async releaseClaims(decision) {
      try {
        await Promise.all((decision.claimed ?? []).map((k) => store.del(k)));
      } catch (err) {
        storeErrors(err);
      }
    },
    recordsOrders: () => active?.policy.recordsOrders === true,
    async originalOrder(call) {
      if (active?.policy.sidesOnBook !== true && active?.policy.symbolsOnBook !== true) return undefined;
      try {
        return await orderNamedBy(store, call, nowMs());
      } catch (err) {
        return storeErrors(err);
      }
    },
    async recordOrder(call, decision, orderNo) {
      const f = callFacts(call, nowMs());
      if (decision.outcome === 'deny' || (f.kind !== 'order' && f.kind !== 'modify' && f.kind !== 'cancel')) return;
      try {
        await recordAccepted(store, { f, orderNo, referencePrice: decision.market?.referencePrice ?? undefined }, config.maxOrderRecords);
      } catch (err) {
        storeErrors(err);
      }
    },

    current: () => active?.info,
    namedInRules: () => active?.names ?? [],
    lastError: () => lastError,
    health() {
      if (!active)
        throw new GuardError('KG3003', lastError ? `policy invalid: ${lastError.issues.length} problem(s) in ${lastError.file}` : 'no policy loaded');
    },
    async setTradingState(scope, state, reason) {
      try {
        await setTradingState(store, scope, state, reason, nowDate());
      } catch (err) {
        storeErrors(err);
      }
      log.warn({ scope, state, reason }, 'trading state changed');
    },
    async tradingState(botId, account) {
      try {
        return await readTradingState(store, botId, account);
      } catch (err) {
        return storeErrors(err);
      }
    },
    reload,
    async close() {
      closed = true;
      watcher?.close();
      await reloading?.catch(() => undefined);
      fetcher.clear();
    },
  };
}
