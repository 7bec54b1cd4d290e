export { BotRegistry, botAllows, generateBotSecret, publicBot, BOT_ID_PATTERN, DEFAULT_ALLOWED, type BotRecord, type PublicBot } from './bots.js';
export { Sessions, loadSigningKey, bearerToken, issuedTo, unusableToken, type SessionClaims, type SessionOptions } from './sessions.js';
export { exchangeToken, revokeToken, parseExchangeBody, OK_MESSAGE, type ExchangeHooks, type TokenResponse } from './exchange.js';
