-- KEYS[1]: lock:<name>   KEYS[2]: {lock:<name>}:fence (same cluster slot, never expires)
-- ARGV[1]: the owner's random token   ARGV[2]: the lock's lifetime in milliseconds
-- Returns the new fencing token (1, 2, ... per name) when the lock was free, else 0. One
-- atomic step, so every holder gets a token above all earlier holders' tokens.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
return redis.call('INCR', KEYS[2])
