-- KEYS[1]: lock:<name>   KEYS[2]: its fence counter (same cluster slot)
-- KEYS[3], optional: the counter's former name (names with braces), kept in step with it so
-- that tokens never go backwards while old and new processes share the lock
-- ARGV[1]: the owner's random token   ARGV[2]: the lock's lifetime in milliseconds
-- ARGV[3]: the counter's lifetime in seconds, renewed by every acquire (so unused names go)
-- Returns the new fencing token (1, 2, ... per name) when the lock was free, else 0. One
-- atomic step, so every holder gets a token above all earlier holders' tokens.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local token = redis.call('INCR', KEYS[2])
if KEYS[3] then
  local legacy = tonumber(redis.call('GET', KEYS[3]))
  if legacy and legacy >= token then
    token = legacy + 1
    redis.call('SET', KEYS[2], token)
  end
  redis.call('SET', KEYS[3], token, 'EX', ARGV[3])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return token
