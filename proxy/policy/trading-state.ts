// Operator-set trading state (ACTIVE / REDUCING / HALTED) per global, bot and
// account, kept in the shared Store so every replica sees it at once.
import { GuardError } from '../common/errors.js';
import type { Store } from '../state/types.js';
import { KEY_PREFIX } from './compiled.js';
import type { EffectiveTradingState, TradingState, TradingStateRecord, TradingStateScope } from './types.js';

export const TRADING_STATE_KEY = `${KEY_PREFIX}trading-state`;
export const TRADING_STATE_CHANNEL = 'kguard:policy:trading-state';
const STATES: readonly TradingState[] = ['ACTIVE', 'REDUCING', 'HALTED'];
const RANK: Record<TradingState, number> = { ACTIVE: 0, REDUCING: 1, HALTED: 2 };

/** True when `now` lets less through than `before` (ACTIVE < REDUCING < HALTED). */
export function isStricterState(now: TradingState, before: TradingState): boolean {
  return RANK[now] > RANK[before];
}
const MAX_REASON = 500;

function field(scope: TradingStateScope): string {
  const set = [scope.global === true, scope.botId !== undefined, scope.account !== undefined].filter(Boolean).length;
  if (set !== 1) throw new GuardError('KG3016', 'trading state scope needs exactly one of global, botId, account');
  if (scope.global) return 'global';
  const id = scope.botId ?? scope.account!;
  if (typeof id !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(id))
    throw new GuardError('KG3016', 'trading state scope id must be 1-128 of A-Z a-z 0-9 . _ : -');
  return scope.botId !== undefined ? `bot:${id}` : `account:${id}`;
}

function parseRecord(raw: string | null): TradingStateRecord | undefined {
  if (raw === null) return undefined;
  try {
    const r = JSON.parse(raw) as TradingStateRecord;
    if (STATES.includes(r.state)) return r;
  } catch {
    /* fall through */
  }
  // A record we cannot read is treated as HALTED: fail closed.
  return { state: 'HALTED', reason: 'unreadable trading state record', at: '' };
}

export async function setTradingState(store: Store, scope: TradingStateScope, state: TradingState, reason: string, now: Date): Promise<void> {
  const f = field(scope);
  if (!STATES.includes(state)) throw new GuardError('KG3016', `trading state must be one of ${STATES.join(', ')}`);
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > MAX_REASON)
    throw new GuardError('KG3016', `a reason of 1-${MAX_REASON} characters is required`);
  if (state === 'ACTIVE') await store.hdel(TRADING_STATE_KEY, f);
  else await store.hset(TRADING_STATE_KEY, f, JSON.stringify({ state, reason, at: now.toISOString() } satisfies TradingStateRecord));
  await store.publish(TRADING_STATE_CHANNEL, JSON.stringify({ field: f, state }));
}

export async function readTradingState(store: Store, botId: string, account: string): Promise<EffectiveTradingState> {
  // One HMGET: the three scopes live in one hash.
  const [g = null, b = null, a = null] = await store.hmget(TRADING_STATE_KEY, ['global', `bot:${botId}`, `account:${account}`]);
  const global = parseRecord(g);
  const bot = parseRecord(b);
  const acct = parseRecord(a);
  let out: EffectiveTradingState = { state: 'ACTIVE', source: 'default', reason: '' };
  for (const [source, rec] of [
    ['global', global],
    ['bot', bot],
    ['account', acct],
  ] as const) {
    if (rec && RANK[rec.state] > RANK[out.state]) out = { state: rec.state, source, reason: rec.reason };
  }
  return { ...out, ...(global ? { global } : {}), ...(bot ? { bot } : {}), ...(acct ? { account: acct } : {}) };
}
