/* meta-sqlite-internal — the SQLite metadata store's instance and its
 * statement helpers (meta-sqlite-stmt.c), shared by meta-sqlite.c's
 * operations. Not for other modules. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "store/meta.h"

/* One connection serialised by a mutex: metadata operations are tiny, and a
 * single writer is what SQLite wants anyway. Rate-limit counters get a second
 * connection with synchronous=OFF: they are written on every limited request
 * and losing the last seconds of them in a crash costs nothing, while an
 * fsync per request would. */
struct meta_sqlite {
    struct kcr_meta super;
    sqlite3 *db;
    pthread_mutex_t lock;
    sqlite3 *rate_db;
    pthread_mutex_t rate_lock;
    unsigned rate_hits;
};

static inline struct meta_sqlite *ms(struct kcr_meta *m)
{
    return (struct meta_sqlite *)m;
}

/* Sets err from db's last error (KCR_ERR_UNAVAILABLE); returns -1. */
int sq_db_fail(sqlite3 *db, struct kcr_err *err, const char *what);

/* Arguments are described by types: 's' text (const char *), 'i' int64 (const int64_t *). */
sqlite3_stmt *sq_prep(sqlite3 *db, const char *sql, const char *types, const void *const *args,
                      struct kcr_err *err);
/* A statement without rows, lock held by the caller; *ret_changes (may be NULL) the row count. */
int sq_exec_locked(sqlite3 *db, const char *sql, const char *types, const void *const *args,
                   int *ret_changes, struct kcr_err *err);
/* The same under s's lock. */
int sq_exec_stmt(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
                 int *ret_changes, struct kcr_err *err);
/* The same, committed without an fsync (WAL, synchronous=NORMAL): it survives
 * kcr's crash at once and a power loss with the next fsynced commit (the WAL
 * is synced as a whole). For writes whose loss in a power cut costs nothing
 * a user can tell: a session that holds nothing yet, a last-use time. */
int sq_exec_stmt_unsynced(struct meta_sqlite *s, const char *sql, const char *types,
                          const void *const *args, int *ret_changes, struct kcr_err *err);
/* sqls[0..n), each bound to args, in one transaction under one lock hold. */
int sq_exec_tx(struct meta_sqlite *s, const char *const *sqls, size_t n, const char *types,
               const void *const *args, struct kcr_err *err);

/* Where the rows of a query go: into the caller's array of max elements, or
 * into a growing heap array (grow). fill converts one row; what names the
 * statement when a step fails ("step" when NULL). */
struct sq_rows {
    void *v;
    size_t n, size, cap;
    bool grow;
    void (*fill)(sqlite3_stmt *st, void *elem);
    const char *what;
};

/* Each row of the query on db (lock held) to r. */
int sq_query_locked(sqlite3 *db, const char *sql, const char *types, const void *const *args,
                    struct sq_rows *r, struct kcr_err *err);
/* The same under s's lock. */
int sq_query(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
             struct sq_rows *r, struct kcr_err *err);
/* One row into *ret; what names the record in the NOT_FOUND message. */
int sq_query_one(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
                 void (*fill)(sqlite3_stmt *, void *), void *ret, const char *what,
                 struct kcr_err *err);
/* Up to max rows into ret (elements of size bytes); *ret_n how many. */
int sq_query_max(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
                 void (*fill)(sqlite3_stmt *, void *), size_t size, void *ret, size_t max,
                 size_t *ret_n, struct kcr_err *err);
/* All rows into a new array (*ret, freed by the caller). */
int sq_query_all(struct meta_sqlite *s, const char *sql, const char *types, const void *const *args,
                 void (*fill)(sqlite3_stmt *, void *), size_t size, void **ret, size_t *ret_n,
                 struct kcr_err *err);

/* Row fillers: column 0 as int64; column col as text into out. */
void sq_int64_row(sqlite3_stmt *st, void *elem);
void sq_col_text(sqlite3_stmt *st, int col, char *out, size_t size);
