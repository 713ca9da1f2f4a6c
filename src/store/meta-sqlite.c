#include "store/meta-sqlite.h"
#include "store/meta-sqlite-internal.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* Hits between two sweeps of expired rate-limit counters. */
#define RATE_SWEEP_EVERY 256

/*** Schema ***/

/* The first schema (user_version 0), as every database before owners had it;
 * a new database starts here too, so the migrations below run everywhere. */
static const char schema_v0[] =
    "CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, entity_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL, created_ms INTEGER NOT NULL, last_activity_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sessions_entity ON sessions(entity_id, last_activity_ms);"
    "CREATE TABLE IF NOT EXISTS files(session_id TEXT NOT NULL, id TEXT NOT NULL,"
    " name TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, kind INTEGER NOT NULL, PRIMARY KEY(session_id, id));"
    "CREATE INDEX IF NOT EXISTS files_name ON files(session_id, name);"
    "CREATE TABLE IF NOT EXISTS states(session_id TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " hash TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS api_keys(hash TEXT PRIMARY KEY, prefix TEXT NOT NULL,"
    " name TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, created_ms INTEGER NOT NULL);";

/* user_version 1: owners. Everything that existed belongs to 'unowned'
 * (docs/auth.md); states are keyed by (owner, id), so a caller's POST
 * /state/<id> can never touch another caller's state of the same id. */
static const char migrate_v1[] =
    "ALTER TABLE sessions ADD COLUMN owner TEXT NOT NULL DEFAULT 'unowned';"
    "DROP INDEX IF EXISTS sessions_entity;"
    "CREATE INDEX sessions_owner_entity ON sessions(owner, entity_id, last_activity_ms);"
    "ALTER TABLE files ADD COLUMN owner TEXT NOT NULL DEFAULT 'unowned';"
    "ALTER TABLE files ADD COLUMN res_kind TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE files ADD COLUMN res_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE files ADD COLUMN res_version TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE states_v1(owner TEXT NOT NULL, session_id TEXT NOT NULL,"
    " size INTEGER NOT NULL, hash TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL, PRIMARY KEY(owner, session_id));"
    "INSERT INTO states_v1 SELECT 'unowned', session_id, size, hash, created_ms, expires_ms"
    " FROM states;"
    "DROP TABLE states;"
    "ALTER TABLE states_v1 RENAME TO states;"
    "CREATE INDEX states_session ON states(session_id);"
    "ALTER TABLE api_keys ADD COLUMN exec_per_minute INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE api_keys ADD COLUMN upload_per_minute INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE api_keys ADD COLUMN download_per_minute INTEGER NOT NULL DEFAULT -1;"
    "CREATE TABLE rate_counters(key TEXT NOT NULL, window_ms INTEGER NOT NULL,"
    " count INTEGER NOT NULL, expires_ms INTEGER NOT NULL, PRIMARY KEY(key, window_ms))"
    " WITHOUT ROWID;"
    "PRAGMA user_version=1;";

/* user_version 2: continuation records of paused programmatic runs (several
 * replicas on one database file are not a topology kcr supports, but the
 * store keeps the contract all the same). */
static const char migrate_v2[] =
    "CREATE TABLE continuations(key TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    " replica TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
    "CREATE INDEX continuations_expiry ON continuations(expires_ms);"
    "PRAGMA user_version=2;";

static const char *const migrations[] = {migrate_v1, migrate_v2};

/*** Sessions ***/

#define SESSION_COLS "SELECT id,owner,entity_id,user_id,created_ms,last_activity_ms,expires_ms "

static void session_row(sqlite3_stmt *st, void *elem)
{
    struct kcr_session *x = elem;
    sq_col_text(st, 0, x->id, sizeof(x->id));
    sq_col_text(st, 1, x->owner, sizeof(x->owner));
    sq_col_text(st, 2, x->entity_id, sizeof(x->entity_id));
    sq_col_text(st, 3, x->user_id, sizeof(x->user_id));
    x->created_ms = sqlite3_column_int64(st, 4);
    x->last_activity_ms = sqlite3_column_int64(st, 5);
    x->expires_ms = sqlite3_column_int64(st, 6);
}

static int m_session_create(struct kcr_meta *m, const struct kcr_session *x, struct kcr_err *err)
{
    const void *a[] = {x->id,         x->owner,       x->entity_id,
                       x->user_id,    &x->created_ms, &x->last_activity_ms,
                       &x->expires_ms};
    /* Every /exec without a session makes one: no fsync of its own (~0.6 ms
     * of each request). A power cut can lose only a session nothing was
     * stored in yet: its first file or state is an fsynced commit. */
    return sq_exec_stmt_unsynced(ms(m),
                                 "INSERT INTO sessions(id,owner,entity_id,user_id,created_ms,"
                                 "last_activity_ms,expires_ms) VALUES(?,?,?,?,?,?,?)",
                                 "ssssiii", a, NULL, err);
}

static int m_session_get(struct kcr_meta *m, const char *id, int64_t now_ms,
                         struct kcr_session *ret, struct kcr_err *err)
{
    const void *a[] = {id, &now_ms};
    return sq_query_one(ms(m),
                        SESSION_COLS "FROM sessions WHERE id=? AND (expires_ms=0 OR expires_ms>?)",
                        "si", a, session_row, ret, "session", err);
}

static int m_session_touch(struct kcr_meta *m, const char *id, int64_t now_ms, struct kcr_err *err)
{
    const void *a[] = {&now_ms, id};
    /* Every use of a session: a last-use time lost in a power cut only
     * moves its expiry earlier by the time since the previous fsync. */
    return sq_exec_stmt_unsynced(ms(m), "UPDATE sessions SET last_activity_ms=? WHERE id=?", "is",
                                 a, NULL, err);
}

static void id_row(sqlite3_stmt *st, void *elem)
{
    sq_col_text(st, 0, elem, KCR_ID_LEN + 1);
}

static int m_session_by_entity(struct kcr_meta *m, const char *owner, const char *entity_id,
                               int64_t now_ms, char ret_id[KCR_ID_LEN + 1], struct kcr_err *err)
{
    const void *a[] = {owner, entity_id, &now_ms};
    return sq_query_one(ms(m),
                        "SELECT id FROM sessions WHERE owner=? AND entity_id=? AND "
                        "(expires_ms=0 OR expires_ms>?) ORDER BY last_activity_ms DESC LIMIT 1",
                        "ssi", a, id_row, ret_id, "session of the entity", err);
}

static int m_sessions_expired(struct kcr_meta *m, int64_t now_ms, char (*ret_ids)[KCR_ID_LEN + 1],
                              size_t max, size_t *ret_n, struct kcr_err *err)
{
    int64_t lim = (int64_t)max;
    const void *a[] = {&now_ms, &lim};
    return sq_query_max(ms(m),
                        "SELECT id FROM sessions WHERE expires_ms<>0 AND expires_ms<=? LIMIT ?",
                        "ii", a, id_row, KCR_ID_LEN + 1, ret_ids, max, ret_n, err);
}

static int m_session_delete(struct kcr_meta *m, const char *id, struct kcr_err *err)
{
    const void *a[] = {id};
    /* The session's files and states go with it, in one transaction. */
    static const char *const sqls[] = {
        "DELETE FROM files WHERE session_id=?",
        "DELETE FROM states WHERE session_id=?",
        "DELETE FROM sessions WHERE id=?",
    };
    return sq_exec_tx(ms(m), sqls, ARRAY_SIZE(sqls), "s", a, err);
}

/*** Files ***/

#define FILE_COLS                                                                                  \
    "SELECT session_id,id,name,content_type,size,created_ms,kind,owner,res_kind,res_id,"           \
    "res_version FROM files "

static void file_row(sqlite3_stmt *st, void *elem)
{
    struct kcr_file_meta *f = elem;
    sq_col_text(st, 0, f->session_id, sizeof(f->session_id));
    sq_col_text(st, 1, f->id, sizeof(f->id));
    sq_col_text(st, 2, f->name, sizeof(f->name));
    sq_col_text(st, 3, f->content_type, sizeof(f->content_type));
    f->size = (uint64_t)sqlite3_column_int64(st, 4);
    f->created_ms = sqlite3_column_int64(st, 5);
    f->kind = sqlite3_column_int(st, 6) == KCR_FILE_OUTPUT ? KCR_FILE_OUTPUT : KCR_FILE_UPLOAD;
    sq_col_text(st, 7, f->owner, sizeof(f->owner));
    sq_col_text(st, 8, f->res.kind, sizeof(f->res.kind));
    sq_col_text(st, 9, f->res.id, sizeof(f->res.id));
    sq_col_text(st, 10, f->res.version, sizeof(f->res.version));
}

static int m_file_put(struct kcr_meta *m, const struct kcr_file_meta *f, struct kcr_err *err)
{
    int64_t size = (int64_t)f->size, kind = f->kind;
    const void *a[] = {f->session_id, f->id,          f->name,       f->content_type,
                       &size,         &f->created_ms, &kind,         f->owner,
                       f->res.kind,   f->res.id,      f->res.version};
    return sq_exec_stmt(ms(m),
                        "INSERT OR REPLACE INTO files(session_id,id,name,content_type,size,"
                        "created_ms,kind,owner,res_kind,res_id,res_version) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                        "ssssiiissss", a, NULL, err);
}

static int m_file_get(struct kcr_meta *m, const char *sid, const char *fid,
                      struct kcr_file_meta *ret, struct kcr_err *err)
{
    const void *a[] = {sid, fid};
    return sq_query_one(ms(m), FILE_COLS "WHERE session_id=? AND id=?", "ss", a, file_row, ret,
                        "file", err);
}

static int m_file_find_name(struct kcr_meta *m, const char *sid, const char *name,
                            struct kcr_file_meta *ret, struct kcr_err *err)
{
    const void *a[] = {sid, name};
    return sq_query_one(ms(m),
                        FILE_COLS "WHERE session_id=? AND name=? ORDER BY created_ms DESC LIMIT 1",
                        "ss", a, file_row, ret, "file", err);
}

static int m_file_list(struct kcr_meta *m, const char *sid, struct kcr_file_meta **ret,
                       size_t *ret_n, struct kcr_err *err)
{
    const void *a[] = {sid};
    return sq_query_all(ms(m), FILE_COLS "WHERE session_id=? ORDER BY created_ms, rowid", "s", a,
                        file_row, sizeof(**ret), (void **)ret, ret_n, err);
}

static int m_file_delete(struct kcr_meta *m, const char *sid, const char *fid, struct kcr_err *err)
{
    const void *a[] = {sid, fid};
    int changes = 0;
    if (sq_exec_stmt(ms(m), "DELETE FROM files WHERE session_id=? AND id=?", "ss", a, &changes,
                     err) < 0)
        return -1;
    if (changes == 0)
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "file '%s' not found", fid);
    return 0;
}

/*** State index ***/

static void state_row(sqlite3_stmt *st, void *elem)
{
    struct kcr_state_meta *x = elem;
    sq_col_text(st, 0, x->owner, sizeof(x->owner));
    sq_col_text(st, 1, x->session_id, sizeof(x->session_id));
    x->size = (uint64_t)sqlite3_column_int64(st, 2);
    sq_col_text(st, 3, x->hash, sizeof(x->hash));
    x->created_ms = sqlite3_column_int64(st, 4);
    x->expires_ms = sqlite3_column_int64(st, 5);
}

static int m_state_put(struct kcr_meta *m, const struct kcr_state_meta *x, struct kcr_err *err)
{
    int64_t size = (int64_t)x->size;
    const void *a[] = {x->owner, x->session_id, &size, x->hash, &x->created_ms, &x->expires_ms};
    return sq_exec_stmt(ms(m),
                        "INSERT OR REPLACE INTO states(owner,session_id,size,hash,created_ms,"
                        "expires_ms) VALUES(?,?,?,?,?,?)",
                        "ssisii", a, NULL, err);
}

static int m_state_get(struct kcr_meta *m, const char *owner, const char *sid, int64_t now_ms,
                       struct kcr_state_meta *ret, struct kcr_err *err)
{
    const void *a[] = {owner, sid, &now_ms};
    return sq_query_one(ms(m),
                        "SELECT owner,session_id,size,hash,created_ms,expires_ms FROM states "
                        "WHERE owner=? AND session_id=? AND (expires_ms=0 OR expires_ms>?)",
                        "ssi", a, state_row, ret, "state", err);
}

static int m_state_delete(struct kcr_meta *m, const char *owner, const char *sid,
                          struct kcr_err *err)
{
    const void *a[] = {owner, sid};
    return sq_exec_stmt(ms(m), "DELETE FROM states WHERE owner=? AND session_id=?", "ss", a, NULL,
                        err);
}

static int m_states_expired(struct kcr_meta *m, int64_t now_ms, struct kcr_state_meta *ret,
                            size_t max, size_t *ret_n, struct kcr_err *err)
{
    int64_t lim = (int64_t)max;
    const void *a[] = {&now_ms, &lim};
    return sq_query_max(ms(m),
                        "SELECT owner,session_id,size,hash,created_ms,expires_ms FROM states "
                        "WHERE expires_ms<>0 AND expires_ms<=? LIMIT ?",
                        "ii", a, state_row, sizeof(*ret), ret, max, ret_n, err);
}

/*** Managed keys ***/

#define KEY_COLS                                                                                   \
    "SELECT hash,prefix,name,enabled,created_ms,exec_per_minute,upload_per_minute,"                \
    "download_per_minute FROM api_keys "

static void key_row(sqlite3_stmt *st, void *elem)
{
    struct kcr_key_meta *k = elem;
    sq_col_text(st, 0, k->hash, sizeof(k->hash));
    sq_col_text(st, 1, k->prefix, sizeof(k->prefix));
    sq_col_text(st, 2, k->name, sizeof(k->name));
    k->enabled = sqlite3_column_int(st, 3) != 0;
    k->created_ms = sqlite3_column_int64(st, 4);
    k->limits.exec = sqlite3_column_int64(st, 5);
    k->limits.upload = sqlite3_column_int64(st, 6);
    k->limits.download = sqlite3_column_int64(st, 7);
}

static int m_key_add(struct kcr_meta *m, const struct kcr_key_meta *k, struct kcr_err *err)
{
    int64_t enabled = k->enabled;
    const void *a[] = {k->hash,        k->prefix,       k->name,           &enabled,
                       &k->created_ms, &k->limits.exec, &k->limits.upload, &k->limits.download};
    return sq_exec_stmt(ms(m),
                        "INSERT OR REPLACE INTO api_keys(hash,prefix,name,enabled,created_ms,"
                        "exec_per_minute,upload_per_minute,download_per_minute) "
                        "VALUES(?,?,?,?,?,?,?,?)",
                        "sssiiiii", a, NULL, err);
}

static int m_key_get(struct kcr_meta *m, const char *hash, struct kcr_key_meta *ret,
                     struct kcr_err *err)
{
    const void *a[] = {hash};
    return sq_query_one(ms(m), KEY_COLS "WHERE hash=?", "s", a, key_row, ret, "key", err);
}

static int m_key_list(struct kcr_meta *m, struct kcr_key_meta **ret, size_t *ret_n,
                      struct kcr_err *err)
{
    const void *a[] = {NULL};
    return sq_query_all(ms(m), KEY_COLS "ORDER BY created_ms, rowid", "", a, key_row, sizeof(**ret),
                        (void **)ret, ret_n, err);
}

/* An UPDATE of one key; NOT_FOUND when no row matched. */
static int key_update(struct kcr_meta *m, const char *sql, const char *types,
                      const void *const *args, struct kcr_err *err)
{
    int changes = 0;
    if (sq_exec_stmt(ms(m), sql, types, args, &changes, err) < 0)
        return -1;
    return changes ? 0 : kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "Key not found");
}

static int m_key_set_enabled(struct kcr_meta *m, const char *hash, bool enabled,
                             struct kcr_err *err)
{
    int64_t e = enabled;
    const void *a[] = {&e, hash};
    return key_update(m, "UPDATE api_keys SET enabled=? WHERE hash=?", "is", a, err);
}

static int m_key_set_limits(struct kcr_meta *m, const char *hash, const struct kcr_rate_limits *l,
                            struct kcr_err *err)
{
    const void *a[] = {&l->exec, &l->upload, &l->download, hash};
    return key_update(m,
                      "UPDATE api_keys SET exec_per_minute=?,upload_per_minute=?,"
                      "download_per_minute=? WHERE hash=?",
                      "iiis", a, err);
}

static int m_key_delete(struct kcr_meta *m, const char *hash, struct kcr_err *err)
{
    const void *a[] = {hash};
    return key_update(m, "DELETE FROM api_keys WHERE hash=?", "s", a, err);
}

/*** Rate-limit counters ***/

static int rate_hit_locked(struct meta_sqlite *s, const char *key, int64_t window_ms,
                           int64_t expires_ms, int64_t *ret_count, struct kcr_err *err)
{
    const void *a[] = {key, &window_ms, &expires_ms};
    /* One statement: the increment and the read cannot be split by another
     * writer, here or in another process sharing the file. RETURNING writes
     * only when the statement is run to completion, which query_locked does. */
    struct sq_rows r = {.v = ret_count,
                        .size = sizeof(*ret_count),
                        .cap = 1,
                        .fill = sq_int64_row,
                        .what = "rate counter"};
    if (sq_query_locked(s->rate_db,
                        "INSERT INTO rate_counters(key,window_ms,count,expires_ms) "
                        "VALUES(?,?,1,?) ON CONFLICT(key,window_ms) DO UPDATE SET "
                        "count=count+1 RETURNING count",
                        "sii", a, &r, err) < 0)
        return -1;
    if (r.n == 0)
        return sq_db_fail(s->rate_db, err, "rate counter");
    if (++s->rate_hits % RATE_SWEEP_EVERY == 0) {
        const void *b[] = {&window_ms};
        (void)sq_exec_locked(s->rate_db, "DELETE FROM rate_counters WHERE expires_ms<?", "i", b,
                             NULL, NULL);
    }
    return 0;
}

static int m_rate_hit(struct kcr_meta *m, const char *key, int64_t window_ms, int64_t expires_ms,
                      int64_t *ret_count, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    pthread_mutex_lock(&s->rate_lock);
    int r = rate_hit_locked(s, key, window_ms, expires_ms, ret_count, err);
    pthread_mutex_unlock(&s->rate_lock);
    return r;
}

static int m_rate_undo(struct kcr_meta *m, const char *key, int64_t window_ms, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    const void *a[] = {key, &window_ms};
    pthread_mutex_lock(&s->rate_lock);
    int r = sq_exec_locked(s->rate_db,
                           "UPDATE rate_counters SET count=count-1 "
                           "WHERE key=? AND window_ms=? AND count>0",
                           "si", a, NULL, err);
    pthread_mutex_unlock(&s->rate_lock);
    return r;
}

/*** Continuation records ***/

static void cont_row(sqlite3_stmt *st, void *elem)
{
    struct kcr_cont_meta *c = elem;
    sq_col_text(st, 0, c->key, sizeof(c->key));
    sq_col_text(st, 1, c->owner, sizeof(c->owner));
    sq_col_text(st, 2, c->replica, sizeof(c->replica));
    c->created_ms = sqlite3_column_int64(st, 3);
    c->expires_ms = sqlite3_column_int64(st, 4);
}

static int m_cont_put(struct kcr_meta *m, const struct kcr_cont_meta *c, struct kcr_err *err)
{
    /* Records die within minutes: the ones expired by now go on each write. */
    const void *old[] = {&c->created_ms};
    if (sq_exec_stmt(ms(m), "DELETE FROM continuations WHERE expires_ms<=?", "i", old, NULL, err) <
        0)
        return -1;
    const void *a[] = {c->key, c->owner, c->replica, &c->created_ms, &c->expires_ms};
    return sq_exec_stmt(ms(m),
                        "INSERT OR REPLACE INTO continuations(key,owner,replica,created_ms,"
                        "expires_ms) VALUES(?,?,?,?,?)",
                        "sssii", a, NULL, err);
}

static int m_cont_get(struct kcr_meta *m, const char *key, int64_t now_ms,
                      struct kcr_cont_meta *ret, struct kcr_err *err)
{
    const void *a[] = {key, &now_ms};
    return sq_query_one(ms(m),
                        "SELECT key,owner,replica,created_ms,expires_ms FROM continuations "
                        "WHERE key=? AND expires_ms>?",
                        "si", a, cont_row, ret, "continuation", err);
}

static int m_cont_delete(struct kcr_meta *m, const char *key, const char *replica,
                         struct kcr_err *err)
{
    const void *a[] = {key, replica};
    if (!replica)
        return sq_exec_stmt(ms(m), "DELETE FROM continuations WHERE key=?", "s", a, NULL, err);
    return sq_exec_stmt(ms(m), "DELETE FROM continuations WHERE key=? AND replica=?", "ss", a, NULL,
                        err);
}

/*** Summary ***/

static void summary_row(sqlite3_stmt *st, void *elem)
{
    struct kcr_store_summary *x = elem;
    x->sessions = (uint64_t)sqlite3_column_int64(st, 0);
    x->oldest_ms = sqlite3_column_int64(st, 1);
    x->files = (uint64_t)sqlite3_column_int64(st, 2);
    x->file_bytes = (uint64_t)sqlite3_column_int64(st, 3);
    x->states = (uint64_t)sqlite3_column_int64(st, 4);
    x->state_bytes = (uint64_t)sqlite3_column_int64(st, 5);
}

static int m_summary(struct kcr_meta *m, int64_t now_ms, struct kcr_store_summary *ret,
                     struct kcr_err *err)
{
    const void *a[] = {&now_ms};
    return sq_query_one(
        ms(m),
        "SELECT (SELECT count(*) FROM sessions WHERE expires_ms=0 OR expires_ms>?1),"
        " (SELECT coalesce(min(created_ms),0) FROM sessions"
        "  WHERE expires_ms=0 OR expires_ms>?1),"
        " (SELECT count(*) FROM files), (SELECT coalesce(sum(size),0) FROM files),"
        " (SELECT count(*) FROM states), (SELECT coalesce(sum(size),0) FROM states)",
        "i", a, summary_row, ret, "summary", err);
}

/*** Instance ***/

static int m_ping(struct kcr_meta *m, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    pthread_mutex_lock(&s->lock);
    int rc = sqlite3_exec(s->db, "SELECT count(*) FROM sessions", NULL, NULL, NULL);
    int r = rc == SQLITE_OK ? 0 : sq_db_fail(s->db, err, "ping");
    pthread_mutex_unlock(&s->lock);
    return r;
}

static void m_free(struct kcr_meta *m)
{
    struct meta_sqlite *s = ms(m);
    sqlite3_close(s->rate_db);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->rate_lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct kcr_meta_ops sqlite_ops = {
    .name = "sqlite",
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

static int open_db(const char *path, const char *pragmas, sqlite3 **ret, struct kcr_err *err)
{
    int rc = sqlite3_open_v2(
        path, ret, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK)
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "open database '%s': %s", path,
                           *ret ? sqlite3_errmsg(*ret) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(*ret, 5000);
    char *msg = NULL;
    if (sqlite3_exec(*ret, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "database '%s': %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int user_version(sqlite3 *db, int *ret)
{
    int64_t v = 0;
    struct sq_rows r = {.v = &v, .size = sizeof(v), .cap = 1, .fill = sq_int64_row};
    int rc = sq_query_locked(db, "PRAGMA user_version", "", NULL, &r, NULL);
    *ret = (int)v;
    return rc == 0 && r.n == 1 ? 0 : -1;
}

/* Brings the schema to the newest version, each step in one transaction so a
 * crash mid-way leaves the previous version intact. */
static int migrate(sqlite3 *db, const char *path, struct kcr_err *err)
{
    int v = 0;
    char *msg = NULL;
    if (sqlite3_exec(db, schema_v0, NULL, NULL, &msg) != SQLITE_OK || user_version(db, &v) < 0)
        goto fail;
    if (v > (int)ARRAY_SIZE(migrations))
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                           "database '%s' has schema version %d, newer than this kcr (%zu)", path,
                           v, ARRAY_SIZE(migrations));
    for (; v < (int)ARRAY_SIZE(migrations); v++) {
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
            goto fail;
        if (sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
    }
    return 0;
fail:
    kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "database '%s': schema: %s", path,
                msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

struct kcr_meta *meta_sqlite_open(const char *path, struct kcr_err *err)
{
    struct meta_sqlite *s = xcalloc(1, sizeof(*s));
    s->super.ops = &sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->rate_lock, NULL);
    if (open_db(path, "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;PRAGMA foreign_keys=OFF;",
                &s->db, err) < 0 ||
        migrate(s->db, path, err) < 0 ||
        open_db(path, "PRAGMA synchronous=OFF;", &s->rate_db, err) < 0) {
        m_free(&s->super);
        return NULL;
    }
    return &s->super;
}
