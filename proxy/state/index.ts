// Public API of the state part.
export type { LimitRequest, LimitResult, Store, Unsubscribe } from './types.js';
export { createMemoryStore, MEMORY_DEFAULTS, type MemoryStoreOptions } from './memory.js';
export { hashTagOf, MAX_KEY_LENGTH, MAX_LIMITS_PER_CALL } from './validate.js';
export { seoulDay, msUntilSeoulMidnight } from './seoul.js';
