-- KEYS[1]: {rate:<identifier>}:sw, a hash {start, cur, prev}
-- ARGV[1]: limit   ARGV[2]: window in ms   ARGV[3]: cost
-- Returns {allowed (0/1), remaining, reset ms (until the quota is whole again), retry-after ms}.
-- The usual approximation: the previous window's count, weighted by how much of it still
-- overlaps the sliding window, plus the current window's count. Timed by the server's clock.
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local start = now - (now % window)
local elapsed = now - start
local state = redis.call('HMGET', KEYS[1], 'start', 'cur', 'prev')
local saved_start = tonumber(state[1])
local cur = 0
local prev = 0
if saved_start == start then
  cur = tonumber(state[2]) or 0
  prev = tonumber(state[3]) or 0
elseif saved_start == start - window then
  prev = tonumber(state[2]) or 0
end
local used = prev * (window - elapsed) / window + cur
local allowed = 0
local retry = 0
if used + cost <= limit then
  cur = cur + cost
  used = used + cost
  allowed = 1
elseif cur + cost > limit then
  -- Not before the next window, where this window's count becomes the decaying one.
  local into_next = math.ceil(window * (1 - (limit - cost) / cur))
  retry = (window - elapsed) + math.max(0, into_next)
else
  -- Later in this window, once the previous window's share has decayed enough.
  local needed = math.ceil(window - (limit - cur - cost) * window / prev)
  retry = math.max(1, needed - elapsed)
end
-- Both counts stop mattering once the next window has passed.
local reset = 2 * window - elapsed
redis.call('HSET', KEYS[1], 'start', start, 'cur', cur, 'prev', prev)
redis.call('PEXPIRE', KEYS[1], reset)
return {allowed, math.max(0, math.floor(limit - used)), reset, retry}
