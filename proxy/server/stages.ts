// The stages of the bot-facing pipeline, each a plain function over the
// request context (Envoy's filter chain, fastify's hooks). Order matters:
// nothing that costs a key unwrap or a broker token runs before the call is
// authenticated, classified, judged by policy and risk, and its intent audited.
import { GuardError, type ErrorCode } from '../common/errors.js';
import { lookupApi } from '../kiwoom/catalogue.js';
import { bearerToken, botAllows, exchangeToken, revokeToken, type BotRegistry, type Sessions } from '../auth/index.js';
import type { Upstream } from '../kiwoom/upstream.js';
import type { PolicyEngine, Decision } from '../policy/types.js';
import type { PolicyEngineInternals, PrefetchedTradingState } from '../policy/engine.js';
import type { Auditor } from '../audit/types.js';
import { checkContentType, checkFraming, parseJsonObject, readApiId, readBody, readPaging, safeHeaderValue } from './http.js';
import { jsonReply, type NamedStage, type RequestContext, type RiskView } from './context.js';

export interface StageDeps {
  maxBodyBytes: number;
  okMessage: string;
  bots: BotRegistry;
  sessions: Sessions;
  /** evaluate() takes the trading state read early (PolicyEngineInternals does). */
  policy: PolicyEngine & Pick<PolicyEngineInternals, 'evaluate'>;
  auditor: Auditor;
  /** Governor slot, the key's broker session, Kiwoom's refusals handled. */
  upstream: Upstream;
  /** Optional risk engine: score in [0,1] with explainable contributions. */
  assessRisk?: (ctx: RequestContext) => Promise<RiskView | undefined>;
  /** Held calls (step-up / admin approval). Resolves when approved; throws a GuardError otherwise. */
  awaitApproval?: (ctx: RequestContext, decision: Decision) => Promise<void>;
  /** Lockdown check (global/bot/account), throws KG3008 while locked. */
  checkLockdown?: (ctx: RequestContext) => Promise<void>;
}

const ANY_METHOD_NOT_POST = (ctx: RequestContext) => ctx.req.method !== 'POST';

function framing(ctx: RequestContext): void {
  if (ANY_METHOD_NOT_POST(ctx)) throw new GuardError('KG1008');
  checkFraming(ctx.req);
  checkContentType(ctx.req);
}

function body(max: number) {
  return async (ctx: RequestContext) => {
    ctx.body = await readBody(ctx.req, max, ctx.signal);
  };
}

/**
 * Each call's session check against the store (revoked KG2004, bot disabled
 * KG2006, sessions killed KG2007): started by authenticate, awaited by assess
 * together with the other reads, so it costs no wait of its own.
 */
type LiveChecks = WeakMap<RequestContext, Promise<void>>;

/** Signature, issuer, audience and expiry here; the store's verdict is awaited in assess before anything acts on the call. */
function authenticate(deps: StageDeps, liveChecks: LiveChecks) {
  return async (ctx: RequestContext) => {
    const claims = await deps.sessions.verifySignature(bearerToken(ctx.req.headers.authorization));
    const live = deps.sessions.checkLive(claims);
    // Awaited later (assess, or sessionFirst on an error): never an unhandled rejection meanwhile.
    live.catch(() => undefined);
    liveChecks.set(ctx, live);
    ctx.claims = claims;
    const bot = deps.bots.get(claims.botId);
    if (!bot) throw new GuardError('KG2002', 'unknown bot');
    if (!bot.enabled) throw new GuardError('KG2006');
    ctx.bot = bot;
  };
}

/**
 * Between authenticate and assess, an error is answered only after the
 * session check: a revoked, killed or disabled session is refused with its own
 * code, as when the check ran first.
 */
function sessionFirst(liveChecks: LiveChecks, stage: NamedStage): NamedStage {
  return {
    name: stage.name,
    async run(ctx) {
      try {
        await stage.run(ctx);
      } catch (err) {
        await liveChecks.get(ctx);
        throw err;
      }
    },
  };
}

/** Upstream paths come from the catalogue, never from the bot's raw path. */
function classify(ctx: RequestContext): void {
  const apiId = readApiId(ctx.req);
  ctx.apiId = apiId;
  const entry = lookupApi(apiId);
  if (!entry) throw new GuardError('KG1004', apiId);
  if (entry.kind === 'auth' || entry.kind === 'realtime') throw new GuardError('KG1005', `${apiId} is not a TR call`);
  const url = ctx.req.url ?? '';
  if (url !== entry.path) throw new GuardError('KG1005', `${apiId} → ${entry.path}`);
  ctx.entry = entry;
  Object.assign(ctx, readPaging(ctx.req));
  ctx.intentional = ctx.req.headers['x-kguard-intentional'] === '1';
  const approval = ctx.req.headers['x-kguard-approval-id'];
  if (typeof approval === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(approval)) ctx.approvalId = approval;
}

function parse(ctx: RequestContext): void {
  ctx.json = parseJsonObject(ctx.body);
  for (const field of ctx.entry!.requiredFields) {
    if (!(field in ctx.json)) throw new GuardError('KG1010', field);
  }
}

/** The bot record's own least-privilege list applies on top of policy. */
function allowlist(ctx: RequestContext): void {
  if (!botAllows(ctx.bot!, ctx.apiId!, ctx.entry!.kind)) throw new GuardError('KG3002', ctx.apiId);
}

const JSON_CONTENT_TYPE_PATTERN = /^application\/json(\s*;\s*charset=[A-Za-z0-9_-]{1,32})?$/i;

const DECISION_ERRORS: Partial<Record<string, ErrorCode>> = { 'rate-limit': 'KG3005', 'daily-cap': 'KG3005' };

export function policyCall(ctx: RequestContext) {
  return {
    botId: ctx.bot!.id,
    account: ctx.bot!.account,
    apiId: ctx.apiId!,
    entry: ctx.entry,
    body: ctx.json!,
    intentional: ctx.intentional,
    riskScore: ctx.risk?.score,
  };
}

function assess(deps: StageDeps, liveChecks: LiveChecks) {
  return async (ctx: RequestContext) => {
    deps.policy.health(); // no valid policy → KG3003, fail closed
    const live = liveChecks.get(ctx);
    if (!live) throw new GuardError('KG9001', 'session check missing');
    const bot = ctx.bot!;
    // Reads without side effects go out together with the session check: one wait.
    const tradingState: PrefetchedTradingState = { botId: bot.id, account: bot.account, state: deps.policy.tradingState(bot.id, bot.account) };
    tradingState.state.catch(() => undefined); // evaluate awaits it only if the rules get that far
    const lockdown = deps.checkLockdown?.(ctx);
    lockdown?.catch(() => undefined); // awaited just below, after the session verdict
    await live;
    // Risk runs only for a live session: it has side effects (behaviour
    // counters, automatic lockdown, alerts) a revoked token must not cause.
    const [, risk] = await Promise.all([lockdown, deps.assessRisk?.(ctx)]);
    ctx.risk = risk;
    ctx.decision = await deps.policy.evaluate(policyCall(ctx), { tradingState });
  };
}

/**
 * An order's intent is fsynced (group commit) before the order goes out; a
 * read's intent is written in chain order without waiting for the disk.
 */
export function durabilityFor(kind: string): 'fsync' | 'write' {
  return kind === 'order' || kind === 'modify' || kind === 'cancel' || kind === 'transfer' ? 'fsync' : 'write';
}

/** The intent record must be durable before anything is forwarded (fail closed). */
function auditIntent(deps: StageDeps) {
  return async (ctx: RequestContext) => {
    const d = ctx.decision!;
    try {
      await deps.auditor.append({
        type: 'call.intent',
        requestId: ctx.id,
        botId: ctx.bot!.id,
        apiId: ctx.apiId,
        kind: ctx.entry!.kind,
        account: ctx.bot!.account,
        sourceIp: ctx.sourceIp,
        body: ctx.entry!.kind === 'query' ? undefined : ctx.json,
        decision: { outcome: d.outcome, ruleId: d.ruleId, ruleKind: d.ruleKind, reason: d.reason, matched: d.matched, shadowDenies: d.shadowDenies, policyVersion: d.policyVersion },
        risk: ctx.risk,
      }, { durability: durabilityFor(ctx.entry!.kind) });
    } catch (err) {
      throw err instanceof GuardError && err.code === 'KG6001' ? err : new GuardError('KG6001', undefined, { cause: err });
    }
  };
}

function enforce(deps: StageDeps) {
  return async (ctx: RequestContext) => {
    const d = ctx.decision!;
    if (d.outcome === 'allow') {
      // An approval id is single use even when this call would pass without
      // one: presenting it consumes it, a spent or foreign id is refused.
      if (ctx.approvalId && deps.awaitApproval) await deps.awaitApproval(ctx, d);
      return;
    }
    if (d.outcome === 'deny') {
      const code = DECISION_ERRORS[d.ruleKind ?? ''] ?? 'KG3001';
      const headers = d.retryAfterMs ? { 'retry-after': String(Math.ceil(d.retryAfterMs / 1000)) } : undefined;
      throw new GuardError(code, `rule=${d.ruleId ?? '?'} ${d.reason ?? ''}`.trim(), { headers });
    }
    if (!deps.awaitApproval) throw new GuardError('KG3001', `rule=${d.ruleId ?? '?'} approval required but no approval service`);
    await deps.awaitApproval(ctx, d);
    // The hold may have lasted minutes: a session ended, a bot disabled or a
    // lockdown pressed meanwhile must still stop the call (fail closed).
    await deps.sessions.checkLive(ctx.claims!);
    if (!deps.bots.get(ctx.bot!.id)?.enabled) throw new GuardError('KG2006');
    await deps.checkLockdown?.(ctx);
  };
}

/** Orders are never aborted once sent: the bot leaving does not un-send an order, and we want its outcome audited. */
function abortable(ctx: RequestContext): AbortSignal | undefined {
  const k = ctx.entry!.kind;
  return k === 'query' || k === 'account' ? ctx.signal : undefined;
}

function forward(deps: StageDeps) {
  return async (ctx: RequestContext) => {
    if (ctx.signal.aborted) throw new GuardError('KG5002', 'bot disconnected');
    const t0 = performance.now();
    try {
      // Forward a re-serialisation of exactly the value that was judged: no
      // duplicate keys or odd encodings the broker could read differently.
      ctx.upstream = await deps.upstream.call({
        botId: ctx.bot!.id, entry: ctx.entry!, body: Buffer.from(JSON.stringify(ctx.json)),
        contYn: ctx.contYn, nextKey: ctx.nextKey, signal: abortable(ctx),
      });
    } finally {
      ctx.upstreamMs = performance.now() - t0;
    }
    const up = ctx.upstream;
    // Only a plain JSON content type is copied; anything else is replaced, never echoed.
    const headers: Record<string, string> = { 'content-type': safeHeaderValue(up.contentType, JSON_CONTENT_TYPE_PATTERN) ?? 'application/json;charset=UTF-8' };
    const apiId = safeHeaderValue(up.apiId, /^[a-z]{2}\d{5}$/);
    const contYn = safeHeaderValue(up.contYn, /^[YN]$/);
    const nextKey = safeHeaderValue(up.nextKey);
    if (apiId) headers['api-id'] = apiId;
    if (contYn) headers['cont-yn'] = contYn;
    if (nextKey) headers['next-key'] = nextKey;
    ctx.reply = { status: up.status, headers, body: up.body };
  };
}

function tokenExchange(deps: StageDeps) {
  return async (ctx: RequestContext) => {
    const { bot, response, jti } = await exchangeToken(ctx.body, deps.bots, deps.sessions, deps.okMessage);
    ctx.bot = bot;
    await deps.auditor.append({ type: 'session.issued', requestId: ctx.id, botId: bot.id, jti, sourceIp: ctx.sourceIp }, { durability: 'write' }).catch(() => {
      throw new GuardError('KG6001');
    });
    ctx.reply = jsonReply(200, response);
  };
}

function tokenRevoke(deps: StageDeps) {
  return async (ctx: RequestContext) => {
    const { bot, claims } = await revokeToken(ctx.body, deps.bots, deps.sessions);
    ctx.bot = bot;
    await deps.auditor.append({ type: 'session.revoked', requestId: ctx.id, botId: bot.id, jti: claims.jti }).catch(() => undefined);
    ctx.reply = jsonReply(200, { return_code: 0, return_msg: deps.okMessage });
  };
}

export function buildPipelines(deps: StageDeps): Record<'token' | 'revoke' | 'tr', readonly NamedStage[]> {
  const readBodyStage = { name: 'body', run: body(deps.maxBodyBytes) };
  const liveChecks: LiveChecks = new WeakMap();
  const checked = (stage: NamedStage): NamedStage => sessionFirst(liveChecks, stage);
  return {
    token: [{ name: 'framing', run: framing }, readBodyStage, { name: 'token', run: tokenExchange(deps) }],
    revoke: [{ name: 'framing', run: framing }, readBodyStage, { name: 'revoke', run: tokenRevoke(deps) }],
    tr: [
      { name: 'framing', run: framing },
      checked({ name: 'authenticate', run: authenticate(deps, liveChecks) }),
      checked({ name: 'classify', run: classify }),
      checked(readBodyStage),
      checked({ name: 'parse', run: parse }),
      checked({ name: 'allowlist', run: allowlist }),
      checked({ name: 'assess', run: assess(deps, liveChecks) }),
      { name: 'audit-intent', run: auditIntent(deps) },
      { name: 'enforce', run: enforce(deps) },
      { name: 'forward', run: forward(deps) },
    ],
  };
}
