// Bot registration input: the id pattern and the checks a new bot's fields
// and a client-supplied bot secret must pass (split from bots.ts).
import { GuardError } from '../common/errors.js';
import { PERSON_NAME } from '../common/validate.js';

export const BOT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{2,63}$/;

/** Bot secrets a client supplies (batch): at least this many printable bytes, i.e. as long as a generated one. */
export const MIN_BOT_SECRET_BYTES = 32;
export const MAX_BOT_SECRET_BYTES = 512;

const ALLOWED_ENTRY = /^(\*|kind:[a-z]+|[a-z]{2}\d{5})$/;

/** Checks one bot's registration fields; throws KG2010 naming the first bad field. */
export function validateBotInput(input: { id: unknown; owner: unknown; account: unknown; allowed?: unknown }): void {
  if (typeof input.id !== 'string' || !BOT_ID_PATTERN.test(input.id)) throw new GuardError('KG2010', `bot id must match ${BOT_ID_PATTERN}`);
  // The owner is the approver who may confirm the bot's held calls: named as approvers are.
  if (typeof input.owner !== 'string' || !PERSON_NAME.test(input.owner))
    throw new GuardError('KG2010', `owner must be the owner's approver name (${PERSON_NAME}), e.g. kim.trader or kim@desk.example`);
  if (typeof input.account !== 'string' || input.account.length === 0 || input.account.length > 64)
    throw new GuardError('KG2010', 'account must be 1-64 characters');
  if (input.allowed === undefined) return;
  if (!Array.isArray(input.allowed) || input.allowed.length > 200) throw new GuardError('KG2010', 'allowed must be a list of at most 200 entries');
  input.allowed.forEach((a: unknown, i: number) => {
    // Named by its place, not quoted: a Kiwoom key pasted into the wrong column must not come back in an answer.
    if (typeof a !== 'string' || !ALLOWED_ENTRY.test(a))
      throw new GuardError('KG2010', `allowed entry ${i + 1} (not shown) must be an api-id (kt10000), kind:<kind> or *`);
  });
}

/** A bot secret a client supplied: long enough to be a generated one, printable ASCII without spaces. */
export function validateBotSecret(secret: Buffer): void {
  if (secret.length < MIN_BOT_SECRET_BYTES || secret.length > MAX_BOT_SECRET_BYTES)
    throw new GuardError('KG2010', `bot secret must be ${MIN_BOT_SECRET_BYTES}-${MAX_BOT_SECRET_BYTES} bytes (a generated one is 43)`);
  for (const b of secret)
    if (b <= 0x20 || b >= 0x7f || b === 0x22 || b === 0x5c)
      throw new GuardError('KG2010', 'bot secret must be printable ASCII without spaces, quotes or backslashes');
}
