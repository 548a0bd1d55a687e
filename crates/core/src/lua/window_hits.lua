-- KEYS[1]: one client's hit counter (express-rate-limit's key under RateLimitStore's prefix)
-- ARGV[1]: window in ms   ARGV[2]: change, 1 for a hit, -1 to take one back, 0 to read
-- ARGV[3]: '1' when every hit restarts the window (rate-limit-redis's resetExpiryOnChange)
-- Returns {hits, ms until the window resets}; {0, 0} when no window is running. Only a hit
-- starts a window: on a missing counter, or on one found without an expiry (left by a crashed
-- writer), which starts afresh so no client is locked out forever. Taking a hit back never
-- goes below zero, as express-rate-limit's MemoryStore.
local ttl = redis.call('PTTL', KEYS[1])
local change = tonumber(ARGV[2])
if ttl < 0 then
  if change <= 0 then
    return {0, 0}
  end
  if ttl == -1 then
    -- Refuses a value that is not a counter instead of overwriting it.
    redis.call('INCRBY', KEYS[1], 0)
  end
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
  return {change, tonumber(ARGV[1])}
end
if change < 0 then
  local hits = redis.call('INCRBY', KEYS[1], 0)
  if hits + change < 0 then
    change = math.min(0, -hits)
  end
end
local hits = redis.call('INCRBY', KEYS[1], change)
if change > 0 and ARGV[3] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
