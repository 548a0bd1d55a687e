-- KEYS[1]: one client's hit counter (express-rate-limit's key under RateLimitStore's prefix)
-- ARGV[1]: window in ms   ARGV[2]: change, 1 for a hit, -1 to take one back, 0 to read
-- Returns {hits, ms until the window resets}. The first hit on a missing (or expired) counter
-- starts the window; reading or taking a hit back never creates a counter. A counter found
-- without an expiry gets the window as one, so no client is locked out forever.
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 and tonumber(ARGV[2]) <= 0 then
  return {0, 0}
end
local hits = redis.call('INCRBY', KEYS[1], ARGV[2])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
