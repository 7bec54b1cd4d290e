// Everything the stages need, named once. The sidecar builds it; stages take
// only what they use. No stage is optional: a part that is switched off by
// configuration still answers (the risk engine scores 0, approvals refuse).
import type { Logger } from 'pino';
import type { Auditor } from '../../audit/types.js';
import type { BotRegistry, Sessions } from '../../auth/index.js';
import type { ApprovalConfig, ApprovalService } from '../../approval/index.js';
import type { Upstream } from '../../kiwoom/upstream.js';
import type { PolicyEngineInternals } from '../../policy/engine.js';
import type { PolicyEngine } from '../../policy/types.js';
import type { Responder } from '../../response/index.js';
import type { RiskEngine } from '../../risk/index.js';
import type { LoginLimiter } from './login-limit.js';
import type { RealKeyReporter } from './real-key.js';

export interface PipelineDeps {
  maxBodyBytes: number;
  /** limits.maxBodyDepth: how deep a body may nest (parse stage). */
  maxBodyDepth: number;
  okMessage: string;
  bots: BotRegistry;
  sessions: Sessions;
  /** evaluate() takes the trading state read early (PolicyEngineInternals does). */
  policy: PolicyEngine &
    Pick<PolicyEngineInternals, 'plan' | 'marketData' | 'referencePrice' | 'decide' | 'chargeLimits' | 'originalOrder' | 'recordsOrders' | 'recordOrder'>;
  auditor: Auditor;
  /** Governor slot, the key's broker session, Kiwoom's refusals handled. */
  upstream: Upstream;
  risk: RiskEngine;
  approvals: ApprovalService;
  approvalConfig: ApprovalConfig;
  /** limits.requestTimeoutMs: a held call is answered then, so its approval ends then too. */
  requestTimeoutMs?: number;
  responder: Responder;
  logger: Logger;
  /** Clock for behaviour analysis (risk time-of-week, live counters). */
  clock: () => number;
  /** Wrong bot secrets per source address, and the cool-down after them (token and revoke). */
  loginLimiter: LoginLimiter;
  /** Hears of a real Kiwoom app key presented at the token exchange (alert, metric, audit). */
  realKey?: RealKeyReporter;
}
