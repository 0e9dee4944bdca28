"""The Lua scripts of the Redis credit book. Each runs atomically in Redis.

Keys (all under the configured prefix):
- `account:<id>`  hash: `balance`, and the use fields below
- `key:<prefix>`  hash: the use fields, for a key that has limits
- use fields: `r:<worker>` credits held by a worker's requests in flight, `c:<worker>` how many,
  `period` + `spent` (the budget), `rtat` / `ttat` (the request and token buckets, as in
  billing/limits.py)
- `worker:<worker>` a live worker's heartbeat; `holds:<worker>` the ids of its reservations;
  `applied:<worker>` the last charge sequence number of its that reached the balances.

A worker's `r:`/`c:` fields count only while its heartbeat lives: the scripts drop those of dead
workers, so a killed worker cannot freeze credits or slots.
"""

from __future__ import annotations

# Shared helpers. live(h) sums the holds and requests in flight of live workers in hash h,
# dropping dead workers' fields and hold sets. gcra_wait is billing/limits.py request_wait.
_COMMON = """
local P = ARGV[1]
local function live(h)
  local held, busy = 0, 0
  local fields = redis.call('HGETALL', h)
  for i = 1, #fields, 2 do
    local name = fields[i]
    local kind = string.sub(name, 1, 2)
    if kind == 'r:' or kind == 'c:' then
      local worker = string.sub(name, 3)
      if redis.call('EXISTS', P .. 'worker:' .. worker) == 1 then
        local value = tonumber(fields[i + 1])
        if kind == 'r:' then held = held + value else busy = busy + value end
      else
        redis.call('HDEL', h, name)
        redis.call('DEL', P .. 'holds:' .. worker)
      end
    end
  end
  return held, busy
end
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function spent_in(h, stamp, seed)
  local period = redis.call('HGET', h, 'period')
  if period == stamp then return tonumber(redis.call('HGET', h, 'spent') or '0') end
  if period == false then return tonumber(seed) end
  return 0
end
"""

# KEYS: account hash, key hash. ARGV: prefix, worker, reservation id, amount, balance seed, then
# per subject (account, key) 7 values: limited (1/0), rpm, tpm, concurrency, budget, period stamp,
# spent seed ("" where there is no such limit).
# Returns {1} or {0, reason, subject (1 account, 2 key), value}: reason 1 credits (value: available),
# 2 concurrency, 3 requests per minute, 4 tokens per minute (value: milliseconds to wait), 5 budget
# (value: spent in the period).
RESERVE = (
    _COMMON
    + """
local W, res, amount = ARGV[2], ARGV[3], tonumber(ARGV[4])
local acct = KEYS[1]
if redis.call('EXISTS', acct) == 0 then redis.call('HSET', acct, 'balance', ARGV[5]) end
local t = now_s()
local acct_held, acct_busy = live(acct)
local plans = {}
for s = 1, 2 do
  local base = 5 + (s - 1) * 7
  if ARGV[base + 1] == '1' then
    local h = KEYS[s]
    local held, busy = acct_held, acct_busy
    if s == 2 then held, busy = live(h) end
    local rpm, tpm, conc, budget = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]),
      tonumber(ARGV[base + 4]), tonumber(ARGV[base + 5])
    if conc and busy >= conc then return {0, 2, s, 1000} end
    local rtat = tonumber(redis.call('HGET', h, 'rtat') or '0')
    if rpm then
      local wait = rtat - t - (60 - 60 / rpm)
      if wait > 0 then return {0, 3, s, math.ceil(wait * 1000)} end
    end
    if tpm then
      local wait = tonumber(redis.call('HGET', h, 'ttat') or '0') - t - 60
      if wait > 0 then return {0, 4, s, math.ceil(wait * 1000)} end
    end
    if budget and amount > 0 then
      local spent = spent_in(h, ARGV[base + 6], ARGV[base + 7])
      if spent + held + amount > budget then return {0, 5, s, spent} end
    end
    plans[#plans + 1] = {h, rpm and (math.max(rtat, t) + 60 / rpm) or false}
  end
end
local available = tonumber(redis.call('HGET', acct, 'balance')) - acct_held
if amount > 0 and available < amount then return {0, 1, 1, available} end
redis.call('HINCRBY', acct, 'r:' .. W, amount)
redis.call('HINCRBY', acct, 'c:' .. W, 1)
for _, plan in ipairs(plans) do
  if plan[1] ~= acct then
    redis.call('HINCRBY', plan[1], 'r:' .. W, amount)
    redis.call('HINCRBY', plan[1], 'c:' .. W, 1)
  end
  if plan[2] then redis.call('HSET', plan[1], 'rtat', plan[2]) end
end
redis.call('SADD', P .. 'holds:' .. W, res)
redis.call('EXPIRE', P .. 'holds:' .. W, 86400)
return {1}
"""
)

# When a request cost more than it reserved: hold what the account can still cover of the
# difference (on the account and, when limited, the key). KEYS: account hash, key hash.
# ARGV: prefix, worker, extra credits, key limited (1/0). Returns the credits granted.
TOP_OFF = (
    _COMMON
    + """
local W = ARGV[2]
local held = live(KEYS[1])
local available = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0') - held
local grant = math.max(math.min(tonumber(ARGV[3]), available), 0)
redis.call('HINCRBY', KEYS[1], 'r:' .. W, grant)
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[2], 'r:' .. W, grant) end
return grant
"""
)

OP_FIELDS = 11
# KEYS: the hashes the operations name. ARGV: prefix, worker whose holds and charges these are,
# then per operation OP_FIELDS values: reservation id ("": none), charge sequence number (0: no
# charge), account hash index, key hash index (0: the key was not limited), credits held,
# credits charged, tokens, account budget stamp ("": no budget), account tpm (0: none), key budget
# stamp, key tpm.
# (Negations are written 0 - x: Lua's -0 would reach Redis as "-0", which is not an integer.)
# A hold is given back once (its id leaves the hold set); a charge lands once (its sequence number
# must be above the worker's last applied one), so sending a batch twice changes nothing.
APPLY = (
    _COMMON
    + """
local W = ARGV[2]
local applied_key = P .. 'applied:' .. W
local applied = tonumber(redis.call('GET', applied_key) or '0')
local t = now_s()
local function use(h, stamp, credits, tpm, tokens)
  if stamp ~= '' then
    local period = redis.call('HGET', h, 'period')
    if period == stamp then
      redis.call('HINCRBY', h, 'spent', credits)
    elseif period == false or period < stamp then
      redis.call('HSET', h, 'period', stamp, 'spent', credits)
    end
  end
  if tpm > 0 and tokens > 0 then
    local tat = math.max(tonumber(redis.call('HGET', h, 'ttat') or '0'), t)
    redis.call('HSET', h, 'ttat', tat + tokens * 60 / tpm)
  end
end
for i = 3, #ARGV, 11 do
  local res, seq = ARGV[i], tonumber(ARGV[i + 1])
  local acct = KEYS[tonumber(ARGV[i + 2])]
  local ki = tonumber(ARGV[i + 3])
  local held, charged, tokens = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
  if res ~= '' and redis.call('SREM', P .. 'holds:' .. W, res) == 1 then
    redis.call('HINCRBY', acct, 'r:' .. W, 0 - held)
    redis.call('HINCRBY', acct, 'c:' .. W, -1)
    if ki > 0 then
      redis.call('HINCRBY', KEYS[ki], 'r:' .. W, 0 - held)
      redis.call('HINCRBY', KEYS[ki], 'c:' .. W, -1)
    end
  end
  if seq > applied then
    redis.call('HINCRBY', acct, 'balance', 0 - charged)
    use(acct, ARGV[i + 7], charged, tonumber(ARGV[i + 8]), tokens)
    if ki > 0 then use(KEYS[ki], ARGV[i + 9], charged, tonumber(ARGV[i + 10]), tokens) end
    applied = seq
  end
end
redis.call('SET', applied_key, applied, 'EX', 604800)
return applied
"""
)

# KEYS: account hash. ARGV: credits. A missing hash starts later from the database, which already
# holds the top-up.
TOP_UP = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'balance', ARGV[1]) end"

# KEYS: account hash, a marker for the entry. ARGV: credits, the marker's lifetime (s). Moves the
# live balance by credits the database took directly, once per entry whoever sends it.
CREDIT = (
    "if redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[2]) then"
    " if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'balance', ARGV[1]) end"
    " return 1 end return 0"
)

# KEYS: account hash, the worker's applied sequence key. The live balance and the last charge of
# the worker that reached it, read together.
BALANCE = "return {redis.call('HGET', KEYS[1], 'balance'), redis.call('GET', KEYS[2])}"
