/**
 * Lua scripts of the Redis store. Each touches exactly one key (KEYS[1]) so they run unchanged on
 * Redis Cluster, and each is one round trip. Meta fields: `$c` creation time (ms, required: a hash
 * without it is not a session), `$t` per-session idle timeout (s), `$a` absolute deadline (ms).
 * @internal
 */

/**
 * Read the hash and slide its TTL in the same call. ARGV: now (ms), default idle timeout (ms).
 * Returns the flat HGETALL array, nil when absent or past its deadline, -1 for a key of another
 * type, -2 for a hash without `$c`.
 */
export const LOAD_SCRIPT = `
local h = redis.pcall('HGETALL', KEYS[1])
if type(h) == 'table' and h.err then return -1 end
if #h == 0 then return nil end
local created, timeout, deadline
for i = 1, #h, 2 do
  local f = h[i]
  if f == '$c' then created = h[i + 1]
  elseif f == '$t' then timeout = tonumber(h[i + 1])
  elseif f == '$a' then deadline = tonumber(h[i + 1]) end
end
if not created then return -2 end
local ttl = tonumber(ARGV[2])
if timeout then ttl = timeout * 1000 end
if deadline then
  local left = deadline - tonumber(ARGV[1])
  if left <= 0 then
    redis.call('DEL', KEYS[1])
    return nil
  end
  if left < ttl then ttl = left end
end
redis.call('PEXPIRE', KEYS[1], math.floor(ttl))
return h
`;

/** Create only if the key is free (a new id never overwrites). ARGV: ttl (ms), field, value, … */
export const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

/**
 * Delta write, only while the session exists (a concurrent logout wins, nothing is resurrected).
 * ARGV: ttl (ms), n = number of fields to set, n field/value pairs, then fields to delete.
 */
export const UPDATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[2])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + n * 2)) end
if #ARGV > 2 + n * 2 then redis.call('HDEL', KEYS[1], unpack(ARGV, 3 + n * 2)) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;
