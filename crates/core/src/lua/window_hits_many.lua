-- Appended to window_hits.lua wrapped as `local function one(KEYS, ARGV)` (script.rs): runs it
-- on each counter in order, so one script call serves many counters and the server pays its
-- per-script cost once.
-- KEYS: the counters   ARGV: window_hits.lua's three arguments per counter, one after another
-- Returns per counter its {hits, ms until the window resets}, or its error's message.
local out = {}
for i = 1, #KEYS do
  local ok, reply = pcall(one, {KEYS[i]}, {ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]})
  if ok then
    out[i] = reply
  elseif type(reply) == 'table' then
    out[i] = tostring(reply.err or reply)
  else
    out[i] = tostring(reply)
  end
end
return out
