-- KEYS[1]: otp:<identifier>   ARGV[1]: the code offered, as a string
-- One atomic step: a matching code is consumed, so two verifications can never both succeed.
local stored = redis.call('GET', KEYS[1])
if stored and stored == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
