export {
  createResponder,
  CONDITIONAL_TRDE_TP,
  type Responder,
  type ResponderOptions,
  type LockdownRequest,
  type HighRiskCall,
  type RiskLike,
  type LockCheckCall,
  type IncidentSummary,
} from './responder.js';
export { parseResponseConfig, DEFAULT_RECOVERY_STEPS, type ResponseConfig, type WebhookConfig, type RecoveryStep, type CompensationCause } from './config.js';
export { cancelAll, type CancelAllReport, type CancelAllOptions, type CancelFailure } from './cancel-all.js';
export { kiwoomSession, kiwoomBrokerGateway, holdingsFromBalance } from './kiwoom-session.js';
export { createWebhookNotifier, slackPayload, jsonPayload, type Alert, type WebhookNotifier, type DeliveryResult, type Severity } from './webhooks.js';
export { computeCompensation, addBusinessDays } from './incident.js';
export { renderIncidentMarkdown } from './incident-markdown.js';
export type { Incident, IncidentReport, DamageAssessment, ChecklistItem, CompensationWorksheet, LockdownScope, StepTiming } from './incident.js';
export { responseRoutes } from './routes.js';
export type * from './types.js';
export type { StoppedCalls } from './context.js';
