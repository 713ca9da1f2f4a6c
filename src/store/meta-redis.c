/* meta-redis — the operations of the Redis metadata store.
 *
 * Key layout, every key under the configured prefix P (REDIS_KEY_PREFIX);
 * lp(x) is x length-prefixed ("<len>:<x>"), so an owner holding ':' cannot
 * alias another key:
 *   P s:<sid>                 hash: a session (owner entity user created last expires)
 *   P se:<lp(owner)><entity>  zset: its sessions' ids by last activity (session_by_entity)
 *   P sc                      zset: every session id by creation (summary)
 *   P sx                      zset: ids of sessions with an expiry, by expires_ms (sweeper)
 *   P f:<lp(sid)><fid>        hash: a file record (owner rkind rid rversion name ctype size
 *                             created kind seq)
 *   P fo:<sid>                zset: "<seq>:<fid>" of the session's files by creation; seq
 *                             (16 hex digits) orders equal times by insertion
 *   P st:<lp(owner)><sid>     hash: a state record (owner sid size hash created expires)
 *   P sta                     zset: every state "<lp(owner)><sid>" by size (count, bytes)
 *   P stx                     zset: states with an expiry, by expires_ms (sweeper)
 *   P ss:<sid>                set: owners with a state of that session id (session_delete)
 *   P k:<hash>                hash: a managed key (prefix name enabled created exec upload
 *                             download seq)
 *   P ko                      zset: "<seq>:<hash>" by creation (key_list)
 *   P r:<window>:<key>        string: a rate counter (INCR), expiring after its window
 *   P c:<key>                 hash: a continuation record (owner replica created expires),
 *                             expiring as a Redis key at its expiry
 *   P tot                     hash: running totals (files file_bytes state_bytes)
 *   P seq                     string: the insertion counter behind the seq fields
 *
 * Every update that touches more than one key, or that two replicas can
 * race, is one Lua script (meta-redis-lua.h), so it is atomic on the server.
 * Sessions and states with an expiry also expire as Redis keys, a day after
 * their logical expiry (counted from their own times, not Redis's clock):
 * the sweeper finds them by the sx/stx indexes, which do not expire, so a
 * record Redis dropped first still has its blob deleted.
 *
 * A call returns 0 once the server acknowledged it; whether that survives a
 * restart of Redis is its persistence settings' business: appendonly yes
 * (appendfsync everysec or always) is recommended (docs/scale-out.md). */
#include "store/meta-redis.h"
#include "store/meta-redis-internal.h"
#include "store/meta-redis-lua.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_SESSION_CREATE,
    S_SESSION_TOUCH,
    S_SESSION_BY_ENTITY,
    S_SESSION_DELETE,
    S_FILE_PUT,
    S_FILE_FIND_NAME,
    S_FILE_LIST,
    S_FILE_DELETE,
    S_STATE_PUT,
    S_STATE_DELETE,
    S_STATES_EXPIRED,
    S_KEY_ADD,
    S_KEY_LIST,
    S_KEY_SET,
    S_KEY_DELETE,
    S_RATE_HIT,
    S_RATE_UNDO,
    S_SUMMARY,
    S_CONT_PUT,
    S_CONT_DELETE,
    S_COUNT,
};

#define SCRIPT(body) RDS_LUA_PRELUDE body
static const char *const scripts[S_COUNT] = {
    [S_SESSION_CREATE] = SCRIPT(RDS_LUA_SESSION_CREATE),
    [S_SESSION_TOUCH] = SCRIPT(RDS_LUA_SESSION_TOUCH),
    [S_SESSION_BY_ENTITY] = SCRIPT(RDS_LUA_SESSION_BY_ENTITY),
    [S_SESSION_DELETE] = SCRIPT(RDS_LUA_SESSION_DELETE),
    [S_FILE_PUT] = SCRIPT(RDS_LUA_FILE_PUT),
    [S_FILE_FIND_NAME] = SCRIPT(RDS_LUA_FILE_FIND_NAME),
    [S_FILE_LIST] = SCRIPT(RDS_LUA_FILE_LIST),
    [S_FILE_DELETE] = SCRIPT(RDS_LUA_FILE_DELETE),
    [S_STATE_PUT] = SCRIPT(RDS_LUA_STATE_PUT),
    [S_STATE_DELETE] = SCRIPT(RDS_LUA_STATE_DELETE),
    [S_STATES_EXPIRED] = SCRIPT(RDS_LUA_STATES_EXPIRED),
    [S_KEY_ADD] = SCRIPT(RDS_LUA_KEY_ADD),
    [S_KEY_LIST] = SCRIPT(RDS_LUA_KEY_LIST),
    [S_KEY_SET] = SCRIPT(RDS_LUA_KEY_SET),
    [S_KEY_DELETE] = SCRIPT(RDS_LUA_KEY_DELETE),
    [S_RATE_HIT] = SCRIPT(RDS_LUA_RATE_HIT),
    [S_RATE_UNDO] = SCRIPT(RDS_LUA_RATE_UNDO),
    [S_SUMMARY] = SCRIPT(RDS_LUA_SUMMARY),
    [S_CONT_PUT] = SCRIPT(RDS_LUA_CONT_PUT),
    [S_CONT_DELETE] = SCRIPT(RDS_LUA_CONT_DELETE),
};
_Static_assert(S_COUNT <= RDS_SCRIPTS_MAX, "RDS_SCRIPTS_MAX too small");

/*** Replies ***/

static int corrupt(struct kcr_err *err, const char *what, const char *why)
{
    return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "redis: corrupt %s: %s", what, why);
}

/* A string element into out (size bytes with its NUL): longer, binary or of
 * another type is corruption, never an overflow. */
static int rep_str(const redisReply *e, char *out, size_t size, const char *what,
                   struct kcr_err *err)
{
    if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS)
        return corrupt(err, what, "not a string");
    if (e->len >= size || memchr(e->str, '\0', e->len))
        return corrupt(err, what, "field too long for its buffer");
    memcpy(out, e->str, e->len);
    out[e->len] = '\0';
    return 0;
}

static int rep_i64(const redisReply *e, int64_t *ret, const char *what, struct kcr_err *err)
{
    if (e->type == REDIS_REPLY_INTEGER) {
        *ret = e->integer;
        return 0;
    }
    char buf[24], *end = NULL;
    if (rep_str(e, buf, sizeof(buf), what, err) < 0)
        return -1;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || end == buf || *end)
        return corrupt(err, what, "not an integer");
    *ret = v;
    return 0;
}

static int rep_u64(const redisReply *e, uint64_t *ret, const char *what, struct kcr_err *err)
{
    int64_t v = 0;
    if (rep_i64(e, &v, what, err) < 0)
        return -1;
    if (v < 0)
        return corrupt(err, what, "negative");
    *ret = (uint64_t)v;
    return 0;
}

/* An array reply of a multiple of n elements (n=0: any length). */
static int rep_array(const redisReply *r, size_t n, const char *what, struct kcr_err *err)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return corrupt(err, what, "not an array");
    if (n && r->elements % n)
        return corrupt(err, what, "wrong number of fields");
    return 0;
}

/* Runs a plain command; error replies fail. */
static int command(struct meta_redis *r, struct rds_args *a, redisReply **ret, const char *what,
                   struct kcr_err *err)
{
    int rc = rds_command(r, a, ret, err);
    rds_args_done(a);
    if (rc == 0 && (*ret)->type == REDIS_REPLY_ERROR) {
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "redis %s: %.160s", what, (*ret)->str);
        *ret = (freeReplyObject(*ret), NULL);
        return -1;
    }
    return rc;
}

static int eval(struct meta_redis *r, size_t i, struct rds_args *a, redisReply **ret,
                const char *what, struct kcr_err *err)
{
    int rc = rds_eval(r, i, a, ret, what, err);
    rds_args_done(a);
    return rc;
}

/* A script whose reply is an integer: into *ret_n. */
static int eval_int(struct meta_redis *r, size_t i, struct rds_args *a, int64_t *ret_n,
                    const char *what, struct kcr_err *err)
{
    redisReply *rep = NULL;
    if (eval(r, i, a, &rep, what, err) < 0)
        return -1;
    int rc = rep_i64(rep, ret_n, what, err);
    freeReplyObject(rep);
    return rc;
}

/*** Sessions ***/

static int m_session_create(struct kcr_meta *m, const struct kcr_session *x, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, x->id);
    rds_arg(&a, x->owner);
    rds_arg(&a, x->entity_id);
    rds_arg(&a, x->user_id);
    rds_arg_i64(&a, x->created_ms);
    rds_arg_i64(&a, x->last_activity_ms);
    rds_arg_i64(&a, x->expires_ms);
    int64_t made = 0;
    if (eval_int(mr(m), S_SESSION_CREATE, &a, &made, "session", err) < 0)
        return -1;
    return made ? 0 : kcr_err_set(err, 0, KCR_ERR_INVALID, "record exists");
}

static int session_fill(const redisReply *r, const char *id, struct kcr_session *x,
                        struct kcr_err *err)
{
    snprintf(x->id, sizeof(x->id), "%s", id);
    if (rep_str(r->element[0], x->owner, sizeof(x->owner), "session owner", err) < 0 ||
        rep_str(r->element[1], x->entity_id, sizeof(x->entity_id), "session entity", err) < 0 ||
        rep_str(r->element[2], x->user_id, sizeof(x->user_id), "session user", err) < 0 ||
        rep_i64(r->element[3], &x->created_ms, "session created", err) < 0 ||
        rep_i64(r->element[4], &x->last_activity_ms, "session activity", err) < 0 ||
        rep_i64(r->element[5], &x->expires_ms, "session expiry", err) < 0)
        return -1;
    return 0;
}

static int m_session_get(struct kcr_meta *m, const char *id, int64_t now_ms,
                         struct kcr_session *ret, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, "HMGET");
    rds_arg_fmt(&a, "%ss:%s", mr(m)->prefix, id);
    rds_arg(&a, "owner");
    rds_arg(&a, "entity");
    rds_arg(&a, "user");
    rds_arg(&a, "created");
    rds_arg(&a, "last");
    rds_arg(&a, "expires");
    redisReply *r = NULL;
    if (command(mr(m), &a, &r, "session", err) < 0)
        return -1;
    int rc = rep_array(r, 6, "session", err);
    if (rc == 0 && (r->elements != 6 || r->element[0]->type == REDIS_REPLY_NIL))
        rc = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "session not found");
    if (rc == 0)
        rc = session_fill(r, id, ret, err);
    if (rc == 0 && ret->expires_ms != 0 && ret->expires_ms <= now_ms)
        rc = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "session not found");
    freeReplyObject(r);
    return rc;
}

static int m_session_touch(struct kcr_meta *m, const char *id, int64_t now_ms, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, id);
    rds_arg_i64(&a, now_ms);
    int64_t n = 0;
    return eval_int(mr(m), S_SESSION_TOUCH, &a, &n, "session", err);
}

static int m_session_by_entity(struct kcr_meta *m, const char *owner, const char *entity_id,
                               int64_t now_ms, char ret_id[KCR_ID_LEN + 1], struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, owner);
    rds_arg(&a, entity_id);
    rds_arg_i64(&a, now_ms);
    redisReply *r = NULL;
    if (eval(mr(m), S_SESSION_BY_ENTITY, &a, &r, "session of the entity", err) < 0)
        return -1;
    int rc = r->type == REDIS_REPLY_NIL
                 ? kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "session of the entity not found")
                 : rep_str(r, ret_id, KCR_ID_LEN + 1, "session id", err);
    freeReplyObject(r);
    return rc;
}

static int m_sessions_expired(struct kcr_meta *m, int64_t now_ms, char (*ret_ids)[KCR_ID_LEN + 1],
                              size_t max, size_t *ret_n, struct kcr_err *err)
{
    *ret_n = 0;
    if (max == 0)
        return 0;
    struct rds_args a = {0};
    rds_arg(&a, "ZRANGEBYSCORE");
    rds_arg_fmt(&a, "%ssx", mr(m)->prefix);
    rds_arg(&a, "-inf");
    rds_arg_i64(&a, now_ms);
    rds_arg(&a, "LIMIT");
    rds_arg(&a, "0");
    rds_arg_i64(&a, (int64_t)(max > INT32_MAX ? INT32_MAX : max));
    redisReply *r = NULL;
    if (command(mr(m), &a, &r, "expired sessions", err) < 0)
        return -1;
    int rc = rep_array(r, 0, "expired sessions", err);
    for (size_t i = 0; rc == 0 && i < r->elements && i < max; i++)
        if ((rc = rep_str(r->element[i], ret_ids[i], KCR_ID_LEN + 1, "session id", err)) == 0)
            *ret_n = i + 1;
    freeReplyObject(r);
    return rc;
}

static int m_session_delete(struct kcr_meta *m, const char *id, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, id);
    int64_t n = 0;
    return eval_int(mr(m), S_SESSION_DELETE, &a, &n, "session", err);
}

/*** Files ***/

/* fid then the 9 fields of RDS_FILE_FIELDS, from e[0..10). */
static int file_fill(redisReply *const *e, const char *sid, struct kcr_file_meta *f,
                     struct kcr_err *err)
{
    int64_t kind = 0, created = 0;
    memset(f, 0, sizeof(*f));
    snprintf(f->session_id, sizeof(f->session_id), "%s", sid);
    if (rep_str(e[0], f->id, sizeof(f->id), "file id", err) < 0 ||
        rep_str(e[1], f->owner, sizeof(f->owner), "file owner", err) < 0 ||
        rep_str(e[2], f->res.kind, sizeof(f->res.kind), "file resource", err) < 0 ||
        rep_str(e[3], f->res.id, sizeof(f->res.id), "file resource", err) < 0 ||
        rep_str(e[4], f->res.version, sizeof(f->res.version), "file resource", err) < 0 ||
        rep_str(e[5], f->name, sizeof(f->name), "file name", err) < 0 ||
        rep_str(e[6], f->content_type, sizeof(f->content_type), "file type", err) < 0 ||
        rep_u64(e[7], &f->size, "file size", err) < 0 ||
        rep_i64(e[8], &created, "file time", err) < 0 || rep_i64(e[9], &kind, "file kind", err) < 0)
        return -1;
    f->created_ms = created;
    f->kind = kind == KCR_FILE_OUTPUT ? KCR_FILE_OUTPUT : KCR_FILE_UPLOAD;
    return 0;
}

static int m_file_put(struct kcr_meta *m, const struct kcr_file_meta *f, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, f->session_id);
    rds_arg(&a, f->id);
    rds_arg(&a, f->owner);
    rds_arg(&a, f->res.kind);
    rds_arg(&a, f->res.id);
    rds_arg(&a, f->res.version);
    rds_arg(&a, f->name);
    rds_arg(&a, f->content_type);
    rds_arg_i64(&a, (int64_t)f->size);
    rds_arg_i64(&a, f->created_ms);
    rds_arg_i64(&a, f->kind);
    int64_t n = 0;
    return eval_int(mr(m), S_FILE_PUT, &a, &n, "file", err);
}

static int m_file_get(struct kcr_meta *m, const char *sid, const char *fid,
                      struct kcr_file_meta *ret, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, "HMGET");
    rds_arg_fmt(&a, "%sf:%zu:%s%s", mr(m)->prefix, strlen(sid), sid, fid);
    static const char *const fields[] = {"owner", "rkind", "rid",     "rversion", "name",
                                         "ctype", "size",  "created", "kind"};
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
        rds_arg(&a, fields[i]);
    redisReply *r = NULL;
    if (command(mr(m), &a, &r, "file", err) < 0)
        return -1;
    int rc = rep_array(r, 9, "file", err);
    if (rc == 0 && (r->elements != 9 || r->element[0]->type == REDIS_REPLY_NIL))
        rc = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "file not found");
    if (rc == 0) {
        /* file_fill wants the id first, as the scripts return it. */
        redisReply idrep = {.type = REDIS_REPLY_STRING, .str = (char *)fid, .len = strlen(fid)};
        redisReply *e[10] = {&idrep};
        memcpy(e + 1, r->element, 9 * sizeof(*e));
        rc = file_fill(e, sid, ret, err);
    }
    freeReplyObject(r);
    return rc;
}

static int m_file_find_name(struct kcr_meta *m, const char *sid, const char *name,
                            struct kcr_file_meta *ret, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, sid);
    rds_arg(&a, name);
    redisReply *r = NULL;
    if (eval(mr(m), S_FILE_FIND_NAME, &a, &r, "file", err) < 0)
        return -1;
    int rc = r->type == REDIS_REPLY_NIL ? kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "file not found")
                                        : rep_array(r, 10, "file", err);
    if (rc == 0 && r->type == REDIS_REPLY_ARRAY)
        rc = r->elements == 10 ? file_fill(r->element, sid, ret, err)
                               : corrupt(err, "file", "wrong number of fields");
    freeReplyObject(r);
    return rc;
}

static int m_file_list(struct kcr_meta *m, const char *sid, struct kcr_file_meta **ret,
                       size_t *ret_n, struct kcr_err *err)
{
    *ret = NULL;
    *ret_n = 0;
    struct rds_args a = {0};
    rds_arg(&a, sid);
    redisReply *r = NULL;
    if (eval(mr(m), S_FILE_LIST, &a, &r, "files", err) < 0)
        return -1;
    int rc = rep_array(r, 10, "files", err);
    size_t n = rc == 0 ? r->elements / 10 : 0;
    _cleanup_free_ struct kcr_file_meta *v = n ? xcalloc(n, sizeof(*v)) : NULL;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = file_fill(r->element + i * 10, sid, &v[i], err);
    freeReplyObject(r);
    if (rc < 0)
        return -1;
    *ret = TAKE_PTR(v);
    *ret_n = n;
    return 0;
}

static int m_file_delete(struct kcr_meta *m, const char *sid, const char *fid, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, sid);
    rds_arg(&a, fid);
    int64_t n = 0;
    if (eval_int(mr(m), S_FILE_DELETE, &a, &n, "file", err) < 0)
        return -1;
    return n ? 0 : kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "file '%s' not found", fid);
}

/*** State index ***/

/* owner sid size hash created expires, from e[0..6). */
static int state_fill(redisReply *const *e, struct kcr_state_meta *x, struct kcr_err *err)
{
    memset(x, 0, sizeof(*x));
    if (rep_str(e[0], x->owner, sizeof(x->owner), "state owner", err) < 0 ||
        rep_str(e[1], x->session_id, sizeof(x->session_id), "state id", err) < 0 ||
        rep_u64(e[2], &x->size, "state size", err) < 0 ||
        rep_str(e[3], x->hash, sizeof(x->hash), "state hash", err) < 0 ||
        rep_i64(e[4], &x->created_ms, "state time", err) < 0 ||
        rep_i64(e[5], &x->expires_ms, "state expiry", err) < 0)
        return -1;
    return 0;
}

static int m_state_put(struct kcr_meta *m, const struct kcr_state_meta *x, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, x->owner);
    rds_arg(&a, x->session_id);
    rds_arg_i64(&a, (int64_t)x->size);
    rds_arg(&a, x->hash);
    rds_arg_i64(&a, x->created_ms);
    rds_arg_i64(&a, x->expires_ms);
    int64_t n = 0;
    return eval_int(mr(m), S_STATE_PUT, &a, &n, "state", err);
}

static int m_state_get(struct kcr_meta *m, const char *owner, const char *sid, int64_t now_ms,
                       struct kcr_state_meta *ret, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, "HMGET");
    rds_arg_fmt(&a, "%sst:%zu:%s%s", mr(m)->prefix, strlen(owner), owner, sid);
    static const char *const fields[] = {"owner", "sid", "size", "hash", "created", "expires"};
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
        rds_arg(&a, fields[i]);
    redisReply *r = NULL;
    if (command(mr(m), &a, &r, "state", err) < 0)
        return -1;
    int rc = rep_array(r, 6, "state", err);
    if (rc == 0 && (r->elements != 6 || r->element[0]->type == REDIS_REPLY_NIL))
        rc = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "state not found");
    if (rc == 0)
        rc = state_fill(r->element, ret, err);
    if (rc == 0 && ret->expires_ms != 0 && ret->expires_ms <= now_ms)
        rc = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "state not found");
    freeReplyObject(r);
    return rc;
}

static int m_state_delete(struct kcr_meta *m, const char *owner, const char *sid,
                          struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, owner);
    rds_arg(&a, sid);
    int64_t n = 0;
    return eval_int(mr(m), S_STATE_DELETE, &a, &n, "state", err);
}

static int m_states_expired(struct kcr_meta *m, int64_t now_ms, struct kcr_state_meta *ret,
                            size_t max, size_t *ret_n, struct kcr_err *err)
{
    *ret_n = 0;
    if (max == 0)
        return 0;
    struct rds_args a = {0};
    rds_arg_i64(&a, now_ms);
    rds_arg_i64(&a, (int64_t)(max > INT32_MAX ? INT32_MAX : max));
    redisReply *r = NULL;
    if (eval(mr(m), S_STATES_EXPIRED, &a, &r, "expired states", err) < 0)
        return -1;
    int rc = rep_array(r, 6, "expired states", err);
    for (size_t i = 0; rc == 0 && i < r->elements / 6 && i < max; i++)
        if ((rc = state_fill(r->element + i * 6, &ret[i], err)) == 0)
            *ret_n = i + 1;
    freeReplyObject(r);
    return rc;
}

/*** Managed keys ***/

/* hash then the 7 fields of RDS_KEY_FIELDS, from e[0..8). */
static int key_fill(redisReply *const *e, struct kcr_key_meta *k, struct kcr_err *err)
{
    int64_t enabled = 0;
    memset(k, 0, sizeof(*k));
    if (rep_str(e[0], k->hash, sizeof(k->hash), "key hash", err) < 0 ||
        rep_str(e[1], k->prefix, sizeof(k->prefix), "key prefix", err) < 0 ||
        rep_str(e[2], k->name, sizeof(k->name), "key name", err) < 0 ||
        rep_i64(e[3], &enabled, "key enabled", err) < 0 ||
        rep_i64(e[4], &k->created_ms, "key time", err) < 0 ||
        rep_i64(e[5], &k->limits.exec, "key limit", err) < 0 ||
        rep_i64(e[6], &k->limits.upload, "key limit", err) < 0 ||
        rep_i64(e[7], &k->limits.download, "key limit", err) < 0)
        return -1;
    k->enabled = enabled != 0;
    return 0;
}

static int m_key_add(struct kcr_meta *m, const struct kcr_key_meta *k, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, k->hash);
    rds_arg(&a, k->prefix);
    rds_arg(&a, k->name);
    rds_arg(&a, k->enabled ? "1" : "0");
    rds_arg_i64(&a, k->created_ms);
    rds_arg_i64(&a, k->limits.exec);
    rds_arg_i64(&a, k->limits.upload);
    rds_arg_i64(&a, k->limits.download);
    int64_t n = 0;
    return eval_int(mr(m), S_KEY_ADD, &a, &n, "key", err);
}

static int m_key_get(struct kcr_meta *m, const char *hash, struct kcr_key_meta *ret,
                     struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, "HMGET");
    rds_arg_fmt(&a, "%sk:%s", mr(m)->prefix, hash);
    static const char *const fields[] = {"prefix", "name",   "enabled", "created",
                                         "exec",   "upload", "download"};
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
        rds_arg(&a, fields[i]);
    redisReply *r = NULL;
    if (command(mr(m), &a, &r, "key", err) < 0)
        return -1;
    int rc = rep_array(r, 7, "key", err);
    if (rc == 0 && (r->elements != 7 || r->element[0]->type == REDIS_REPLY_NIL))
        rc = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "key not found");
    if (rc == 0) {
        redisReply hrep = {.type = REDIS_REPLY_STRING, .str = (char *)hash, .len = strlen(hash)};
        redisReply *e[8] = {&hrep};
        memcpy(e + 1, r->element, 7 * sizeof(*e));
        rc = key_fill(e, ret, err);
    }
    freeReplyObject(r);
    return rc;
}

static int m_key_list(struct kcr_meta *m, struct kcr_key_meta **ret, size_t *ret_n,
                      struct kcr_err *err)
{
    *ret = NULL;
    *ret_n = 0;
    struct rds_args a = {0};
    redisReply *r = NULL;
    if (eval(mr(m), S_KEY_LIST, &a, &r, "keys", err) < 0)
        return -1;
    int rc = rep_array(r, 8, "keys", err);
    size_t n = rc == 0 ? r->elements / 8 : 0;
    _cleanup_free_ struct kcr_key_meta *v = n ? xcalloc(n, sizeof(*v)) : NULL;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = key_fill(r->element + i * 8, &v[i], err);
    freeReplyObject(r);
    if (rc < 0)
        return -1;
    *ret = TAKE_PTR(v);
    *ret_n = n;
    return 0;
}

/* A script on one key; NOT_FOUND when it found none (0). */
static int key_update(struct kcr_meta *m, size_t script, struct rds_args *a, struct kcr_err *err)
{
    int64_t n = 0;
    if (eval_int(mr(m), script, a, &n, "key", err) < 0)
        return -1;
    return n ? 0 : kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "Key not found");
}

static int m_key_set_enabled(struct kcr_meta *m, const char *hash, bool enabled,
                             struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, hash);
    rds_arg(&a, "enabled");
    rds_arg(&a, enabled ? "1" : "0");
    return key_update(m, S_KEY_SET, &a, err);
}

static int m_key_set_limits(struct kcr_meta *m, const char *hash, const struct kcr_rate_limits *l,
                            struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, hash);
    rds_arg(&a, "exec");
    rds_arg_i64(&a, l->exec);
    rds_arg(&a, "upload");
    rds_arg_i64(&a, l->upload);
    rds_arg(&a, "download");
    rds_arg_i64(&a, l->download);
    return key_update(m, S_KEY_SET, &a, err);
}

static int m_key_delete(struct kcr_meta *m, const char *hash, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, hash);
    return key_update(m, S_KEY_DELETE, &a, err);
}

/*** Rate-limit counters, summary, instance ***/

static int m_rate_hit(struct kcr_meta *m, const char *key, int64_t window_ms, int64_t expires_ms,
                      int64_t *ret_count, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, key);
    rds_arg_i64(&a, window_ms);
    rds_arg_i64(&a, expires_ms);
    return eval_int(mr(m), S_RATE_HIT, &a, ret_count, "rate counter", err);
}

static int m_rate_undo(struct kcr_meta *m, const char *key, int64_t window_ms, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, key);
    rds_arg_i64(&a, window_ms);
    int64_t n = 0;
    return eval_int(mr(m), S_RATE_UNDO, &a, &n, "rate counter", err);
}

/*** Continuation records ***/

static int m_cont_put(struct kcr_meta *m, const struct kcr_cont_meta *c, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, c->key);
    rds_arg(&a, c->owner);
    rds_arg(&a, c->replica);
    rds_arg_i64(&a, c->created_ms);
    rds_arg_i64(&a, c->expires_ms);
    int64_t n = 0;
    return eval_int(mr(m), S_CONT_PUT, &a, &n, "continuation", err);
}

static int m_cont_get(struct kcr_meta *m, const char *key, int64_t now_ms,
                      struct kcr_cont_meta *ret, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, "HMGET");
    rds_arg_fmt(&a, "%sc:%s", mr(m)->prefix, key);
    rds_arg(&a, "owner");
    rds_arg(&a, "replica");
    rds_arg(&a, "created");
    rds_arg(&a, "expires");
    redisReply *r = NULL;
    if (command(mr(m), &a, &r, "continuation", err) < 0)
        return -1;
    memset(ret, 0, sizeof(*ret));
    int rc = rep_array(r, 4, "continuation", err);
    if (rc == 0 && (r->elements != 4 || r->element[0]->type == REDIS_REPLY_NIL))
        rc = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "continuation not found");
    if (rc == 0 &&
        (rep_str(r->element[0], ret->owner, sizeof(ret->owner), "continuation owner", err) < 0 ||
         rep_str(r->element[1], ret->replica, sizeof(ret->replica), "continuation replica", err) <
             0 ||
         rep_i64(r->element[2], &ret->created_ms, "continuation time", err) < 0 ||
         rep_i64(r->element[3], &ret->expires_ms, "continuation expiry", err) < 0))
        rc = -1;
    if (rc == 0 && ret->expires_ms <= now_ms)
        rc = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "continuation not found");
    if (rc == 0)
        snprintf(ret->key, sizeof(ret->key), "%s", key);
    freeReplyObject(r);
    return rc;
}

static int m_cont_delete(struct kcr_meta *m, const char *key, const char *replica,
                         struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, key);
    rds_arg(&a, replica ? replica : "");
    int64_t n = 0;
    return eval_int(mr(m), S_CONT_DELETE, &a, &n, "continuation", err);
}

static int m_summary(struct kcr_meta *m, int64_t now_ms, struct kcr_store_summary *ret,
                     struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg_i64(&a, now_ms);
    redisReply *r = NULL;
    if (eval(mr(m), S_SUMMARY, &a, &r, "summary", err) < 0)
        return -1;
    int rc = rep_array(r, 6, "summary", err);
    if (rc == 0 && r->elements != 6)
        rc = corrupt(err, "summary", "wrong number of fields");
    if (rc == 0 && (rep_u64(r->element[0], &ret->sessions, "summary", err) < 0 ||
                    rep_i64(r->element[1], &ret->oldest_ms, "summary", err) < 0 ||
                    rep_u64(r->element[2], &ret->files, "summary", err) < 0 ||
                    rep_u64(r->element[3], &ret->file_bytes, "summary", err) < 0 ||
                    rep_u64(r->element[4], &ret->states, "summary", err) < 0 ||
                    rep_u64(r->element[5], &ret->state_bytes, "summary", err) < 0))
        rc = -1;
    freeReplyObject(r);
    return rc;
}

static int m_ping(struct kcr_meta *m, struct kcr_err *err)
{
    struct rds_args a = {0};
    rds_arg(&a, "PING");
    redisReply *r = NULL;
    if (command(mr(m), &a, &r, "PING", err) < 0)
        return -1;
    int rc = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0
                 ? 0
                 : corrupt(err, "PING reply", "not PONG");
    freeReplyObject(r);
    return rc;
}

static void m_free(struct kcr_meta *m)
{
    rds_pool_done(mr(m));
    free(m);
}

static const struct kcr_meta_ops redis_ops = {
    .name = "redis",
    .session_create = m_session_create,
    .session_get = m_session_get,
    .session_touch = m_session_touch,
    .session_by_entity = m_session_by_entity,
    .sessions_expired = m_sessions_expired,
    .session_delete = m_session_delete,
    .file_put = m_file_put,
    .file_get = m_file_get,
    .file_find_name = m_file_find_name,
    .file_list = m_file_list,
    .file_delete = m_file_delete,
    .state_put = m_state_put,
    .state_get = m_state_get,
    .state_delete = m_state_delete,
    .states_expired = m_states_expired,
    .key_add = m_key_add,
    .key_get = m_key_get,
    .key_list = m_key_list,
    .key_set_enabled = m_key_set_enabled,
    .key_set_limits = m_key_set_limits,
    .key_delete = m_key_delete,
    .rate_hit = m_rate_hit,
    .rate_undo = m_rate_undo,
    .cont_put = m_cont_put,
    .cont_get = m_cont_get,
    .cont_delete = m_cont_delete,
    .summary = m_summary,
    .ping = m_ping,
    .free = m_free,
};

struct kcr_meta *meta_redis_open(const struct kcr_redis_config *cfg, struct kcr_err *err)
{
    struct meta_redis *r = xcalloc(1, sizeof(*r));
    r->super.ops = &redis_ops;
    r->scripts = scripts;
    r->nscripts = S_COUNT;
    for (size_t i = 0; i < S_COUNT; i++) {
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)scripts[i], strlen(scripts[i]), md);
        for (size_t j = 0; j < sizeof(md); j++)
            snprintf(r->sha[i] + 2 * j, 3, "%02x", md[j]);
    }
    /* One round trip now, so wrong settings fail at start, not at the first request. */
    if (rds_pool_init(r, cfg, err) < 0 || m_ping(&r->super, err) < 0) {
        m_free(&r->super);
        return NULL;
    }
    return &r->super;
}
