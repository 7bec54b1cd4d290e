// Risk on realtime condition searches (CNSRREQ, CNSRCLR): judged by the same
// engine as REST calls (a new source, an odd hour, a condition this bot never
// ran), settled the same way (lockdown, alert: settleRisk), and learned once
// they went out. A WebSocket message cannot wait for approval: above step-up
// the policy's own risk rule refuses a search request, naming builtin.risk-step-up.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import { type PolicyEngineInternals, riskRuleFor } from '../policy/index.js';
import type { Responder } from '../response/index.js';
import type { RiskEngine, RiskInput } from '../risk/index.js';
import type { RiskView } from './context.js';
import { settleRisk } from './pipeline/risk.js';
import { msUntilSeoulMidnight, returnedOk } from '../kiwoom/protocol/index.js';
import { NON_STOCK_TYPES, type Registration } from '../kiwoom/realtime/protocol.js';

/** The engine's view of a condition-search message (bench/risk builds its inputs with this too). */
export function conditionRiskInput(bot: { id: string; account: string }, apiId: string, seq: string, sourceIp: string, now: number): RiskInput {
  return { botId: bot.id, account: bot.account, apiId, kind: 'realtime', condition: seq, sourceIp, now };
}

/** The engine's view of a realtime LOGIN: a call from the socket's address (kind auth; uncounted: no escalation). */
export function loginRiskInput(bot: { id: string; account: string }, sourceIp: string, now: number): RiskInput {
  return { botId: bot.id, account: bot.account, apiId: 'LOGIN', kind: 'auth', sourceIp, now, uncounted: true };
}

/** The engine's view of a REG: a call about each stock it registers (none: nothing to learn, undefined). */
export function registrationRiskInput(
  bot: { id: string; account: string },
  items: readonly Registration[],
  sourceIp: string,
  now: number,
): RiskInput | undefined {
  const watched = [...new Set(items.filter((r) => r.item !== '' && !NON_STOCK_TYPES.has(r.type)).map((r) => r.item))];
  return watched.length === 0 ? undefined : { botId: bot.id, account: bot.account, apiId: 'REG', kind: 'realtime', sourceIp, now, watched };
}

/** What the audit record of the message carries (as a REST call's intent record does): `kguard risk explain <requestId>`. */
export interface ConditionJudgement {
  readonly requestId: string;
  readonly apiId: string;
  readonly risk: RiskView;
}

export interface ConditionRisk {
  /** Scores the message; at high risk locks the bot down and throws KG3008. */
  assess(
    bot: { id: string; account: string },
    apiId: string,
    seq: string,
    sourceIp: string,
  ): Promise<{ input: RiskInput; score: number; judgement: ConditionJudgement }>;
  /**
   * Judges a LOGIN as a call from the socket's address (kind auth: no novelty of api-id; uncounted: no escalation): a bot pinned to its
   * machines (risk.location.botCidrs) that logs in from elsewhere is locked down and refused (KG3008), as its REST
   * call from there is, before anything of the account reaches the socket. An alert-level login raises the alert.
   * A LOGIN cannot wait for an approval: one above the policy's step-up (a new address at night: location and time)
   * is refused, naming the risk rule, as a condition search is (KG3001); its REST calls would each be held.
   */
  login(bot: { id: string; account: string }, sourceIp: string): Promise<void>;
  /**
   * Learns a message that went out and Kiwoom carried out (`reply.return_code` 0); one Kiwoom refused ran nothing and
   * is not learned, so a refused condition does not become one the bot "ran". A failure is logged: the search already ran.
   */
  learn(input: RiskInput, reply: Readonly<Record<string, unknown>>): Promise<void>;
  /**
   * Learns a REG that registered as a call about each stock it names: a bot that watches its names over the
   * WebSocket has looked at them, as one that quotes them has (its first order in one is a fresh name's, not a new
   * one's; its buys in them are not dormant). A failure is logged: the registration already stands.
   */
  registered(bot: { id: string; account: string }, items: readonly Registration[], sourceIp: string): Promise<void>;
  /**
   * The check a session runs at each re-check: from the first one past a Seoul midnight, what it still has registered
   * is learned again, once that day. A bot that keeps its socket and its REG for days looks at those names every day;
   * else its buys in them would count as dormant (risk.dormantBuys) from the second day on.
   */
  daily(session: () => { bot: { id: string; account: string }; registered: readonly Registration[] }, sourceIp: string): () => Promise<void>;
}

export function createConditionRisk(deps: {
  risk: Pick<RiskEngine, 'assess' | 'learn' | 'isHighRisk'>;
  responder: Pick<Responder, 'onHighRisk' | 'onRiskAlert'>;
  policy: Pick<PolicyEngineInternals, 'compiled'>;
  clock: () => number;
  logger: Logger;
}): ConditionRisk {
  const risk: ConditionRisk = {
    async assess(bot, apiId, seq, sourceIp) {
      const input = conditionRiskInput(bot, apiId, seq, sourceIp, deps.clock());
      const requestId = randomUUID();
      const a = await deps.risk.assess(input);
      const risk = await settleRisk(deps, a, { botId: bot.id, account: bot.account, apiId, requestId });
      return { input, score: a.score, judgement: { requestId, apiId, risk } };
    },
    async login(bot, sourceIp) {
      const a = await deps.risk.assess(loginRiskInput(bot, sourceIp, deps.clock()));
      await settleRisk(deps, a, { botId: bot.id, account: bot.account, apiId: 'LOGIN', requestId: randomUUID() });
      const policy = deps.policy.compiled();
      if (!policy) throw new GuardError('KG3003', 'no valid policy loaded');
      const rule = riskRuleFor(a.score, policy);
      if (rule) throw new GuardError('KG3001', `rule=${rule.id} ${rule.reason}`);
    },
    async learn(input, reply) {
      await deps.risk
        .learn(input, { allowed: true, completed: returnedOk(reply.return_code) })
        .catch((err) => deps.logger.warn({ err: String(err), botId: input.botId, apiId: input.apiId }, 'risk learning of a condition search failed'));
    },
    async registered(bot, items, sourceIp) {
      const input = registrationRiskInput(bot, items, sourceIp, deps.clock());
      if (!input) return;
      await deps.risk
        .learn(input, { allowed: true, completed: true })
        .catch((err) => deps.logger.warn({ err: String(err), botId: bot.id }, 'risk learning of a realtime registration failed'));
    },
    daily(session, sourceIp) {
      const opened = deps.clock();
      let next = opened + msUntilSeoulMidnight(opened);
      return async () => {
        const now = deps.clock();
        if (now < next) return;
        next = now + msUntilSeoulMidnight(now);
        const { bot, registered } = session();
        await risk.registered(bot, registered, sourceIp);
      };
    },
  };
  return risk;
}
