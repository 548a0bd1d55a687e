-- KEYS[1]: a lock   ARGV[1]: the owner's token   ARGV[2]: the new lifetime in milliseconds
-- Sets the lock's lifetime only while ARGV[1] still owns it: 1 when extended, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
