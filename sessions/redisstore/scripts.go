package redisstore

import "github.com/redis/rueidis"

// Every operation is one Lua script, so that it is atomic on the Redis server. Each script
// starts with the prelude below. ARGV[1] is the key prefix (the hash tag, so that every key
// is in one slot: standalone, Sentinel and Cluster alike) and ARGV[2] the clock override
// in microseconds ("0": the server's TIME, always, outside the conformance tests).
//
// Keys under the prefix P:
//
//	P s:<id>    hash: d (the session as JSON), exp (deadline, µs), la (last access written,
//	            µs), idle (µs), g (guest 0/1), lic (licence 0/1), v (version, for Update)
//	P exp       zset: every session by deadline (the sweep reads what expired)
//	P lic       zset: licensed sessions by deadline (its size is the licences held)
//	P guests    zset: guests by last use (a sequence number: the LRU order)
//	P lguests   zset: licensed guests, same scores (ReclaimGuestLicence takes the first)
//	P seq       the use sequence
//	P c:<key>   hash: a counter's n and r (window end, µs)
//	P t:<tok>   hash: a token's sid and e (expiry, µs)
//	P licences  the cluster's licence cap; P secret:<name> shared secrets
//	P es:<sid>  hash: the session's entity sets: <set> (the set as JSON, opaque here),
//	            <set>:e (deadline, µs), <set>:t (timeout, µs), <set>:c (created, µs),
//	            <set>:u (last use, from P seq)
//	P ek:<sid>:<set>  list: the set's keys, in order (a page is one LRANGE)
//	P lk:<resource>   an entity lock: its holder's session ID
//	P ls:<sid>        set: the resources the session holds locks on
//
// Numbers are microseconds held in Lua doubles (exact below 2^53, i.e. until the year
// 2255) and always written with %.0f: Lua's own number-to-string keeps 14 digits.
const prelude = `
local P = ARGV[1]
local function f(x) return string.format('%.0f', x) end
local function clock()
  local o = tonumber(ARGV[2])
  if o and o > 0 then return o end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function skey(id) return P .. 's:' .. id end
local function slack(idle, smin, smax) return math.min(math.max(math.floor(idle / 60), smin), smax) end
local function fetch(id)
  local h = redis.call('HGETALL', skey(id))
  if #h == 0 then return nil end
  local t = {}
  for i = 1, #h, 2 do t[h[i]] = h[i + 1] end
  return t
end
-- remove deletes a session and releases its licence: the one place either happens, inside
-- a script, so that a licence is released exactly once.
local function dropSets(id)
  local k = P .. 'es:' .. id
  for _, n in ipairs(redis.call('HKEYS', k)) do
    if not string.find(n, ':', 1, true) then redis.call('DEL', P .. 'ek:' .. id .. ':' .. n) end
  end
  redis.call('DEL', k)
end
local function dropLocks(id)
  local k = P .. 'ls:' .. id
  for _, r in ipairs(redis.call('SMEMBERS', k)) do
    if redis.call('GET', P .. 'lk:' .. r) == id then redis.call('DEL', P .. 'lk:' .. r) end
  end
  redis.call('DEL', k)
end
local function remove(id)
  dropSets(id)
  dropLocks(id)
  redis.call('DEL', skey(id))
  redis.call('ZREM', P .. 'exp', id)
  redis.call('ZREM', P .. 'lic', id)
  redis.call('ZREM', P .. 'guests', id)
  redis.call('ZREM', P .. 'lguests', id)
end
local function live(id, now)
  local t = fetch(id)
  if not t then return nil end
  if tonumber(t.exp) <= now then remove(id); return nil end
  return t
end
local function ok(id, t) return {'OK', id, t.d, t.exp, t.la, t.idle, t.g, t.lic, t.v} end
local function use(id, t)
  if t.g == '1' then
    local q = redis.call('INCR', P .. 'seq')
    redis.call('ZADD', P .. 'guests', q, id)
    if t.lic == '1' then redis.call('ZADD', P .. 'lguests', q, id) end
  end
end
`

func script(body string) *rueidis.Lua { return rueidis.NewLuaScript(prelude + body) }

// createFn creates a session from ARGV[a..a+8]: id, d, idle, g, licence, cap, maxGuests,
// slackMin, slackMax. Its reply is {'OK', exp, la, evicted guest IDs...}: the caller has
// the rest.
const createFn = `
local function create(now, a)
  local id = ARGV[a]
  if redis.call('EXISTS', skey(id)) == 1 then return {'EXISTS'} end
  local lic, cap = ARGV[a + 4], tonumber(ARGV[a + 5])
  if lic == '1' and cap > 0 and redis.call('ZCARD', P .. 'lic') >= cap then return {'EXHAUSTED'} end
  local idle = tonumber(ARGV[a + 2])
  local exp = now + idle + slack(idle, tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8]))
  local t = {exp = f(exp), la = f(now), g = ARGV[a + 3], lic = lic}
  redis.call('HSET', skey(id), 'd', ARGV[a + 1], 'exp', t.exp, 'la', t.la, 'idle', ARGV[a + 2], 'g', t.g, 'lic', lic, 'v', '1')
  redis.call('ZADD', P .. 'exp', t.exp, id)
  if lic == '1' then redis.call('ZADD', P .. 'lic', t.exp, id) end
  use(id, t)
  local max = tonumber(ARGV[a + 6])
  local reply = {'OK', t.exp, t.la}
  if t.g == '1' and max > 0 then
    while redis.call('ZCARD', P .. 'guests') > max do
      local victim = redis.call('ZRANGE', P .. 'guests', 0, 0)[1]
      remove(victim)
      table.insert(reply, victim) -- evicted: the caller forgets them
    end
  end
  return reply
end
`

// ARGV[3..11]: as createFn.
var createScript = script(createFn + `
return create(clock(), 3)
`)

// ARGV[3..]: id, touch (0/1), slackMin, slackMax. The new expiration is written only when
// the last one written is at least the slack old: a session is written at most once per
// slack, and its deadline (last written access + idle + slack) is never before its real
// last access + idle.
var touchScript = script(`
local now = clock()
local id = ARGV[3]
local t = live(id, now)
if not t then return {'NOTFOUND'} end
if ARGV[4] == '1' then
  local idle = tonumber(t.idle)
  local s = slack(idle, tonumber(ARGV[5]), tonumber(ARGV[6]))
  if s == 0 or now - tonumber(t.la) >= s then
    t.la, t.exp, t.v = f(now), f(now + idle + s), f(tonumber(t.v) + 1)
    redis.call('HSET', skey(id), 'la', t.la, 'exp', t.exp, 'v', t.v)
    redis.call('ZADD', P .. 'exp', t.exp, id)
    if t.lic == '1' then redis.call('ZADD', P .. 'lic', t.exp, id) end
    use(id, t)
  end
end
return ok(id, t)
`)

// ARGV[3..]: id, version read, d, la, idle, g, slackMin, slackMax.
var updateScript = script(`
local now = clock()
local id = ARGV[3]
local t = live(id, now)
if not t then return {'NOTFOUND'} end
if t.v ~= ARGV[4] then return {'CHANGED'} end
local idle = tonumber(ARGV[7])
local g = t.g
if ARGV[8] == '0' then g = '0' end
local exp = tonumber(ARGV[6]) + idle + slack(idle, tonumber(ARGV[9]), tonumber(ARGV[10]))
t.d, t.la, t.idle, t.exp, t.v = ARGV[5], ARGV[6], ARGV[7], f(exp), f(tonumber(t.v) + 1)
if t.g == '1' and g == '0' then
  redis.call('ZREM', P .. 'guests', id)
  redis.call('ZREM', P .. 'lguests', id)
end
t.g = g
redis.call('HSET', skey(id), 'd', t.d, 'la', t.la, 'idle', t.idle, 'exp', t.exp, 'g', t.g, 'v', t.v)
redis.call('ZADD', P .. 'exp', t.exp, id)
if t.lic == '1' then redis.call('ZADD', P .. 'lic', t.exp, id) end
return ok(id, t)
`)

// ARGV[3..]: id, cap.
var takeLicenceScript = script(`
local id = ARGV[3]
local t = fetch(id)
if not t then return {'NOTFOUND'} end
if t.lic == '1' then return {'OK'} end
local cap = tonumber(ARGV[4])
if cap > 0 and redis.call('ZCARD', P .. 'lic') >= cap then return {'EXHAUSTED'} end
redis.call('HSET', skey(id), 'lic', '1', 'v', f(tonumber(t.v) + 1))
redis.call('ZADD', P .. 'lic', t.exp, id)
if t.g == '1' then
  local q = redis.call('ZSCORE', P .. 'guests', id)
  if q then redis.call('ZADD', P .. 'lguests', q, id) end
end
return {'OK'}
`)

// ARGV[3..]: old, new.
var rotateScript = script(`
local now = clock()
local old, new = ARGV[3], ARGV[4]
local t = live(old, now)
if not t then return {'NOTFOUND'} end
if redis.call('EXISTS', skey(new)) == 1 then return {'EXISTS'} end
redis.call('RENAME', skey(old), skey(new))
local es = P .. 'es:' .. old
if redis.call('EXISTS', es) == 1 then
  for _, n in ipairs(redis.call('HKEYS', es)) do
    if not string.find(n, ':', 1, true) and redis.call('EXISTS', P .. 'ek:' .. old .. ':' .. n) == 1 then
      redis.call('RENAME', P .. 'ek:' .. old .. ':' .. n, P .. 'ek:' .. new .. ':' .. n)
    end
  end
  redis.call('RENAME', es, P .. 'es:' .. new)
end
local ls = P .. 'ls:' .. old
if redis.call('EXISTS', ls) == 1 then
  for _, r in ipairs(redis.call('SMEMBERS', ls)) do
    if redis.call('GET', P .. 'lk:' .. r) == old then redis.call('SET', P .. 'lk:' .. r, new) end
  end
  redis.call('RENAME', ls, P .. 'ls:' .. new)
end
for _, z in ipairs({'exp', 'lic', 'guests', 'lguests'}) do
  local q = redis.call('ZSCORE', P .. z, old)
  if q then
    redis.call('ZREM', P .. z, old)
    redis.call('ZADD', P .. z, q, new)
  end
end
return ok(new, t)
`)

// ARGV[3]: id.
var deleteScript = script(`
local id = ARGV[3]
local t = fetch(id)
if not t then return {'NOTFOUND'} end
remove(id)
return ok(id, t)
`)

var reclaimScript = script(`
while true do
  local v = redis.call('ZRANGE', P .. 'lguests', 0, 0)
  if #v == 0 then return {'NOTFOUND'} end
  local t = fetch(v[1])
  remove(v[1])
  if t then return ok(v[1], t) end
end
`)

// ARGV[3]: how many at most.
var sweepScript = script(`
local now = clock()
local ids = redis.call('ZRANGEBYSCORE', P .. 'exp', '-inf', f(now), 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do remove(id) end
return ids
`)

var statsScript = script(`
return {redis.call('ZCARD', P .. 'exp'), redis.call('ZCARD', P .. 'guests'), redis.call('ZCARD', P .. 'lic')}
`)

// hitFn adds one to counter key within its window, or starts a new window of the given
// length with a count of 1; it returns the count and the window's end. Within a window the
// count is one HINCRBY: the window's end, and the key's expiry a second past it, were
// written when the window started and do not move.
const hitFn = `
local function hit(key, now, window)
  local k = P .. 'c:' .. key
  local h = redis.call('HMGET', k, 'n', 'r')
  local n, r = tonumber(h[1]), tonumber(h[2])
  if n and r and r > now then return redis.call('HINCRBY', k, 'n', 1), h[2] end
  r = f(now + window)
  redis.call('HSET', k, 'n', '1', 'r', r)
  redis.call('PEXPIRE', k, f(math.ceil(window / 1000) + 1000))
  return 1, r
end
`

// ARGV[3..]: key, window (µs).
var hitScript = script(hitFn + `
local n, r = hit(ARGV[3], clock(), tonumber(ARGV[4]))
return {n, r}
`)

// ARGV[3]: key.
var unhitScript = script(`
local now = clock()
local k = P .. 'c:' .. ARGV[3]
local h = redis.call('HMGET', k, 'n', 'r')
local n, r = tonumber(h[1]), tonumber(h[2])
if n and n > 0 and r > now then redis.call('HINCRBY', k, 'n', -1) end
return 1
`)

// ARGV[3]: window (µs); ARGV[4..]: keys. hitScript on each key in one run: {n1, r1, n2, r2, ...}.
var hitAllScript = script(hitFn + `
local now = clock()
local window = tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV do
  local n, r = hit(ARGV[i], now, window)
  out[#out + 1] = n
  out[#out + 1] = r
end
return out
`)

// settleFn takes one back from ARGV[a+1..a+u] (as unhitScript) and drops ARGV[a+u+1..]
// (as ResetHits), where u is ARGV[a].
const settleFn = `
local function settle(now, a)
  local u = tonumber(ARGV[a])
  for i = a + 1, a + u do
    local k = P .. 'c:' .. ARGV[i]
    local h = redis.call('HMGET', k, 'n', 'r')
    local n, r = tonumber(h[1]), tonumber(h[2])
    if n and n > 0 and r > now then redis.call('HINCRBY', k, 'n', -1) end
  end
  for i = a + u + 1, #ARGV do redis.call('DEL', P .. 'c:' .. ARGV[i]) end
end
`

// ARGV[3]: how many keys to take one back from (u); ARGV[4..3+u]: those keys;
// ARGV[4+u..]: keys to drop.
var settleScript = script(settleFn + `
settle(clock(), 3)
return 1
`)

// ARGV[3..11]: the session, as createFn; ARGV[12..]: the counters, as settleFn. The settle
// is done whatever the create answers: the login it ends was good.
var settleCreateScript = script(createFn + settleFn + `
local now = clock()
settle(now, 12)
return create(now, 3)
`)

// ARGV[3..]: token, session ID, lifespan (µs).
var putTokenScript = script(`
local now = clock()
local k = P .. 't:' .. ARGV[3]
local life = tonumber(ARGV[5])
redis.call('HSET', k, 'sid', ARGV[4], 'e', f(now + life))
redis.call('PEXPIRE', k, f(math.ceil(life / 1000) + 1000))
return 1
`)

// ARGV[3]: token.
var takeTokenScript = script(`
local now = clock()
local k = P .. 't:' .. ARGV[3]
local h = redis.call('HMGET', k, 'sid', 'e')
redis.call('DEL', k)
if not h[1] or tonumber(h[2]) <= now then return {'NOTFOUND'} end
return {'OK', h[1]}
`)

// setsPrelude adds the entity-set helpers.
const setsPrelude = `
local function setNames(sid)
  local out = {}
  for _, n in ipairs(redis.call('HKEYS', P .. 'es:' .. sid)) do
    if not string.find(n, ':', 1, true) then table.insert(out, n) end
  end
  return out
end
local function dropSet(sid, n)
  redis.call('HDEL', P .. 'es:' .. sid, n, n .. ':e', n .. ':t', n .. ':c', n .. ':u')
  redis.call('DEL', P .. 'ek:' .. sid .. ':' .. n)
end
-- liveSets drops the session's expired sets and returns the others' names.
local function liveSets(sid, now)
  local out = {}
  for _, n in ipairs(setNames(sid)) do
    local e = tonumber(redis.call('HGET', P .. 'es:' .. sid, n .. ':e'))
    if not e or e <= now then dropSet(sid, n) else table.insert(out, n) end
  end
  return out
end
`

func setScript(body string) *rueidis.Lua { return rueidis.NewLuaScript(prelude + setsPrelude + body) }

// ARGV[3..]: sid, set, set JSON, timeout (µs), max, then the keys.
var putSetScript = setScript(`
local now = clock()
local sid, n = ARGV[3], ARGV[4]
if not live(sid, now) then return {'NOTFOUND'} end
local h = P .. 'es:' .. sid
if redis.call('HEXISTS', h, n) == 1 then return {'EXISTS'} end
local names = liveSets(sid, now)
local max = tonumber(ARGV[7])
if max > 0 then
  while #names >= max do
    local lru, lruAt = nil, nil
    for i, m in ipairs(names) do
      local u = tonumber(redis.call('HGET', h, m .. ':u')) or 0
      if not lruAt or u < lruAt then lru, lruAt = i, u end
    end
    dropSet(sid, names[lru])
    table.remove(names, lru)
  end
end
local t = tonumber(ARGV[6])
redis.call('HSET', h, n, ARGV[5], n .. ':e', f(now + t), n .. ':t', ARGV[6], n .. ':c', f(now), n .. ':u', redis.call('INCR', P .. 'seq'))
local k = P .. 'ek:' .. sid .. ':' .. n
local i = 8
while i <= #ARGV do
  local j = math.min(i + 999, #ARGV)
  redis.call('RPUSH', k, unpack(ARGV, i, j))
  i = j + 1
end
return {'OK', f(now), f(now + t)}
`)

// ARGV[3..]: sid, set, first index, last index (-1: the end).
var getSetScript = setScript(`
local now = clock()
local sid, n = ARGV[3], ARGV[4]
if not live(sid, now) then return {'NOTFOUND'} end
local h = P .. 'es:' .. sid
local v = redis.call('HMGET', h, n, n .. ':e', n .. ':t', n .. ':c')
if not v[1] then return {'NOTFOUND'} end
if tonumber(v[2]) <= now then dropSet(sid, n); return {'NOTFOUND'} end
local e = f(now + tonumber(v[3]))
redis.call('HSET', h, n .. ':e', e, n .. ':u', redis.call('INCR', P .. 'seq'))
local out = {'OK', v[1], v[4], e}
local first, last = tonumber(ARGV[5]), tonumber(ARGV[6])
if last == -1 or last >= first then
  for _, key in ipairs(redis.call('LRANGE', P .. 'ek:' .. sid .. ':' .. n, first, last)) do table.insert(out, key) end
end
return out
`)

// ARGV[3..]: sid, set.
var deleteSetScript = setScript(`
local sid, n = ARGV[3], ARGV[4]
if redis.call('HEXISTS', P .. 'es:' .. sid, n) == 0 then return {'NOTFOUND'} end
dropSet(sid, n)
return {'OK'}
`)

// ARGV[3]: sid. The reply lists each live set's JSON, created and deadline.
var listSetsScript = setScript(`
local now = clock()
local sid = ARGV[3]
if not live(sid, now) then return {'NOTFOUND'} end
local h = P .. 'es:' .. sid
local out = {'OK'}
for _, n in ipairs(liveSets(sid, now)) do
  local v = redis.call('HMGET', h, n, n .. ':c', n .. ':e')
  table.insert(out, v[1]); table.insert(out, v[2]); table.insert(out, v[3])
end
return out
`)

// ARGV[3..]: sid, resource. A holder that is gone (deleted, or expired by the server's
// clock) holds nothing: its lock is taken over.
var lockScript = script(`
local now = clock()
local sid, r = ARGV[3], ARGV[4]
if not live(sid, now) then return {'NOTFOUND'} end
local k = P .. 'lk:' .. r
local holder = redis.call('GET', k)
if holder and holder ~= sid and live(holder, now) then return {'LOCKED'} end
redis.call('SET', k, sid)
redis.call('SADD', P .. 'ls:' .. sid, r)
return {'OK'}
`)

// ARGV[3..]: sid, resource.
var unlockScript = script(`
local sid, r = ARGV[3], ARGV[4]
local k = P .. 'lk:' .. r
if redis.call('GET', k) ~= sid then return {'NOTFOUND'} end
redis.call('DEL', k)
redis.call('SREM', P .. 'ls:' .. sid, r)
return {'OK'}
`)

// ARGV[3..]: sid, resource.
var lockedScript = script(`
local now = clock()
local sid, r = ARGV[3], ARGV[4]
local holder = redis.call('GET', P .. 'lk:' .. r)
if holder and holder ~= sid and live(holder, now) then return {'OK', '1'} end
return {'OK', '0'}
`)
