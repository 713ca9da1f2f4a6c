/* meta-redis-lua — the Lua scripts of the Redis metadata store (meta-redis.c
 * has the key layout). Each runs atomically on the server, with ARGV[1] the
 * key prefix and no KEYS: keys are built inside, so this store wants one
 * Redis (or a primary with replicas), not Redis Cluster. Numbers go back to
 * Redis through '%.0f': Lua 5.1's tostring() would round past 14 digits. */
#pragma once

#define RDS_LUA_PRELUDE                                                                            \
    "local P = ARGV[1]\n"                                                                          \
    "local DAY = 86400000\n"                                                                       \
    "local function lp(s) return #s .. ':' .. s end\n"                                             \
    "local function num(x) return string.format('%.0f', x) end\n"                                  \
    "local function ttl(k, expires, from)\n"                                                       \
    "  local d = tonumber(expires) - tonumber(from)\n"                                             \
    "  if d < 0 then d = 0 end\n"                                                                  \
    "  redis.call('PEXPIRE', k, num(d + DAY))\n"                                                   \
    "end\n"                                                                                        \
    "local function del_state(owner, sid)\n"                                                       \
    "  local m = lp(owner) .. sid\n"                                                               \
    "  local sz = redis.call('ZSCORE', P .. 'sta', m)\n"                                           \
    "  if sz then\n"                                                                               \
    "    redis.call('HINCRBY', P .. 'tot', 'state_bytes', num(-tonumber(sz)))\n"                   \
    "    redis.call('ZREM', P .. 'sta', m)\n"                                                      \
    "  end\n"                                                                                      \
    "  redis.call('ZREM', P .. 'stx', m)\n"                                                        \
    "  redis.call('DEL', P .. 'st:' .. m)\n"                                                       \
    "end\n"                                                                                        \
    "local function del_file(sid, fid)\n"                                                          \
    "  local fk = P .. 'f:' .. lp(sid) .. fid\n"                                                   \
    "  local v = redis.call('HMGET', fk, 'size', 'seq')\n"                                         \
    "  if not v[1] then return 0 end\n"                                                            \
    "  redis.call('ZREM', P .. 'fo:' .. sid, (v[2] or '') .. ':' .. fid)\n"                        \
    "  redis.call('DEL', fk)\n"                                                                    \
    "  redis.call('HINCRBY', P .. 'tot', 'files', -1)\n"                                           \
    "  redis.call('HINCRBY', P .. 'tot', 'file_bytes', num(-tonumber(v[1])))\n"                    \
    "  return 1\n"                                                                                 \
    "end\n"                                                                                        \
    "local function seq() return string.format('%016x', redis.call('INCR', P .. 'seq')) end\n"

/* ARGV: id owner entity user created last expires. */
#define RDS_LUA_SESSION_CREATE                                                                     \
    "local id = ARGV[2]\n"                                                                         \
    "local k = P .. 's:' .. id\n"                                                                  \
    "if redis.call('EXISTS', k) == 1 then return 0 end\n"                                          \
    "redis.call('HSET', k, 'owner', ARGV[3], 'entity', ARGV[4], 'user', ARGV[5],\n"                \
    "  'created', ARGV[6], 'last', ARGV[7], 'expires', ARGV[8])\n"                                 \
    "redis.call('ZADD', P .. 'se:' .. lp(ARGV[3]) .. ARGV[4], ARGV[7], id)\n"                      \
    "redis.call('ZADD', P .. 'sc', ARGV[6], id)\n"                                                 \
    "if tonumber(ARGV[8]) ~= 0 then\n"                                                             \
    "  redis.call('ZADD', P .. 'sx', ARGV[8], id)\n"                                               \
    "  ttl(k, ARGV[8], ARGV[7])\n"                                                                 \
    "end\n"                                                                                        \
    "return 1\n"

/* ARGV: id now. */
#define RDS_LUA_SESSION_TOUCH                                                                      \
    "local k = P .. 's:' .. ARGV[2]\n"                                                             \
    "local v = redis.call('HMGET', k, 'owner', 'entity')\n"                                        \
    "if not v[1] then return 0 end\n"                                                              \
    "redis.call('HSET', k, 'last', ARGV[3])\n"                                                     \
    "redis.call('ZADD', P .. 'se:' .. lp(v[1]) .. (v[2] or ''), ARGV[3], ARGV[2])\n"               \
    "return 1\n"

/* ARGV: owner entity now. The newest live session; members whose record
 * Redis expired are dropped on the way. */
#define RDS_LUA_SESSION_BY_ENTITY                                                                  \
    "local z = P .. 'se:' .. lp(ARGV[2]) .. ARGV[3]\n"                                             \
    "local now = tonumber(ARGV[4])\n"                                                              \
    "local gone, found = {}, false\n"                                                              \
    "local start = 0\n"                                                                            \
    "while not found do\n"                                                                         \
    "  local ids = redis.call('ZREVRANGE', z, start, start + 127)\n"                               \
    "  if #ids == 0 then break end\n"                                                              \
    "  for _, id in ipairs(ids) do\n"                                                              \
    "    local e = redis.call('HGET', P .. 's:' .. id, 'expires')\n"                               \
    "    if not e then gone[#gone + 1] = id\n"                                                     \
    "    elseif tonumber(e) == 0 or tonumber(e) > now then found = id break end\n"                 \
    "  end\n"                                                                                      \
    "  start = start + 128\n"                                                                      \
    "end\n"                                                                                        \
    "for _, id in ipairs(gone) do redis.call('ZREM', z, id) end\n"                                 \
    "return found\n"

/* ARGV: id. The session, its files, the states of its id, its index entries. */
#define RDS_LUA_SESSION_DELETE                                                                     \
    "local id = ARGV[2]\n"                                                                         \
    "local k = P .. 's:' .. id\n"                                                                  \
    "local v = redis.call('HMGET', k, 'owner', 'entity')\n"                                        \
    "if v[1] then redis.call('ZREM', P .. 'se:' .. lp(v[1]) .. (v[2] or ''), id) end\n"            \
    "redis.call('DEL', k)\n"                                                                       \
    "redis.call('ZREM', P .. 'sc', id)\n"                                                          \
    "redis.call('ZREM', P .. 'sx', id)\n"                                                          \
    "for _, m in ipairs(redis.call('ZRANGE', P .. 'fo:' .. id, 0, -1)) do\n"                       \
    "  del_file(id, string.sub(m, 18))\n"                                                          \
    "end\n"                                                                                        \
    "redis.call('DEL', P .. 'fo:' .. id)\n"                                                        \
    "for _, o in ipairs(redis.call('SMEMBERS', P .. 'ss:' .. id)) do del_state(o, id) end\n"       \
    "redis.call('DEL', P .. 'ss:' .. id)\n"                                                        \
    "return 1\n"

#define RDS_FILE_FIELDS                                                                            \
    "'owner', 'rkind', 'rid', 'rversion', 'name', 'ctype', 'size', 'created', 'kind'"

/* ARGV: sid fid owner rkind rid rversion name ctype size created kind. A
 * file already there is replaced and goes last among its equals in time, as
 * SQLite's INSERT OR REPLACE gives it a new rowid. */
#define RDS_LUA_FILE_PUT                                                                           \
    "local sid, fid = ARGV[2], ARGV[3]\n"                                                          \
    "del_file(sid, fid)\n"                                                                         \
    "local s = seq()\n"                                                                            \
    "redis.call('HSET', P .. 'f:' .. lp(sid) .. fid, 'owner', ARGV[4], 'rkind', ARGV[5],\n"        \
    "  'rid', ARGV[6], 'rversion', ARGV[7], 'name', ARGV[8], 'ctype', ARGV[9],\n"                  \
    "  'size', ARGV[10], 'created', ARGV[11], 'kind', ARGV[12], 'seq', s)\n"                       \
    "redis.call('ZADD', P .. 'fo:' .. sid, ARGV[11], s .. ':' .. fid)\n"                           \
    "redis.call('HINCRBY', P .. 'tot', 'files', 1)\n"                                              \
    "redis.call('HINCRBY', P .. 'tot', 'file_bytes', ARGV[10])\n"                                  \
    "return 1\n"

/* ARGV: sid name. fid and the fields of the newest file of that name. */
#define RDS_LUA_FILE_FIND_NAME                                                                     \
    "local sid = ARGV[2]\n"                                                                        \
    "local start = 0\n"                                                                            \
    "while true do\n"                                                                              \
    "  local ms = redis.call('ZREVRANGE', P .. 'fo:' .. sid, start, start + 127)\n"                \
    "  if #ms == 0 then return false end\n"                                                        \
    "  for _, m in ipairs(ms) do\n"                                                                \
    "    local fid = string.sub(m, 18)\n"                                                          \
    "    local fk = P .. 'f:' .. lp(sid) .. fid\n"                                                 \
    "    if redis.call('HGET', fk, 'name') == ARGV[3] then\n"                                      \
    "      local r = redis.call('HMGET', fk, " RDS_FILE_FIELDS ")\n"                               \
    "      table.insert(r, 1, fid)\n"                                                              \
    "      return r\n"                                                                             \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "  start = start + 128\n"                                                                      \
    "end\n"

/* ARGV: sid. fid and fields of each file, oldest first, flat. */
#define RDS_LUA_FILE_LIST                                                                          \
    "local sid, out = ARGV[2], {}\n"                                                               \
    "for _, m in ipairs(redis.call('ZRANGE', P .. 'fo:' .. sid, 0, -1)) do\n"                      \
    "  local fid = string.sub(m, 18)\n"                                                            \
    "  local r = redis.call('HMGET', P .. 'f:' .. lp(sid) .. fid, " RDS_FILE_FIELDS ")\n"          \
    "  if r[1] then\n"                                                                             \
    "    out[#out + 1] = fid\n"                                                                    \
    "    for i = 1, 9 do out[#out + 1] = r[i] or '' end\n"                                         \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "return out\n"

/* ARGV: sid fid. 1 when it was there. */
#define RDS_LUA_FILE_DELETE "return del_file(ARGV[2], ARGV[3])\n"

/* ARGV: owner sid size hash created expires. */
#define RDS_LUA_STATE_PUT                                                                          \
    "local owner, sid = ARGV[2], ARGV[3]\n"                                                        \
    "del_state(owner, sid)\n"                                                                      \
    "local m = lp(owner) .. sid\n"                                                                 \
    "local k = P .. 'st:' .. m\n"                                                                  \
    "redis.call('HSET', k, 'owner', owner, 'sid', sid, 'size', ARGV[4], 'hash', ARGV[5],\n"        \
    "  'created', ARGV[6], 'expires', ARGV[7])\n"                                                  \
    "redis.call('ZADD', P .. 'sta', ARGV[4], m)\n"                                                 \
    "redis.call('HINCRBY', P .. 'tot', 'state_bytes', ARGV[4])\n"                                  \
    "redis.call('SADD', P .. 'ss:' .. sid, owner)\n"                                               \
    "if tonumber(ARGV[7]) ~= 0 then\n"                                                             \
    "  redis.call('ZADD', P .. 'stx', ARGV[7], m)\n"                                               \
    "  ttl(k, ARGV[7], ARGV[6])\n"                                                                 \
    "end\n"                                                                                        \
    "return 1\n"

/* ARGV: owner sid. */
#define RDS_LUA_STATE_DELETE                                                                       \
    "del_state(ARGV[2], ARGV[3])\n"                                                                \
    "redis.call('SREM', P .. 'ss:' .. ARGV[3], ARGV[2])\n"                                         \
    "return 1\n"

/* ARGV: now max. owner sid size hash created expires of each, flat; owner
 * and sid come from the index member, so a record Redis already expired
 * still reaches the sweeper and its blob is deleted. */
#define RDS_LUA_STATES_EXPIRED                                                                     \
    "local out = {}\n"                                                                             \
    "local ms = redis.call('ZRANGEBYSCORE', P .. 'stx', '-inf', ARGV[2], 'WITHSCORES',\n"          \
    "  'LIMIT', 0, tonumber(ARGV[3]))\n"                                                           \
    "for i = 1, #ms, 2 do\n"                                                                       \
    "  local m = ms[i]\n"                                                                          \
    "  local n = string.match(m, '^(%d+):')\n"                                                     \
    "  local len = tonumber(n or '0')\n"                                                           \
    "  local owner = string.sub(m, #(n or '') + 2, #(n or '') + 1 + len)\n"                        \
    "  local sid = string.sub(m, #(n or '') + 2 + len)\n"                                          \
    "  local r = redis.call('HMGET', P .. 'st:' .. m, 'hash', 'created')\n"                        \
    "  local size = redis.call('ZSCORE', P .. 'sta', m) or '0'\n"                                  \
    "  out[#out + 1] = owner\n"                                                                    \
    "  out[#out + 1] = sid\n"                                                                      \
    "  out[#out + 1] = num(tonumber(size))\n"                                                      \
    "  out[#out + 1] = r[1] or ''\n"                                                               \
    "  out[#out + 1] = r[2] or '0'\n"                                                              \
    "  out[#out + 1] = num(tonumber(ms[i + 1]))\n"                                                 \
    "end\n"                                                                                        \
    "return out\n"

#define RDS_KEY_FIELDS "'prefix', 'name', 'enabled', 'created', 'exec', 'upload', 'download'"

/* ARGV: hash prefix name enabled created exec upload download. Replaces a
 * key of the same hash, as SQLite's INSERT OR REPLACE. */
#define RDS_LUA_KEY_ADD                                                                            \
    "local h = ARGV[2]\n"                                                                          \
    "local k = P .. 'k:' .. h\n"                                                                   \
    "local old = redis.call('HGET', k, 'seq')\n"                                                   \
    "if old then redis.call('ZREM', P .. 'ko', old .. ':' .. h) end\n"                             \
    "redis.call('DEL', k)\n"                                                                       \
    "local s = seq()\n"                                                                            \
    "redis.call('HSET', k, 'prefix', ARGV[3], 'name', ARGV[4], 'enabled', ARGV[5],\n"              \
    "  'created', ARGV[6], 'exec', ARGV[7], 'upload', ARGV[8], 'download', ARGV[9], 'seq', s)\n"   \
    "redis.call('ZADD', P .. 'ko', ARGV[6], s .. ':' .. h)\n"                                      \
    "return 1\n"

/* hash and fields of each key, oldest first, flat. */
#define RDS_LUA_KEY_LIST                                                                           \
    "local out = {}\n"                                                                             \
    "for _, m in ipairs(redis.call('ZRANGE', P .. 'ko', 0, -1)) do\n"                              \
    "  local h = string.sub(m, 18)\n"                                                              \
    "  local r = redis.call('HMGET', P .. 'k:' .. h, " RDS_KEY_FIELDS ")\n"                        \
    "  if r[1] then\n"                                                                             \
    "    out[#out + 1] = h\n"                                                                      \
    "    for i = 1, 7 do out[#out + 1] = r[i] or '' end\n"                                         \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "return out\n"

/* ARGV: hash field value [field value...]. 0 when there is no such key. */
#define RDS_LUA_KEY_SET                                                                            \
    "local k = P .. 'k:' .. ARGV[2]\n"                                                             \
    "if redis.call('EXISTS', k) == 0 then return 0 end\n"                                          \
    "redis.call('HSET', k, unpack(ARGV, 3))\n"                                                     \
    "return 1\n"

/* ARGV: hash. 0 when there is no such key. */
#define RDS_LUA_KEY_DELETE                                                                         \
    "local k = P .. 'k:' .. ARGV[2]\n"                                                             \
    "local old = redis.call('HGET', k, 'seq')\n"                                                   \
    "if not old then return 0 end\n"                                                               \
    "redis.call('ZREM', P .. 'ko', old .. ':' .. ARGV[2])\n"                                       \
    "redis.call('DEL', k)\n"                                                                       \
    "return 1\n"

/* ARGV: key window expires. The count with this hit. The counter lives
 * expires - window ms from its first hit: a lifetime, not a time, so the
 * clocks of the replicas and of Redis need not agree. */
#define RDS_LUA_RATE_HIT                                                                           \
    "local k = P .. 'r:' .. ARGV[3] .. ':' .. ARGV[2]\n"                                           \
    "local n = redis.call('INCR', k)\n"                                                            \
    "if n == 1 then\n"                                                                             \
    "  local d = tonumber(ARGV[4]) - tonumber(ARGV[3])\n"                                          \
    "  if d < 1000 then d = 1000 end\n"                                                            \
    "  redis.call('PEXPIRE', k, num(d))\n"                                                         \
    "end\n"                                                                                        \
    "return n\n"

/* ARGV: key, window. DECR keeps the counter's expiry. */
#define RDS_LUA_RATE_UNDO                                                                          \
    "local k = P .. 'r:' .. ARGV[3] .. ':' .. ARGV[2]\n"                                           \
    "local n = tonumber(redis.call('GET', k) or '0')\n"                                            \
    "if n > 0 then redis.call('DECR', k) end\n"                                                    \
    "return n\n"

/* ARGV: now. live sessions, the oldest live one's creation, files, file
 * bytes, states, state bytes. The oldest is found walking the sessions by
 * creation past the expired ones: O(sessions) at worst, in fixed chunks. */
#define RDS_LUA_SUMMARY                                                                            \
    "local now = tonumber(ARGV[2])\n"                                                              \
    "local live = redis.call('ZCARD', P .. 'sc') -\n"                                              \
    "  redis.call('ZCOUNT', P .. 'sx', '-inf', ARGV[2])\n"                                         \
    "local oldest, start, done = 0, 0, false\n"                                                    \
    "while live > 0 and not done do\n"                                                             \
    "  local r = redis.call('ZRANGE', P .. 'sc', start, start + 255, 'WITHSCORES')\n"              \
    "  if #r == 0 then break end\n"                                                                \
    "  for i = 1, #r, 2 do\n"                                                                      \
    "    local e = redis.call('ZSCORE', P .. 'sx', r[i])\n"                                        \
    "    if not e or tonumber(e) > now then oldest, done = tonumber(r[i + 1]), true break end\n"   \
    "  end\n"                                                                                      \
    "  start = start + 256\n"                                                                      \
    "end\n"                                                                                        \
    "local t = redis.call('HMGET', P .. 'tot', 'files', 'file_bytes', 'state_bytes')\n"            \
    "return {num(live), num(oldest), t[1] or '0', t[2] or '0',\n"                                  \
    "  num(redis.call('ZCARD', P .. 'sta')), t[3] or '0'}\n"

/* ARGV: key owner replica created expires. The record expires as a Redis key
 * at its own expiry: nothing needs sweeping after it. */
#define RDS_LUA_CONT_PUT                                                                           \
    "local k = P .. 'c:' .. ARGV[2]\n"                                                             \
    "local d = tonumber(ARGV[6]) - tonumber(ARGV[5])\n"                                            \
    "if d < 1 then d = 1 end\n"                                                                    \
    "redis.call('DEL', k)\n"                                                                       \
    "redis.call('HSET', k, 'owner', ARGV[3], 'replica', ARGV[4], 'created', ARGV[5],\n"            \
    "  'expires', ARGV[6])\n"                                                                      \
    "redis.call('PEXPIRE', k, num(d))\n"                                                           \
    "return 1\n"

/* ARGV: key replica ("" = any). Deletes only a record still naming replica. */
#define RDS_LUA_CONT_DELETE                                                                        \
    "local k = P .. 'c:' .. ARGV[2]\n"                                                             \
    "if ARGV[3] ~= '' and redis.call('HGET', k, 'replica') ~= ARGV[3] then return 0 end\n"         \
    "return redis.call('DEL', k)\n"
