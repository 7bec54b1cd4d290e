// The Kiwoom REST simulator: public API.
export { startSimulator, isLoopbackAddress, normaliseAddress } from './server.js';
export { SimError } from './responses.js';
export { DEFAULT_LIMITS } from './limits.js';
export { DEFAULT_REALTIME, R10001_MESSAGE, WS_PATH, wsFingerprint } from './ws.js';
export type {
  SimAppRegistration,
  SimConditionEvent,
  SimFaultSettings,
  SimFaults,
  SimHolding,
  SimLimits,
  SimOptions,
  SimOrder,
  SimOrderStatus,
  SimRefusalCode,
  SimRequestRecord,
  SimStats,
  SimWsStats,
  Simulator,
} from './types.js';
