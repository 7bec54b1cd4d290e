// Lua scripts run atomically inside Redis, so two replicas can never both
// take the last slot of a limit. Time comes from Redis (TIME), not from the
// replicas, so clock skew between pods cannot stretch or shrink a window.

/**
 * KEYS: two per limit: the limit's key and its companion sum key (same slot).
 * ARGV[1]: '1' charge / '0' read only. ARGV[2]: unique call id (makes
 * sliding-window members unique). Then 4 per limit: limit, windowMs, mode
 * ('s' sliding | 'f' fixed), cost.
 * Sliding: ZSET, score = time in ms, member = '<call id>:<i>:<cost>', plus
 * the running sum of costs in the companion key, so a call costs O(log n)
 * plus the events that just left the window, not O(events in the window).
 * Fixed: an integer string that expires windowMs after its first charge
 * (its companion key is unused).
 * Returns { failedIndex (1-based, 0 = none), retryAfterMs, used_1..used_n }
 * where used_i is the usage BEFORE this call. Nothing is charged unless
 * every limit has room; an error before the charge loop changes nothing
 * (dropping events that already left a window is not a change).
 */
export const CONSUME_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local charge = ARGV[1] == '1'
local n = #KEYS / 2
local used = {}
local failed = 0
local retry = 0
local function member_cost(m)
  return tonumber(string.match(m, ':(%d+)$')) or 0
end
local function int(x)
  return string.format('%d', x)
end
for i = 1, n do
  local b = 2 + (i - 1) * 4
  local limit = tonumber(ARGV[b + 1])
  local win = tonumber(ARGV[b + 2])
  local mode = ARGV[b + 3]
  local cost = tonumber(ARGV[b + 4])
  local k = KEYS[2 * i - 1]
  local sk = KEYS[2 * i]
  local u = 0
  if mode == 's' then
    local cutoff = now - win
    local gone = redis.call('ZRANGEBYSCORE', k, '-inf', cutoff)
    if #gone > 0 then redis.call('ZREMRANGEBYSCORE', k, '-inf', cutoff) end
    local s = redis.call('GET', sk)
    if redis.call('ZCARD', k) == 0 then
      if s then redis.call('DEL', sk) end
    elseif not s then
      -- Sum lost (deleted or evicted): rebuild it from the events.
      local ms = redis.call('ZRANGE', k, 0, -1)
      for j = 1, #ms do u = u + member_cost(ms[j]) end
      local pt = redis.call('PTTL', k)
      if pt > 0 then redis.call('SET', sk, int(u), 'PX', pt) else redis.call('SET', sk, int(u), 'PX', win) end
    else
      u = tonumber(s)
      local freed = 0
      for j = 1, #gone do freed = freed + member_cost(gone[j]) end
      if freed > 0 then
        u = u - freed
        redis.call('DECRBY', sk, int(freed))
      end
    end
    if failed == 0 and u + cost > limit then
      failed = i
      retry = win
      if cost <= limit then
        local to_free = u + cost - limit
        local from = 0
        while to_free > 0 do
          local page = redis.call('ZRANGE', k, from, from + 63, 'WITHSCORES')
          if #page == 0 then break end
          for j = 1, #page, 2 do
            to_free = to_free - member_cost(page[j])
            if to_free <= 0 then
              retry = tonumber(page[j + 1]) + win - now
              break
            end
          end
          from = from + 64
        end
      end
    end
  else
    local v = redis.call('GET', k)
    if v then
      if not string.match(v, '^%-?%d+$') then
        return redis.error_reply('KGUARD_INVALID value is not an integer')
      end
      u = tonumber(v)
    end
    if failed == 0 and u + cost > limit then
      failed = i
      local pt = redis.call('PTTL', k)
      if pt > 0 then retry = pt else retry = win end
    end
  end
  used[i] = u
end
if failed == 0 and charge then
  for i = 1, n do
    local b = 2 + (i - 1) * 4
    local win = ARGV[b + 2]
    local cost = ARGV[b + 4]
    local k = KEYS[2 * i - 1]
    if tonumber(cost) > 0 then
      if ARGV[b + 3] == 's' then
        local sk = KEYS[2 * i]
        redis.call('ZADD', k, now, ARGV[2] .. ':' .. i .. ':' .. cost)
        redis.call('PEXPIRE', k, win)
        redis.call('INCRBY', sk, cost)
        redis.call('PEXPIRE', sk, win)
      else
        redis.call('INCRBY', k, cost)
        if redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, win) end
      end
    end
  end
end
local out = { failed, retry }
for i = 1, n do out[i + 2] = used[i] end
return out
`;

/**
 * KEYS: fixed-window counters (one slot); ARGV: the cost to give back from each. Every value is checked
 * first (KGUARD_INVALID, nothing changed). A counter goes down by its cost, never below zero, and keeps its
 * TTL (DECRBY); one that is absent stays absent. Returns the usage after, per key.
 */
export const REFUND_LUA = `
local vals = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v and not string.match(v, '^%-?%d+$') then
    return redis.error_reply('KGUARD_INVALID value is not an integer')
  end
  vals[i] = v
end
local out = {}
for i = 1, #KEYS do
  local left = 0
  if vals[i] then
    local u = tonumber(vals[i])
    left = math.max(0, u - tonumber(ARGV[i]))
    if u ~= left then redis.call('DECRBY', KEYS[i], string.format('%d', u - left)) end
  end
  out[i] = left
end
return out
`;

/** KEYS[1] counter; ARGV[1] increment; ARGV[2] ttl ms or '' — applied only when the key has no TTL. */
export const INCR_LUA = `
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v
`;

/**
 * KEYS[1] string; ARGV: the SHA-1 (hex) of the value expected, '' for absent; the new value; ttl ms or ''.
 * Sets it only while the key holds that value. Returns 1 when set, 0 when it held another (nothing changed).
 */
export const SET_IF_UNCHANGED_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  if redis.sha1hex(cur) ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then
  return 0
end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`;

/** KEYS[1]; ARGV: value, ttl ms. Returns the value replaced (false: none). SET ... GET would need Redis 6.2. */
export const SWAP_LUA = `
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return old
`;

/** KEYS[1] hash; ARGV: field, value, ttl ms or '' (sets the TTL in the same step). */
export const HSET_LUA = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`;

// ---- governor slots (a sliding window of slot stamps: ZSET member = slot id, score = stamp ms)

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x)
  return string.format('%d', x)
end
`;

/**
 * KEYS[1] window (ZSET), KEYS[2] pause flag (same slot). ARGV: limit,
 * windowMs, holdMs, id. Drops stamps <= now - windowMs; refuses an id that is
 * still in the window (KGUARD_INVALID, nothing changed). Returns
 * { granted (1|0), retryAfterMs }: paused: the pause's remaining TTL; room:
 * adds id stamped now + holdMs (key TTL at least windowMs + holdMs);
 * full: until the lowest stamp leaves the window (>= 1).
 */
export const TAKE_SLOT_LUA = `${NOW_MS}
local limit = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local hold = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now - win))
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  return redis.error_reply('KGUARD_INVALID slot id is already in the window')
end
local p = redis.call('PTTL', KEYS[2])
if p == -1 then return { 0, win } end
if p >= 0 then return { 0, math.max(1, p) } end
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], int(now + hold), ARGV[4])
  if redis.call('PTTL', KEYS[1]) < win + hold then redis.call('PEXPIRE', KEYS[1], int(win + hold)) end
  return { 1, 0 }
end
local lowest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #lowest == 0 then return { 0, win } end
return { 0, math.max(1, tonumber(lowest[2]) + win - now) }
`;

/** KEYS[1] window; ARGV: id, windowMs. The slot's stamp becomes min(stamp, now); key TTL at least windowMs. */
export const SETTLE_SLOT_LUA = `${NOW_MS}
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s then return 0 end
if tonumber(s) > now then redis.call('ZADD', KEYS[1], int(now), ARGV[1]) end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

/** KEYS[1] pause flag; ARGV[1] ms. Set for ms unless it already lasts longer (or forever). */
export const PAUSE_SLOTS_LUA = `
local p = redis.call('PTTL', KEYS[1])
if p == -2 or (p >= 0 and p < tonumber(ARGV[1])) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1
`;

// ---- leased values: KEYS[1] hash {version, value, state 'live'|'retiring',
// claimUntil ms, claimBy}; KEYS[2] its leases (ZSET member = holder, score = lease
// expiry ms), same slot. Every script first drops expired leases (not a change).

const LEASE_PRELUDE = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', int(now))
local function state_of(s)
  if s == 'retiring' then return 'retiring' end
  return 'live'
end
`;

/**
 * ARGV: holder, leaseTtlMs. Absent: nil. Live: adds or refreshes the
 * holder's lease (the leases expire with the value). Retiring: no lease.
 * Returns { version, value, state, live lease count }.
 */
export const LEASE_TAKE_LUA = `${LEASE_PRELUDE}
local h = redis.call('HMGET', KEYS[1], 'version', 'value', 'state')
if not h[1] then return nil end
local st = state_of(h[3])
if st == 'live' then
  redis.call('ZADD', KEYS[2], int(now + tonumber(ARGV[2])), ARGV[1])
  local pt = redis.call('PTTL', KEYS[1])
  if pt > 0 then redis.call('PEXPIRE', KEYS[2], int(pt)) elseif pt == -1 then redis.call('PERSIST', KEYS[2]) end
end
return { h[1], h[2] or '', st, redis.call('ZCARD', KEYS[2]) }
`;

/** Read-only twin of LEASE_TAKE_LUA (no ARGV). */
export const LEASE_PEEK_LUA = `${LEASE_PRELUDE}
local h = redis.call('HMGET', KEYS[1], 'version', 'value', 'state')
if not h[1] then return nil end
return { h[1], h[2] or '', state_of(h[3]), redis.call('ZCARD', KEYS[2]) }
`;

/** ARGV[1] holder. Drops its lease; returns the live leases left (-1 when no value is stored). */
export const LEASE_RELEASE_LUA = `${LEASE_PRELUDE}
redis.call('ZREM', KEYS[2], ARGV[1])
if not redis.call('HGET', KEYS[1], 'version') then return -1 end
return redis.call('ZCARD', KEYS[2])
`;

/**
 * KEYS[3] the fencing lock (same slot). ARGV: version, value, ttlMs, lock
 * value, holder, leaseTtlMs. Only when GET lock == lock value and no value is
 * stored: writes the live value, replaces any leases left by an earlier
 * (expired) value with the writer's, both expiring ttlMs from now. 1 / 0.
 */
export const LEASE_PUT_LUA = `${LEASE_PRELUDE}
if redis.call('GET', KEYS[3]) ~= ARGV[4] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'value', ARGV[2], 'state', 'live')
redis.call('ZADD', KEYS[2], int(now + tonumber(ARGV[6])), ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`;

/**
 * ARGV: version, claimTtlMs, claimant. 'gone' (absent / other version), 'held'
 * (live leases, or a retirement claim that has not lapsed) or 'retiring' (state
 * set, claimUntil = now + claimTtlMs, claimBy = claimant).
 */
export const LEASE_RETIRE_LUA = `${LEASE_PRELUDE}
local h = redis.call('HMGET', KEYS[1], 'version', 'state', 'claimUntil')
if not h[1] or h[1] ~= ARGV[1] then return 'gone' end
if redis.call('ZCARD', KEYS[2]) > 0 then return 'held' end
if state_of(h[2]) == 'retiring' and (tonumber(h[3]) or 0) > now then return 'held' end
redis.call('HSET', KEYS[1], 'state', 'retiring', 'claimUntil', int(now + tonumber(ARGV[2])), 'claimBy', ARGV[3])
return 'retiring'
`;

/** ARGV: version, claimant. A retiring value of this version whose last claim is the claimant's is live again (claim cleared). 1 / 0. */
export const LEASE_REVIVE_LUA = `${LEASE_PRELUDE}
local h = redis.call('HMGET', KEYS[1], 'version', 'state', 'claimBy')
if not h[1] or h[1] ~= ARGV[1] or state_of(h[2]) ~= 'retiring' or h[3] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'live')
redis.call('HDEL', KEYS[1], 'claimUntil', 'claimBy')
return 1
`;

/** ARGV[1] version. Deletes the value and its leases when it is still this version. 1 / 0. */
export const LEASE_DROP_LUA = `${LEASE_PRELUDE}
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`;
