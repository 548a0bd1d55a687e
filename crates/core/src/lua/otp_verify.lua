-- KEYS[1]: otp:<identifier>   KEYS[2]: {otp:<identifier>}:tries (same cluster slot)
-- ARGV[1]: the code offered, as a string   ARGV[2]: wrong guesses that destroy the code
-- Returns 1 when the code matches (and consumes it), else 0. One atomic step: two
-- verifications of the right code never both succeed, and every wrong guess is counted.
local stored = redis.call('GET', KEYS[1])
if not stored then
  return 0
end
local offered = ARGV[1]
-- Compare every byte whatever the first difference, so timing does not reveal a prefix.
local diff = 0
if #stored ~= #offered then
  diff = 1
end
for i = 1, #stored do
  diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(offered, i) or 0))
end
if diff == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
local tries = redis.call('INCR', KEYS[2])
if tries == 1 then
  -- The count lives exactly as long as the code it guards.
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
end
if tries >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 0
