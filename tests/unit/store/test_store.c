/* Unit tests for the embedded stores: store/meta-sqlite.c (sessions, files,
 * state index, managed keys, rate counters; durability across a reopen; the
 * upgrade of a database from before owners) and store/blob-fs.c
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

static void test_sessions(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_session s = {.created_ms = 1000, .last_activity_ms = 1000, .expires_ms = 0};
    strcpy(s.id, "SessionA0123456789abc");
    strcpy(s.owner, "key:a");
    strcpy(s.entity_id, "agent_1");
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    struct kcr_session t = {.created_ms = 1000, .last_activity_ms = 2000, .expires_ms = 5000};
    strcpy(t.id, "SessionB0123456789abc");
    strcpy(t.owner, "key:a");
    strcpy(t.entity_id, "agent_1");
    assert_int_equal(m->ops->session_create(m, &t, NULL), 0);
    /* Another owner's session of the same entity is never found for key:a. */
    struct kcr_session o = {.created_ms = 1000, .last_activity_ms = 9000, .expires_ms = 0};
    strcpy(o.id, "SessionC0123456789abc");
    strcpy(o.owner, "key:b");
    strcpy(o.entity_id, "agent_1");
    assert_int_equal(m->ops->session_create(m, &o, NULL), 0);
    /* Creating an existing id fails. */
    struct kcr_err err = {0};
    assert_int_equal(m->ops->session_create(m, &s, &err), -1);

    struct kcr_session got;
    assert_int_equal(m->ops->session_get(m, s.id, 3000, &got, NULL), 0);
    assert_string_equal(got.entity_id, "agent_1");
    assert_string_equal(got.owner, "key:a");
    /* Expired sessions are invisible. */
    assert_int_equal(m->ops->session_get(m, t.id, 6000, &got, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);

    char id[KCR_ID_LEN + 1];
    assert_int_equal(m->ops->session_by_entity(m, "key:a", "agent_1", 3000, id, NULL), 0);
    assert_string_equal(id, t.id); /* most recently active */
    assert_int_equal(m->ops->session_touch(m, s.id, 4000, NULL), 0);
    assert_int_equal(m->ops->session_by_entity(m, "key:a", "agent_1", 3000, id, NULL), 0);
    assert_string_equal(id, s.id);
    assert_int_equal(m->ops->session_by_entity(m, "key:b", "agent_1", 3000, id, NULL), 0);
    assert_string_equal(id, o.id);
    assert_int_equal(m->ops->session_by_entity(m, "key:a", "nobody", 3000, id, &err), -1);
    assert_int_equal(m->ops->session_by_entity(m, "key:c", "agent_1", 3000, id, &err), -1);

    char ids[4][KCR_ID_LEN + 1];
    size_t n = 0;
    assert_int_equal(m->ops->sessions_expired(m, 6000, ids, 4, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], t.id);
    assert_int_equal(m->ops->session_delete(m, t.id, NULL), 0);
    assert_int_equal(m->ops->sessions_expired(m, 6000, ids, 4, &n, NULL), 0);
    assert_int_equal(n, 0);
    meta_free(m);
}

static void test_files_and_reopen(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_file_meta f = {.size = 3, .created_ms = 10, .kind = KCR_FILE_UPLOAD};
    strcpy(f.id, "FileA0123456789abcdef");
    strcpy(f.session_id, "SessionA0123456789abc");
    strcpy(f.owner, "jwt:t:u");
    strcpy(f.name, "data.csv");
    strcpy(f.content_type, "text/csv");
    strcpy(f.res.kind, "agent");
    strcpy(f.res.id, "agent_x");
    strcpy(f.res.version, "3");
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    memset(&f.res, 0, sizeof(f.res));
    f.created_ms = 20;
    f.kind = KCR_FILE_OUTPUT;
    strcpy(f.id, "FileB0123456789abcdef");
    strcpy(f.name, "sub/plot.png");
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    meta_free(m);

    /* Everything is still there after a reopen. */
    m = open_meta();
    struct kcr_file_meta g;
    assert_int_equal(
        m->ops->file_get(m, "SessionA0123456789abc", "FileA0123456789abcdef", &g, NULL), 0);
    assert_string_equal(g.name, "data.csv");
    assert_int_equal(g.kind, KCR_FILE_UPLOAD);
    assert_string_equal(g.owner, "jwt:t:u");
    assert_string_equal(g.res.kind, "agent");
    assert_string_equal(g.res.id, "agent_x");
    assert_string_equal(g.res.version, "3");
    assert_int_equal(m->ops->file_find_name(m, "SessionA0123456789abc", "sub/plot.png", &g, NULL),
                     0);
    assert_string_equal(g.id, "FileB0123456789abcdef");
    assert_int_equal(g.kind, KCR_FILE_OUTPUT);
    assert_string_equal(g.res.kind, "");
    struct kcr_err err = {0};
    assert_int_equal(
        m->ops->file_get(m, "OtherSession123456789", "FileA0123456789abcdef", &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);

    struct kcr_file_meta *v = NULL;
    size_t n = 0;
    assert_int_equal(m->ops->file_list(m, "SessionA0123456789abc", &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "data.csv"); /* oldest first */
    free(v);
    assert_int_equal(m->ops->file_delete(m, "SessionA0123456789abc", "FileA0123456789abcdef", NULL),
                     0);
    assert_int_equal(m->ops->file_delete(m, "SessionA0123456789abc", "FileA0123456789abcdef", &err),
                     -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    meta_free(m);
}

static void test_state_and_keys(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_state_meta s = {.size = 9, .created_ms = 1, .expires_ms = 0};
    strcpy(s.owner, "key:a");
    strcpy(s.session_id, "any-session-name");
    strcpy(s.hash, "abc");
    assert_int_equal(m->ops->state_put(m, &s, NULL), 0);
    /* The same id for another owner is another state. */
    strcpy(s.owner, "key:b");
    s.size = 4;
    assert_int_equal(m->ops->state_put(m, &s, NULL), 0);
    struct kcr_state_meta g;
    assert_int_equal(m->ops->state_get(m, "key:a", "any-session-name", 100, &g, NULL), 0);
    assert_int_equal(g.size, 9);
    assert_string_equal(g.owner, "key:a");
    assert_int_equal(m->ops->state_delete(m, "key:a", "any-session-name", NULL), 0);
    struct kcr_err err = {0};
    assert_int_equal(m->ops->state_get(m, "key:a", "any-session-name", 100, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(m->ops->state_get(m, "key:b", "any-session-name", 100, &g, NULL), 0);
    assert_int_equal(g.size, 4);

    struct kcr_key_meta got;
    assert_int_equal(m->ops->key_get(m, "deadbeef", &got, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    struct kcr_key_meta k = {.hash = "deadbeef",
                             .prefix = "sk-dead",
                             .name = "ci",
                             .enabled = true,
                             .created_ms = 5,
                             .limits = {-1, 7, -1}};
    assert_int_equal(m->ops->key_add(m, &k, NULL), 0);
    assert_int_equal(m->ops->key_get(m, "deadbeef", &got, NULL), 0);
    assert_true(got.enabled);
    assert_int_equal(got.limits.exec, -1);
    assert_int_equal(got.limits.upload, 7);
    assert_int_equal(m->ops->key_set_enabled(m, "deadbeef", false, NULL), 0);
    struct kcr_rate_limits l = {5, 0, 9};
    assert_int_equal(m->ops->key_set_limits(m, "deadbeef", &l, NULL), 0);
    assert_int_equal(m->ops->key_get(m, "deadbeef", &got, NULL), 0);
    assert_false(got.enabled);
    assert_int_equal(got.limits.exec, 5);
    assert_int_equal(got.limits.upload, 0);
    assert_int_equal(got.limits.download, 9);
    assert_int_equal(m->ops->key_set_limits(m, "nokey", &l, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    struct kcr_key_meta *v = NULL;
    size_t n = 0;
    assert_int_equal(m->ops->key_list(m, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "ci");
    assert_string_equal(v[0].prefix, "sk-dead");
    free(v);
    assert_int_equal(m->ops->key_delete(m, "deadbeef", NULL), 0);
    assert_int_equal(m->ops->key_delete(m, "deadbeef", &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(m->ops->ping(m, NULL), 0);
    meta_free(m);
}

struct hitter {
    struct kcr_meta *m;
    int64_t max;
    int errors;
};

/* cmocka's asserts must stay on the main thread: count failures instead. */
static void *hit_many(void *arg)
{
    struct hitter *h = arg;
    for (int i = 0; i < 200; i++) {
        int64_t n = 0;
        if (h->m->ops->rate_hit(h->m, "exec|key:a", 60000, 180000, &n, NULL) < 0)
            h->errors++;
        if (n > h->max)
            h->max = n;
    }
    return NULL;
}

/* Each hit gets its own count, also from threads racing; windows and keys
 * count apart; the counts survive a reopen (a second replica sees them). */
static void test_rate_counters(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct hitter h[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hitter){.m = m};
        assert_int_equal(pthread_create(&t[i], NULL, hit_many, &h[i]), 0);
    }
    int64_t max = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].errors, 0);
        max = h[i].max > max ? h[i].max : max;
    }
    assert_int_equal(max, 800);
    int64_t n = 0;
    assert_int_equal(m->ops->rate_hit(m, "exec|key:b", 60000, 180000, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(m->ops->rate_hit(m, "exec|key:a", 120000, 240000, &n, NULL), 0);
    assert_int_equal(n, 1);
    meta_free(m);
    m = open_meta();
    assert_int_equal(m->ops->rate_hit(m, "exec|key:a", 60000, 180000, &n, NULL), 0);
    assert_int_equal(n, 801);
    meta_free(m);
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
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_unowned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_commit_replace_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_refuses_unsafe_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_sweeps_crash_leftovers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
