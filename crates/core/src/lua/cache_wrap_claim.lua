-- KEYS[1]: the cached key   KEYS[2]: its loading lock   KEYS[3]: its freshness marker
-- ARGV[1]: the owner's random token   ARGV[2]: the lock's lifetime in milliseconds
-- ARGV[3]: '1' to refresh a stale value (then only a fresh value makes loading needless)
-- Returns the value when one is there (another instance stored it since this one looked),
-- else 1 when the loading lock was taken, 0 while another instance holds it. One atomic step,
-- so a value stored and its lock released between a miss and this claim is never loaded twice.
local value = redis.call('GET', KEYS[1])
if value and (ARGV[3] ~= '1' or redis.call('EXISTS', KEYS[3]) == 1) then
  return value
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
