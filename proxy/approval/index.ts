export { createApprovalService, pendingApprovalError, outcomeError, type ApprovalServiceOptions } from './service.js';
export { parseApprovalConfig, type ApprovalConfig, type ApprovalMode } from './config.js';
export { createKeyProviderSealer, type SecretSealer } from './sealer.js';
export { hashCall, canonicalJson } from './canonical.js';
export { hotp, totpAt, verifyTotp, base32Encode, base32Decode, type TotpOptions } from './totp.js';
export { approvalRoutes } from './routes.js';
export type * from './types.js';
