// The Kiwoom REST simulator: public API.
export { startSimulator, isLoopbackAddress, normaliseAddress } from './server.js';
export { SimError } from './responses.js';
export { DEFAULT_LIMITS } from './limits.js';
export type {
  SimAppRegistration,
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
  Simulator,
} from './types.js';
