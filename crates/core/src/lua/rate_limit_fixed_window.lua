-- KEYS[1]: rate:<identifier> (the original module's counter, same format)
-- ARGV[1]: limit   ARGV[2]: window in ms   ARGV[3]: cost
-- Returns {allowed (0/1), remaining, reset ms, retry-after ms}.
-- INCRBY and the expiry happen in one step, and a counter found without an expiry (left by the
-- original's INCR-then-EXPIRE after a crash) gets one: no identifier is locked out forever.
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local count = redis.call('INCRBY', KEYS[1], ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], window)
  ttl = window
end
if count <= limit then
  return {1, limit - count, ttl, 0}
end
return {0, 0, ttl, ttl}
