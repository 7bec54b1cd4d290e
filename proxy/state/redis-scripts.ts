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

/** KEYS[1] counter; ARGV[1] increment; ARGV[2] ttl ms or '' — applied only when the key has no TTL. */
export const INCR_LUA = `
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v
`;

/** KEYS[1] hash; ARGV: field, value, ttl ms or '' (sets the TTL in the same step). */
export const HSET_LUA = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`;
