export { createRiskEngine, detectorsOf, levelFor, type RiskEngineOptions } from './engine.js';
export { parseRiskConfig, DETECTORS, ABSOLUTE_DETECTORS, DEFAULT_WEIGHTS, type RiskConfig, type DetectorName, type MarketSession } from './config.js';
export type { RiskInput, RiskAssessment, RiskOutcome, RiskEngine, Contribution, RiskLevel, RefusedOrder } from './types.js';
// Re-exported for tests that place calls at Seoul wall-clock times.
export { seoulToEpoch } from '../kiwoom/protocol/index.js';
