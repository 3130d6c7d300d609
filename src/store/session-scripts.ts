/**
 * Lua scripts of the Redis store. Each touches exactly one key (KEYS[1]) so they run unchanged on
 * Redis Cluster, and each is one round trip. Meta fields: `$c` creation time (ms, required: a hash
 * without it is not a session), `$t` per-session idle timeout (s), `$a` absolute deadline (ms).
 *
 * The TTL is computed here, from the stored `$t` and `$a` (never from a request's stale copy), in
 * integer milliseconds, with "now" from Redis' own clock, so app servers with skewed clocks agree.
 * Every script checks what can fail before its first write: a script never leaves a key half
 * written or without a TTL.
 * @internal
 */

/** Shared helpers: Redis' clock, meta validation, the TTL rule and chunked writes. */
const COMMON = `
local MAX_TIMEOUT_S = 315360000
local MAX_MS = 100000000000000
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function valid_timeout(t) return t ~= nil and t > 0 and t <= MAX_TIMEOUT_S end
local function valid_ms(v) return v ~= nil and v >= 0 and v < MAX_MS end
-- slack: touch_interval (ms), capped at a tenth of the session's idle timeout. Reads within it of
-- the last slide skip the slide, so the TTL it sets is that much longer: an idle session never
-- ends before its timeout, and outlives it by at most the slack.
-- now: Redis' clock in ms, needed (and read) only when there is a deadline.
local function ttl_of(timeout, deadline, default_ms, now, slack)
  local ttl = default_ms
  if timeout then ttl = math.ceil(timeout * 1000) end
  slack = tonumber(slack) or 0
  if slack > 0 then ttl = ttl + math.min(slack, math.floor(ttl / 10)) end
  if deadline and deadline - now < ttl then ttl = deadline - now end
  return ttl
end
local function each_chunk(cmd, key, list, from, to)
  local i = from
  while i <= to do
    local j = math.min(i + 3999, to)
    redis.call(cmd, key, unpack(list, i, j))
    i = j + 1
  end
end
`;

/**
 * Read the hash and slide its TTL in the same call. ARGV: default idle timeout (ms), slack (ms,
 * optional). A session
 * bound to a user has its last-seen time (`$l`) brought up to date, at most once a minute.
 * Returns the flat HGETALL array; nil when absent; 0 when it passed its absolute deadline (then
 * deleted); -1 for a key of another type; -2 for a hash without `$c`; -3 for meta fields that are
 * not valid numbers.
 */
export const LOAD_SCRIPT = `${COMMON}
local h = redis.pcall('HGETALL', KEYS[1])
if type(h) == 'table' and h.err then return -1 end
if #h == 0 then return nil end
local created, timeout, deadline, bound, bound_seen
for i = 1, #h, 2 do
  local f = h[i]
  if f == '$c' then created = h[i + 1]
  elseif f == '$t' then timeout = h[i + 1]
  elseif f == '$a' then deadline = h[i + 1]
  elseif f == '$u' then bound = true
  elseif f == '$l' then bound_seen = h[i + 1] end
end
if not created then
  -- A retired id within its grace window: the client reads the successor it names.
  if #h == 2 and h[1] == '$>' then return h end
  return -2
end
if not valid_ms(tonumber(created)) then return -3 end
if timeout then
  timeout = tonumber(timeout)
  if not valid_timeout(timeout) then return -3 end
end
if deadline then
  deadline = tonumber(deadline)
  if not valid_ms(deadline) then return -3 end
end
-- The clock only matters against a deadline or a last-seen time: TIME is skipped otherwise.
local now = (deadline or bound) and now_ms()
local ttl = ttl_of(timeout, deadline, tonumber(ARGV[1]), now, ARGV[2])
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
if bound then
  local seen = tonumber(bound_seen)
  if not seen or now - seen >= 60000 then redis.call('HSET', KEYS[1], '$l', string.format('%d', now)) end
end
return h
`;

/**
 * Create only if the key is free (a new id never overwrites). ARGV: default idle timeout (ms),
 * absolute timeout (ms, 0 for none), slack (ms), then field, value, … When the fields carry no `$c` (a new
 * session, not a rotated one) the script stamps `$c` and `$a` from Redis' clock.
 * Returns the creation time (ms) on success, 0 when the key exists, -1 when the TTL would be 0.
 */
export const CREATE_SCRIPT = `${COMMON}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = now_ms()
local created, timeout, deadline
for i = 4, #ARGV, 2 do
  local f = ARGV[i]
  if f == '$c' then created = tonumber(ARGV[i + 1])
  elseif f == '$t' then timeout = tonumber(ARGV[i + 1])
  elseif f == '$a' then deadline = tonumber(ARGV[i + 1]) end
end
if timeout and not valid_timeout(timeout) then return redis.error_reply('invalid $t') end
local stamp = {}
if not created then
  created = now
  stamp = { '$c', string.format('%d', now) }
  local absolute = tonumber(ARGV[2])
  if absolute > 0 then
    deadline = now + absolute
    stamp[3] = '$a'
    stamp[4] = string.format('%d', deadline)
  end
end
local ttl = ttl_of(timeout, deadline, tonumber(ARGV[1]), now, ARGV[3])
if ttl <= 0 then return -1 end
if #stamp > 0 then redis.call('HSET', KEYS[1], unpack(stamp)) end
each_chunk('HSET', KEYS[1], ARGV, 4, #ARGV)
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
return created
`;

/**
 * Delta write, only while the session exists (a concurrent logout wins, nothing is resurrected).
 * ARGV: default idle timeout (ms), slack (ms), n = number of fields to set, keep ('1' when the
 * caller slid the TTL within touch_interval and sets no `$t`: the TTL is left as it is), n
 * field/value pairs, then fields to delete. Otherwise the TTL follows the stored `$t` (or the one
 * this write sets) and `$a`.
 * Returns 1, or 0 when the session is gone (or passed its deadline, then deleted).
 */
export const UPDATE_SCRIPT = `
local n = tonumber(ARGV[3])
local last = 4 + n * 2
-- Within touch_interval the TTL already covers the timeout (and stops at the deadline): the
-- fields alone are written, before any helper is defined. Lists too long for one unpack go on.
if ARGV[4] == '1' and n <= 3999 and #ARGV - last <= 7999 then
  local stored = redis.call('HMGET', KEYS[1], '$c', '$>')
  if not stored[1] or stored[2] then return 0 end
  if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 5, last)) end
  if #ARGV > last then redis.call('HDEL', KEYS[1], unpack(ARGV, last + 1, #ARGV)) end
  return 1
end
${COMMON}
-- One read answers all three questions: is it a session ($c), retired ($>), and its TTL meta.
local stored = redis.call('HMGET', KEYS[1], '$c', '$>', '$t', '$a')
if not stored[1] or stored[2] then return 0 end
local timeout
for i = 5, last, 2 do
  if ARGV[i] == '$t' then timeout = tonumber(ARGV[i + 1]) end
end
if timeout and not valid_timeout(timeout) then return redis.error_reply('invalid $t') end
-- A removed $t puts the session back on the configured timeout, from this write on.
local reset = false
for i = last + 1, #ARGV do
  if ARGV[i] == '$t' then reset = true end
end
if not timeout and stored[3] and not reset then timeout = tonumber(stored[3]) end
if timeout and not valid_timeout(timeout) then timeout = nil end
local deadline = stored[4] and tonumber(stored[4])
local ttl = ttl_of(timeout, deadline, tonumber(ARGV[1]), deadline and now_ms(), ARGV[2])
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
if n > 0 then each_chunk('HSET', KEYS[1], ARGV, 5, last) end
if #ARGV > last then each_chunk('HDEL', KEYS[1], ARGV, last + 1, #ARGV) end
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
return 1
`;

/**
 * Retire a regenerated session's old id: only a live session (not already retired) is replaced
 * by a forward marker naming its successor, for the grace window. ARGV: successor, grace (ms).
 * Returns 1, or 0 when the old session was gone or already retired.
 */
export const RETIRE_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], '$c') == 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '$>', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;
