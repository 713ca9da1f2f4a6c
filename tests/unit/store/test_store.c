/* Unit tests for the embedded stores: store/meta-sqlite.c (the metadata
 * contract of meta-cases.h, shared with the Redis store's test; durability
 * across a reopen; the upgrade of a database from before owners) and store/blob-fs.c
 * (atomic commit of unnamed files, replacement, removal, refusal of unsafe
 * keys, sweep of crash leftovers). Real files in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>
#include <sqlite3.h>

#include "fakes/tmpdir.h"
#include "store/blob-fs.h"
#include "store/meta-sqlite.h"
#include "store/meta-sqlite-internal.h"

#include "meta-cases.h"

static char dir[TMPDIR_SIZE];

static int setup(void **state)
{
    (void)state;
    tmpdir_new(dir, "store");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tmpdir_remove(dir);
    return 0;
}

static struct kcr_meta *open_meta(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/kcr.db", dir);
    struct kcr_err err = {0};
    struct kcr_meta *m = meta_sqlite_open(path, &err);
    assert_non_null(m);
    return m;
}

static void sql(sqlite3 *db, const char *s)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, s, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", s, msg);
}

/* A database written before owners existed (user_version 0) opens with all
 * its records kept and owned by "unowned". */
static void test_upgrade_from_unowned(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/kcr.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sql(db, "CREATE TABLE sessions(id TEXT PRIMARY KEY, entity_id TEXT NOT NULL,"
            " user_id TEXT NOT NULL, created_ms INTEGER NOT NULL,"
            " last_activity_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
            "CREATE INDEX sessions_entity ON sessions(entity_id, last_activity_ms);"
            "CREATE TABLE files(session_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
            " content_type TEXT NOT NULL, size INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
            " kind INTEGER NOT NULL, PRIMARY KEY(session_id, id));"
            "CREATE TABLE states(session_id TEXT PRIMARY KEY, size INTEGER NOT NULL,"
            " hash TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
            "CREATE TABLE api_keys(hash TEXT PRIMARY KEY, prefix TEXT NOT NULL,"
            " name TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,"
            " created_ms INTEGER NOT NULL);"
            "INSERT INTO sessions VALUES('OldSession0123456789a','agent_1','',1,2,0);"
            "INSERT INTO files VALUES('OldSession0123456789a','OldFile0123456789abcd','a.txt',"
            " 'text/plain',3,4,0);"
            "INSERT INTO states VALUES('OldSession0123456789a',5,'h',6,0);"
            "INSERT INTO api_keys VALUES('cafe','sk-cafe','old',1,7);");
    sqlite3_close(db);
    struct kcr_meta *m = open_meta();
    struct kcr_session s;
    assert_int_equal(m->ops->session_get(m, "OldSession0123456789a", 10, &s, NULL), 0);
    assert_string_equal(s.owner, KCR_OWNER_UNOWNED);
    char id[KCR_ID_LEN + 1];
    assert_int_equal(m->ops->session_by_entity(m, KCR_OWNER_UNOWNED, "agent_1", 10, id, NULL), 0);
    struct kcr_file_meta f;
    assert_int_equal(
        m->ops->file_get(m, "OldSession0123456789a", "OldFile0123456789abcd", &f, NULL), 0);
    assert_string_equal(f.owner, KCR_OWNER_UNOWNED);
    assert_string_equal(f.name, "a.txt");
    struct kcr_state_meta st;
    assert_int_equal(
        m->ops->state_get(m, KCR_OWNER_UNOWNED, "OldSession0123456789a", 10, &st, NULL), 0);
    assert_int_equal(st.size, 5);
    struct kcr_key_meta k;
    assert_int_equal(m->ops->key_get(m, "cafe", &k, NULL), 0);
    assert_int_equal(k.limits.exec, -1);
    meta_free(m);
    /* Opening again does not migrate twice. */
    m = open_meta();
    assert_int_equal(m->ops->ping(m, NULL), 0);
    meta_free(m);
}

static struct kcr_blob *open_blob(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/blobs", dir);
    struct kcr_err err = {0};
    struct kcr_blob *b = blob_fs_open(path, &err);
    assert_non_null(b);
    return b;
}

static void read_blob(struct kcr_blob *b, const char *key, const char *want)
{
    uint64_t size = 0;
    int fd = b->ops->open(b, key, &size, NULL);
    assert_true(fd >= 0);
    char buf[256] = {0};
    assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(want));
    assert_int_equal(size, strlen(want));
    assert_string_equal(buf, want);
    close(fd);
}

static long synchronous_of(struct kcr_meta *m)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(ms(m)->db, "PRAGMA synchronous", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Sessions are created and touched without an fsync of their own; the
 * connection is back at synchronous=FULL for everything else, and the rows
 * are there after a reopen. */
static void test_session_writes_unsynced_others_full(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    assert_int_equal(synchronous_of(m), 2); /* FULL */
    struct kcr_session s = {.created_ms = 1, .last_activity_ms = 1};
    snprintf(s.id, sizeof(s.id), "%s", "AAAAAAAAAAAAAAAAAAAAA");
    snprintf(s.owner, sizeof(s.owner), "%s", "k:test");
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    assert_int_equal(synchronous_of(m), 2);
    assert_int_equal(m->ops->session_touch(m, s.id, 5, NULL), 0);
    assert_int_equal(synchronous_of(m), 2);
    meta_free(m);
    m = open_meta();
    struct kcr_session got;
    assert_int_equal(m->ops->session_get(m, s.id, 2, &got, NULL), 0);
    assert_int_equal(got.last_activity_ms, 5);
    meta_free(m);
}

static void test_blob_commit_replace_remove(void **state)
{
    (void)state;
    struct kcr_blob *b = open_blob();
    int fd = b->ops->tmpfile(b, NULL);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    assert_int_equal(b->ops->commit(b, "SessionA/FileA", fd, NULL), 0);
    close(fd);
    read_blob(b, "SessionA/FileA", "hello");
    /* Replacing goes through a temporary and a rename. */
    assert_int_equal(b->ops->put(b, "SessionA/FileA", "world!", 6, NULL), 0);
    read_blob(b, "SessionA/FileA", "world!");
    /* A named (not unnamed) source is copied, never linked. */
    char named[128];
    snprintf(named, sizeof(named), "%s/named.txt", dir);
    int nfd = open(named, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_int_equal(write(nfd, "copy", 4), 4);
    assert_int_equal(b->ops->commit(b, "SessionA/FileB", nfd, NULL), 0);
    assert_int_equal(write(nfd, "more", 4), 4);
    close(nfd);
    read_blob(b, "SessionA/FileB", "copy");

    struct kcr_err err = {0};
    assert_int_equal(b->ops->open(b, "SessionA/missing", NULL, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(b->ops->remove(b, "SessionA/FileA", NULL), 0);
    assert_int_equal(b->ops->remove(b, "SessionA/FileA", NULL), 0); /* missing is fine */
    assert_int_equal(b->ops->remove_dir(b, "SessionA", NULL), 0);
    assert_int_equal(b->ops->open(b, "SessionA/FileB", NULL, &err), -1);
    assert_int_equal(b->ops->ping(b, NULL), 0);
    blob_free(b);
}

static void test_blob_refuses_unsafe_keys(void **state)
{
    (void)state;
    struct kcr_blob *b = open_blob();
    static const char *const bad[] = {"../x",  "a/../b", "a/.hidden", "noslash",
                                      "a/b/c", "/a/b",   "a/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kcr_err err = {0};
        assert_int_equal(b->ops->put(b, bad[i], "x", 1, &err), -1);
        assert_int_equal(err.kind, KCR_ERR_INVALID);
    }
    /* A symlinked session directory is never followed. */
    char link[128];
    snprintf(link, sizeof(link), "%s/blobs/evil", dir);
    assert_int_equal(symlink("/etc", link), 0);
    struct kcr_err err = {0};
    assert_int_equal(b->ops->open(b, "evil/passwd", NULL, &err), -1);
    assert_int_equal(b->ops->put(b, "evil/owned", "x", 1, &err), -1);
    blob_free(b);
}

static void test_blob_sweeps_crash_leftovers(void **state)
{
    (void)state;
    struct kcr_blob *b = open_blob();
    assert_int_equal(b->ops->put(b, "S1/keep", "k", 1, NULL), 0);
    blob_free(b);
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s/blobs/S1/.tmp-leftover", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    b = open_blob();
    assert_int_equal(access(tmp, F_OK), -1);
    read_blob(b, "S1/keep", "k");
    blob_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        META_CASES(setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_unowned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_writes_unsynced_others_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_commit_replace_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_refuses_unsafe_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_sweeps_crash_leftovers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
