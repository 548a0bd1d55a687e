-- KEYS[1]: a lock   ARGV[1]: the owner's token
-- Deletes the lock only while ARGV[1] still owns it: 1 when deleted, else 0 (it expired, and
-- perhaps another owner holds it now, whose lock must survive).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
