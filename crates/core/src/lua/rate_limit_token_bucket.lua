-- KEYS[1]: {rate:<identifier>}:tb, a hash {tokens, ts}; never the original's rate:<identifier>
-- ARGV[1]: capacity (limit)   ARGV[2]: window in ms (the time to refill the whole capacity)
-- ARGV[3]: cost
-- Returns {allowed (0/1), remaining, reset ms (until full), retry-after ms}.
-- Timed by the server's clock, so every client process agrees.
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local rate = capacity / window
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate)
end
local reset = math.ceil((capacity - tokens) / rate)
if reset < 1 then
  -- A full bucket is the same as no state at all.
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', now)
  redis.call('PEXPIRE', KEYS[1], reset)
end
return {allowed, math.floor(tokens), reset, retry}
