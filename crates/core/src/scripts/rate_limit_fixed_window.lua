-- KEYS[1]: rate:<identifier>   ARGV[1]: window in milliseconds
-- INCR and the expiry happen in one step, and a key found without an expiry (left by the original
-- module's INCR-then-EXPIRE after a crash) gets one, so no identifier is ever locked out forever.
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
