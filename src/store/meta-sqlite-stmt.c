/* meta-sqlite-stmt — prepare, bind, step and map rows: the one skeleton every
 * operation of the SQLite metadata store runs through. */
#include "store/meta-sqlite-internal.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>

int sq_db_fail(sqlite3 *db, struct kcr_err *err, const char *what)
{
    return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "sqlite %s: %s", what, sqlite3_errmsg(db));
}

/*** Statements ***/

/* Prepares sql and binds the arguments described by types: 's' text, 'i' int64. */
sqlite3_stmt *sq_prep(sqlite3 *db, const char *sql, const char *types, const void *const *args,
                      struct kcr_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sq_db_fail(db, err, "prepare");
        return NULL;
    }
    for (int i = 0; types[i]; i++) {
        int rc = types[i] == 's' ? sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT)
                                 : sqlite3_bind_int64(st, i + 1, *(const int64_t *)args[i]);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(st);
            sq_db_fail(db, err, "bind");
            return NULL;
        }
    }
    return st;
}

/* Runs a statement that returns no rows, with the lock held; ret_changes (may
 * be NULL) gets the row count. */
int sq_exec_locked(sqlite3 *db, const char *sql, const char *types, const void *const *args,
                   int *ret_changes, struct kcr_err *err)
{
    sqlite3_stmt *st = sq_prep(db, sql, types, args, err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "record exists");
    if (rc != SQLITE_DONE)
        return sq_db_fail(db, err, "step");
    if (ret_changes)
        *ret_changes = sqlite3_changes(db);
    return 0;
}

int sq_exec_stmt(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
                 int *ret_changes, struct kcr_err *err)
{
    pthread_mutex_lock(&s->lock);
    int r = sq_exec_locked(s->db, sql, types, args, ret_changes, err);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int sq_exec_stmt_unsynced(struct meta_sqlite *s, const char *sql, const char *types,
                          const void *const *args, int *ret_changes, struct kcr_err *err)
{
    pthread_mutex_lock(&s->lock);
    /* Per connection and free of I/O: back to FULL before anyone else's
     * statement can run on it. */
    (void)sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    int r = sq_exec_locked(s->db, sql, types, args, ret_changes, err);
    (void)sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* Runs the statements sqls[0..n) (each bound to the same args) in one
 * transaction under one lock hold: a crash leaves all or nothing, and no
 * other thread's statement lands inside it. */
int sq_exec_tx(struct meta_sqlite *s, const char *const *sqls, size_t n, const char *types,
               const void *const *args, struct kcr_err *err)
{
    pthread_mutex_lock(&s->lock);
    int r = sq_exec_locked(s->db, "BEGIN IMMEDIATE", "", args, NULL, err);
    if (r == 0) {
        for (size_t i = 0; i < n && r == 0; i++)
            r = sq_exec_locked(s->db, sqls[i], types, args, NULL, err);
        struct kcr_err e2 = {0};
        if (sq_exec_locked(s->db, r == 0 ? "COMMIT" : "ROLLBACK", "", args, NULL, &e2) < 0 &&
            r == 0) {
            if (err)
                *err = e2;
            r = -1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* Runs a query on db, with its lock held (or before db is shared), and hands
 * each row to r (at most r->cap rows when not growing). Otherwise the
 * statement is stepped to completion, which RETURNING needs for its write. */
int sq_query_locked(sqlite3 *db, const char *sql, const char *types, const void *const *args,
                    struct sq_rows *r, struct kcr_err *err)
{
    sqlite3_stmt *st = sq_prep(db, sql, types, args, err);
    int rc = SQLITE_ERROR;
    while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->n == r->cap && !r->grow)
            break;
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 8;
            r->v = xrealloc(r->v, r->cap * r->size);
        }
        r->fill(st, (char *)r->v + r->n++ * r->size);
    }
    int ret = !st ? -1
              : (rc == SQLITE_ROW || rc == SQLITE_DONE)
                  ? 0
                  : sq_db_fail(db, err, r->what ? r->what : "step");
    sqlite3_finalize(st);
    return ret;
}

int sq_query(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
             struct sq_rows *r, struct kcr_err *err)
{
    pthread_mutex_lock(&s->lock);
    int ret = sq_query_locked(s->db, sql, types, args, r, err);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* One row into *ret; what names the record in the NOT_FOUND message. */
int sq_query_one(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
                 void (*fill)(sqlite3_stmt *, void *), void *ret, const char *what,
                 struct kcr_err *err)
{
    struct sq_rows r = {.v = ret, .size = 1, .cap = 1, .fill = fill};
    if (sq_query(s, sql, types, args, &r, err) < 0)
        return -1;
    return r.n ? 0 : kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "%s not found", what);
}

/* Up to max rows into the caller's array ret (elements of size bytes); *ret_n
 * gets how many. */
int sq_query_max(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
                 void (*fill)(sqlite3_stmt *, void *), size_t size, void *ret, size_t max,
                 size_t *ret_n, struct kcr_err *err)
{
    struct sq_rows r = {.v = ret, .size = size, .cap = max, .fill = fill};
    int rc = sq_query(s, sql, types, args, &r, err);
    *ret_n = r.n;
    return rc;
}

/* All rows into a new array (*ret, freed by the caller). */
int sq_query_all(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
                 void (*fill)(sqlite3_stmt *, void *), size_t size, void **ret, size_t *ret_n,
                 struct kcr_err *err)
{
    struct sq_rows r = {.size = size, .grow = true, .fill = fill};
    *ret = NULL;
    *ret_n = 0;
    if (sq_query(s, sql, types, args, &r, err) < 0) {
        free(r.v);
        return -1;
    }
    *ret = r.v;
    *ret_n = r.n;
    return 0;
}

void sq_int64_row(sqlite3_stmt *st, void *elem)
{
    *(int64_t *)elem = sqlite3_column_int64(st, 0);
}

void sq_col_text(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}
