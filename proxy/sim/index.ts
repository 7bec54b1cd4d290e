// The Kiwoom REST simulator: public API.
export { startSimulator, isLoopbackAddress } from './server.js';
export { SimError } from './responses.js';
export { kstTimestamp } from './format.js';
export type {
  SimAppRegistration, SimFaultSettings, SimFaults, SimHolding, SimOptions, SimOrder, SimOrderStatus,
  SimRequestRecord, SimStats, Simulator,
} from './types.js';
