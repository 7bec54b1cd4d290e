// Public API of the policy part.
export { parsePolicyConfig, POLICY_CONFIG_DEFAULTS, type PolicyConfig } from './config.js';
export { createPolicyEngine, type PolicyEngineOptions, type PolicyEngineInternals } from './engine.js';
export { PolicyLoadError, formatIssues, type PolicyIssue } from './errors.js';
export { loadPolicyFile, parsePolicySource, DEFAULT_LOAD_LIMITS, type LoadLimits, type LoadedPolicy } from './load.js';
export { compilePolicy } from './compile.js';
export { isStricterState } from './trading-state.js';
export { BUILTIN, riskRuleFor, type TraceEntry } from './evaluate.js';
export { POLICY_SCHEMA } from './schema.js';
export { seoulDate } from '../kiwoom/protocol/index.js';
export type {
  Decision,
  DecisionOutcome,
  EffectiveTradingState,
  MarketData,
  MatchedRule,
  PolicyCall,
  PolicyEngine,
  PolicyInfo,
  RuleKind,
  RuleMode,
  TradingState,
  TradingStateRecord,
  TradingStateScope,
} from './types.js';
