// Cross-tenant signals no single bot's baseline can see, shared through the
// Store so every replica counts the same: how many bots one source address
// presents within a window, and how many accounts trade one symbol, new to
// each of them, in the same direction within minutes. Cardinality is bounded:
// at most `maxTracked` members are recorded per source or symbol and window,
// and every key expires with its window.
import type { Store } from '../state/types.js';
import type { RiskConfig } from './config.js';

export interface CrossTenantCounts {
  /** Distinct bots seen from this call's source in the current window, this one included (capped at maxTracked). */
  readonly sourceBots: number;
  /** Distinct accounts that traded this symbol (new to each) in this direction in the current window, this one included. */
  readonly herdAccounts: number;
}

/**
 * Adds a member to a windowed distinct count; returns the count (the count stops growing at `cap`). Past the cap
 * the member is not recorded either, unless `pastCap` (a member the caller bounds otherwise: a registered bot).
 */
export async function distinct(store: Store, key: string, member: string, ttlMs: number, cap: number, pastCap = false): Promise<number> {
  const current = Number((await store.get(`${key}:n`)) ?? 0);
  if (current >= cap && !pastCap) return current;
  const fresh = await store.setIfAbsent(`${key}:m:${member}`, '1', ttlMs);
  return fresh && current < cap ? store.incr(`${key}:n`, 1, ttlMs) : current;
}

export function sourceBots(store: Store, cfg: RiskConfig, sourceIp: string, botId: string, nowMs: number): Promise<number> {
  const c = cfg.crossTenant;
  const win = Math.floor(nowMs / c.sourceWindowMs);
  return distinct(store, `risk:xsrc:${sourceIp}:${win}`, botId, 2 * c.sourceWindowMs, c.maxTracked);
}

/**
 * Adds a member to this window's bucket and the next one's, and returns this bucket's count: members within the last
 * one to two windows, so a burst that straddles a window boundary is still one burst.
 */
export async function windowDistinct(store: Store, prefix: string, member: string, windowMs: number, nowMs: number, cap: number): Promise<number> {
  const win = Math.floor(nowMs / windowMs);
  const [n] = await Promise.all([
    distinct(store, `${prefix}:${win}`, member, 2 * windowMs, cap),
    distinct(store, `${prefix}:${win + 1}`, member, 3 * windowMs, cap),
  ]);
  return n;
}

const herdDistinct = (store: Store, cfg: RiskConfig, prefix: string, account: string, nowMs: number): Promise<number> =>
  windowDistinct(store, prefix, account, cfg.crossTenant.herdWindowMs, nowMs, cfg.crossTenant.maxTracked);

const refusedPrefix = (symbol: string, side: string): string => `risk:xref:${symbol}:${side}`;

/** Records an order in `symbol` its owner refused. */
export async function noteRefusedOrder(store: Store, cfg: RiskConfig, symbol: string, side: string, account: string, nowMs: number): Promise<void> {
  await herdDistinct(store, cfg, refusedPrefix(symbol, side), account, nowMs);
}

/** The key holding how many accounts' orders in `symbol`, this way, were refused within the last one to two herd windows. */
export function refusedAccountsKey(cfg: RiskConfig, symbol: string, side: string, nowMs: number): string {
  return `${refusedPrefix(symbol, side)}:${Math.floor(nowMs / cfg.crossTenant.herdWindowMs)}:n`;
}

/** Counted only for a warm bot's order in a symbol its baseline has never seen (the caller checks). */
export function herdAccounts(store: Store, cfg: RiskConfig, symbol: string, side: string, account: string, nowMs: number): Promise<number> {
  return herdDistinct(store, cfg, `risk:xherd:${symbol}:${side}`, account, nowMs);
}
