#include "store/meta-sqlite.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* One connection serialised by a mutex: metadata operations are tiny, and a
 * single writer is what SQLite wants anyway. */
struct meta_sqlite {
    struct kcr_meta super;
    sqlite3 *db;
    pthread_mutex_t lock;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "PRAGMA foreign_keys=OFF;"
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

static struct meta_sqlite *ms(struct kcr_meta *m)
{
    return (struct meta_sqlite *)m;
}

static int db_fail(struct meta_sqlite *s, struct kcr_err *err, const char *what)
{
    return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "sqlite %s: %s", what, sqlite3_errmsg(s->db));
}

/* Prepares sql and binds the arguments described by types: 's' text, 'i' int64. */
static sqlite3_stmt *prep(struct meta_sqlite *s, const char *sql, const char *types,
                          const void *const *args, struct kcr_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "prepare");
        return NULL;
    }
    for (int i = 0; types[i]; i++) {
        int rc = types[i] == 's' ? sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT)
                                 : sqlite3_bind_int64(st, i + 1, *(const int64_t *)args[i]);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(st);
            db_fail(s, err, "bind");
            return NULL;
        }
    }
    return st;
}

/* Runs a statement that returns no rows, with the lock held; ret_changes (may
 * be NULL) gets the row count. */
static int exec_locked(struct meta_sqlite *s, const char *sql, const char *types,
                       const void *const *args, int *ret_changes, struct kcr_err *err)
{
    sqlite3_stmt *st = prep(s, sql, types, args, err);
    int r = -1;
    if (st) {
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE) {
            if (ret_changes)
                *ret_changes = sqlite3_changes(s->db);
            r = 0;
        } else if (rc == SQLITE_CONSTRAINT) {
            r = kcr_err_set(err, 0, KCR_ERR_INVALID, "record exists");
        } else {
            r = db_fail(s, err, "step");
        }
    }
    return r;
}

static int exec_stmt(struct meta_sqlite *s, const char *sql, const char *types,
                     const void *const *args, int *ret_changes, struct kcr_err *err)
{
    pthread_mutex_lock(&s->lock);
    int r = exec_locked(s, sql, types, args, ret_changes, err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

static void col_text(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}

/*** Sessions ***/

static int m_session_create(struct kcr_meta *m, const struct kcr_session *x, struct kcr_err *err)
{
    const void *a[] = {x->id,          x->entity_id,         x->user_id,
                       &x->created_ms, &x->last_activity_ms, &x->expires_ms};
    return exec_stmt(ms(m),
                     "INSERT INTO sessions(id,entity_id,user_id,created_ms,last_activity_ms,"
                     "expires_ms) VALUES(?,?,?,?,?,?)",
                     "sssiii", a, NULL, err);
}

static int m_session_get(struct kcr_meta *m, const char *id, int64_t now_ms,
                         struct kcr_session *ret, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    const void *a[] = {id, &now_ms};
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = prep(s,
                            "SELECT id,entity_id,user_id,created_ms,last_activity_ms,expires_ms "
                            "FROM sessions WHERE id=? AND (expires_ms=0 OR expires_ms>?)",
                            "si", a, err);
    int r = -1;
    if (st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            col_text(st, 0, ret->id, sizeof(ret->id));
            col_text(st, 1, ret->entity_id, sizeof(ret->entity_id));
            col_text(st, 2, ret->user_id, sizeof(ret->user_id));
            ret->created_ms = sqlite3_column_int64(st, 3);
            ret->last_activity_ms = sqlite3_column_int64(st, 4);
            ret->expires_ms = sqlite3_column_int64(st, 5);
            r = 0;
        } else if (rc == SQLITE_DONE) {
            r = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "session '%s' not found", id);
        } else {
            r = db_fail(s, err, "step");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int m_session_touch(struct kcr_meta *m, const char *id, int64_t now_ms, struct kcr_err *err)
{
    const void *a[] = {&now_ms, id};
    return exec_stmt(ms(m), "UPDATE sessions SET last_activity_ms=? WHERE id=?", "is", a, NULL,
                     err);
}

static int m_session_by_entity(struct kcr_meta *m, const char *entity_id, int64_t now_ms,
                               char ret_id[KCR_ID_LEN + 1], struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    const void *a[] = {entity_id, &now_ms};
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = prep(s,
                            "SELECT id FROM sessions WHERE entity_id=? AND "
                            "(expires_ms=0 OR expires_ms>?) ORDER BY last_activity_ms DESC LIMIT 1",
                            "si", a, err);
    int r = -1;
    if (st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            col_text(st, 0, ret_id, KCR_ID_LEN + 1);
            r = 0;
        } else if (rc == SQLITE_DONE) {
            r = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no session for entity '%s'", entity_id);
        } else {
            r = db_fail(s, err, "step");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int m_sessions_expired(struct kcr_meta *m, int64_t now_ms, char (*ret_ids)[KCR_ID_LEN + 1],
                              size_t max, size_t *ret_n, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    int64_t lim = (int64_t)max;
    const void *a[] = {&now_ms, &lim};
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = prep(
        s, "SELECT id FROM sessions WHERE expires_ms<>0 AND expires_ms<=? LIMIT ?", "ii", a, err);
    int r = -1;
    size_t n = 0;
    if (st) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max)
            col_text(st, 0, ret_ids[n++], KCR_ID_LEN + 1);
        r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : db_fail(s, err, "step");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    *ret_n = n;
    return r;
}

static int m_session_delete(struct kcr_meta *m, const char *id, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    const void *a[] = {id};
    /* Three statements, one transaction under one lock hold: a crash leaves
     * all or nothing, and no other thread's statement lands inside it. */
    pthread_mutex_lock(&s->lock);
    int r = exec_locked(s, "BEGIN IMMEDIATE", "", a, NULL, err);
    if (r == 0) {
        r = exec_locked(s, "DELETE FROM files WHERE session_id=?", "s", a, NULL, err);
        if (r == 0)
            r = exec_locked(s, "DELETE FROM states WHERE session_id=?", "s", a, NULL, err);
        if (r == 0)
            r = exec_locked(s, "DELETE FROM sessions WHERE id=?", "s", a, NULL, err);
        struct kcr_err e2 = {0};
        if (exec_locked(s, r == 0 ? "COMMIT" : "ROLLBACK", "", a, NULL, &e2) < 0 && r == 0) {
            if (err)
                *err = e2;
            r = -1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

/*** Files ***/

static int m_file_put(struct kcr_meta *m, const struct kcr_file_meta *f, struct kcr_err *err)
{
    int64_t size = (int64_t)f->size, kind = f->kind;
    const void *a[] = {f->session_id, f->id,          f->name, f->content_type,
                       &size,         &f->created_ms, &kind};
    return exec_stmt(ms(m),
                     "INSERT OR REPLACE INTO files(session_id,id,name,content_type,size,"
                     "created_ms,kind) VALUES(?,?,?,?,?,?,?)",
                     "ssssiii", a, NULL, err);
}

static void file_row(sqlite3_stmt *st, struct kcr_file_meta *f)
{
    col_text(st, 0, f->session_id, sizeof(f->session_id));
    col_text(st, 1, f->id, sizeof(f->id));
    col_text(st, 2, f->name, sizeof(f->name));
    col_text(st, 3, f->content_type, sizeof(f->content_type));
    f->size = (uint64_t)sqlite3_column_int64(st, 4);
    f->created_ms = sqlite3_column_int64(st, 5);
    f->kind = sqlite3_column_int(st, 6) == KCR_FILE_OUTPUT ? KCR_FILE_OUTPUT : KCR_FILE_UPLOAD;
}

#define FILE_COLS "SELECT session_id,id,name,content_type,size,created_ms,kind FROM files "

static int file_one(struct kcr_meta *m, const char *sql, const char *sid, const char *key,
                    struct kcr_file_meta *ret, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    const void *a[] = {sid, key};
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = prep(s, sql, "ss", a, err);
    int r = -1;
    if (st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            file_row(st, ret);
            r = 0;
        } else if (rc == SQLITE_DONE) {
            r = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "file '%s' not found", key);
        } else {
            r = db_fail(s, err, "step");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int m_file_get(struct kcr_meta *m, const char *sid, const char *fid,
                      struct kcr_file_meta *ret, struct kcr_err *err)
{
    return file_one(m, FILE_COLS "WHERE session_id=? AND id=?", sid, fid, ret, err);
}

static int m_file_find_name(struct kcr_meta *m, const char *sid, const char *name,
                            struct kcr_file_meta *ret, struct kcr_err *err)
{
    return file_one(m, FILE_COLS "WHERE session_id=? AND name=? ORDER BY created_ms DESC LIMIT 1",
                    sid, name, ret, err);
}

static int m_file_list(struct kcr_meta *m, const char *sid, struct kcr_file_meta **ret,
                       size_t *ret_n, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    const void *a[] = {sid};
    *ret = NULL;
    *ret_n = 0;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st =
        prep(s, FILE_COLS "WHERE session_id=? ORDER BY created_ms, rowid", "s", a, err);
    int r = -1;
    if (st) {
        struct kcr_file_meta *v = NULL;
        size_t n = 0, cap = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                v = xrealloc(v, cap * sizeof(*v));
            }
            file_row(st, &v[n++]);
        }
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE) {
            *ret = v;
            *ret_n = n;
            r = 0;
        } else {
            free(v);
            r = db_fail(s, err, "step");
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int m_file_delete(struct kcr_meta *m, const char *sid, const char *fid, struct kcr_err *err)
{
    const void *a[] = {sid, fid};
    int changes = 0;
    if (exec_stmt(ms(m), "DELETE FROM files WHERE session_id=? AND id=?", "ss", a, &changes, err) <
        0)
        return -1;
    if (changes == 0)
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "file '%s' not found", fid);
    return 0;
}

/*** State index ***/

static int m_state_put(struct kcr_meta *m, const struct kcr_state_meta *x, struct kcr_err *err)
{
    int64_t size = (int64_t)x->size;
    const void *a[] = {x->session_id, &size, x->hash, &x->created_ms, &x->expires_ms};
    return exec_stmt(ms(m),
                     "INSERT OR REPLACE INTO states(session_id,size,hash,created_ms,expires_ms) "
                     "VALUES(?,?,?,?,?)",
                     "sisii", a, NULL, err);
}

static int m_state_get(struct kcr_meta *m, const char *sid, int64_t now_ms,
                       struct kcr_state_meta *ret, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    const void *a[] = {sid, &now_ms};
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = prep(s,
                            "SELECT session_id,size,hash,created_ms,expires_ms FROM states "
                            "WHERE session_id=? AND (expires_ms=0 OR expires_ms>?)",
                            "si", a, err);
    int r = -1;
    if (st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            col_text(st, 0, ret->session_id, sizeof(ret->session_id));
            ret->size = (uint64_t)sqlite3_column_int64(st, 1);
            col_text(st, 2, ret->hash, sizeof(ret->hash));
            ret->created_ms = sqlite3_column_int64(st, 3);
            ret->expires_ms = sqlite3_column_int64(st, 4);
            r = 0;
        } else if (rc == SQLITE_DONE) {
            r = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no state for session '%s'", sid);
        } else {
            r = db_fail(s, err, "step");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int m_state_delete(struct kcr_meta *m, const char *sid, struct kcr_err *err)
{
    const void *a[] = {sid};
    return exec_stmt(ms(m), "DELETE FROM states WHERE session_id=?", "s", a, NULL, err);
}

/*** Managed keys ***/

static int m_key_add(struct kcr_meta *m, const struct kcr_key_meta *k, struct kcr_err *err)
{
    int64_t enabled = k->enabled;
    const void *a[] = {k->hash, k->prefix, k->name, &enabled, &k->created_ms};
    return exec_stmt(ms(m),
                     "INSERT OR REPLACE INTO api_keys(hash,prefix,name,enabled,created_ms) "
                     "VALUES(?,?,?,?,?)",
                     "sssii", a, NULL, err);
}

static int m_key_list(struct kcr_meta *m, struct kcr_key_meta **ret, size_t *ret_n,
                      struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    const void *a[] = {NULL};
    *ret = NULL;
    *ret_n = 0;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = prep(s,
                            "SELECT hash,prefix,name,enabled,created_ms FROM api_keys "
                            "ORDER BY created_ms, rowid",
                            "", a, err);
    int r = -1;
    if (st) {
        struct kcr_key_meta *v = NULL;
        size_t n = 0, cap = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                v = xrealloc(v, cap * sizeof(*v));
            }
            col_text(st, 0, v[n].hash, sizeof(v[n].hash));
            col_text(st, 1, v[n].prefix, sizeof(v[n].prefix));
            col_text(st, 2, v[n].name, sizeof(v[n].name));
            v[n].enabled = sqlite3_column_int(st, 3) != 0;
            v[n].created_ms = sqlite3_column_int64(st, 4);
            n++;
        }
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE) {
            *ret = v;
            *ret_n = n;
            r = 0;
        } else {
            free(v);
            r = db_fail(s, err, "step");
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int m_key_set_enabled(struct kcr_meta *m, const char *hash, bool enabled,
                             struct kcr_err *err)
{
    int64_t e = enabled;
    const void *a[] = {&e, hash};
    int changes = 0;
    if (exec_stmt(ms(m), "UPDATE api_keys SET enabled=? WHERE hash=?", "is", a, &changes, err) < 0)
        return -1;
    return changes ? 0 : kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "Key not found");
}

static int m_key_delete(struct kcr_meta *m, const char *hash, struct kcr_err *err)
{
    const void *a[] = {hash};
    int changes = 0;
    if (exec_stmt(ms(m), "DELETE FROM api_keys WHERE hash=?", "s", a, &changes, err) < 0)
        return -1;
    return changes ? 0 : kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "Key not found");
}

static int m_key_check(struct kcr_meta *m, const char *hash, bool *ret_enabled, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    const void *a[] = {hash};
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = prep(s, "SELECT enabled FROM api_keys WHERE hash=?", "s", a, err);
    int r = -1;
    if (st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *ret_enabled = sqlite3_column_int(st, 0) != 0;
            r = 0;
        } else if (rc == SQLITE_DONE) {
            r = kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "unknown key");
        } else {
            r = db_fail(s, err, "step");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int m_ping(struct kcr_meta *m, struct kcr_err *err)
{
    struct meta_sqlite *s = ms(m);
    pthread_mutex_lock(&s->lock);
    int rc = sqlite3_exec(s->db, "SELECT count(*) FROM sessions", NULL, NULL, NULL);
    int r = rc == SQLITE_OK ? 0 : db_fail(s, err, "ping");
    pthread_mutex_unlock(&s->lock);
    return r;
}

static void m_free(struct kcr_meta *m)
{
    struct meta_sqlite *s = ms(m);
    sqlite3_close(s->db);
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
    .key_add = m_key_add,
    .key_check = m_key_check,
    .key_list = m_key_list,
    .key_set_enabled = m_key_set_enabled,
    .key_delete = m_key_delete,
    .ping = m_ping,
    .free = m_free,
};

struct kcr_meta *meta_sqlite_open(const char *path, struct kcr_err *err)
{
    struct meta_sqlite *s = xcalloc(1, sizeof(*s));
    s->super.ops = &sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "open database '%s': %s", path,
                    s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        m_free(&s->super);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "database '%s': %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        m_free(&s->super);
        return NULL;
    }
    return &s->super;
}
