/* Unit tests for the embedded stores: store/meta-sqlite.c (sessions, files,
 * state index, managed keys; durability across a reopen) and store/blob-fs.c
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

#include "common/fsutil.h"
#include "store/blob-fs.h"
#include "store/meta-sqlite.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/kcr-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)fs_rm_tree_at(AT_FDCWD, dir);
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
    strcpy(s.entity_id, "agent_1");
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    struct kcr_session t = {.created_ms = 1000, .last_activity_ms = 2000, .expires_ms = 5000};
    strcpy(t.id, "SessionB0123456789abc");
    strcpy(t.entity_id, "agent_1");
    assert_int_equal(m->ops->session_create(m, &t, NULL), 0);
    /* Creating an existing id fails. */
    struct kcr_err err = {0};
    assert_int_equal(m->ops->session_create(m, &s, &err), -1);

    struct kcr_session got;
    assert_int_equal(m->ops->session_get(m, s.id, 3000, &got, NULL), 0);
    assert_string_equal(got.entity_id, "agent_1");
    /* Expired sessions are invisible. */
    assert_int_equal(m->ops->session_get(m, t.id, 6000, &got, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);

    char id[KCR_ID_LEN + 1];
    assert_int_equal(m->ops->session_by_entity(m, "agent_1", 3000, id, NULL), 0);
    assert_string_equal(id, t.id); /* most recently active */
    assert_int_equal(m->ops->session_touch(m, s.id, 4000, NULL), 0);
    assert_int_equal(m->ops->session_by_entity(m, "agent_1", 3000, id, NULL), 0);
    assert_string_equal(id, s.id);
    assert_int_equal(m->ops->session_by_entity(m, "nobody", 3000, id, &err), -1);

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
    strcpy(f.name, "data.csv");
    strcpy(f.content_type, "text/csv");
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
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
    assert_int_equal(m->ops->file_find_name(m, "SessionA0123456789abc", "sub/plot.png", &g, NULL),
                     0);
    assert_string_equal(g.id, "FileB0123456789abcdef");
    assert_int_equal(g.kind, KCR_FILE_OUTPUT);
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
    strcpy(s.session_id, "any-session-name");
    strcpy(s.hash, "abc");
    assert_int_equal(m->ops->state_put(m, &s, NULL), 0);
    struct kcr_state_meta g;
    assert_int_equal(m->ops->state_get(m, "any-session-name", 100, &g, NULL), 0);
    assert_int_equal(g.size, 9);
    assert_int_equal(m->ops->state_delete(m, "any-session-name", NULL), 0);
    struct kcr_err err = {0};
    assert_int_equal(m->ops->state_get(m, "any-session-name", 100, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);

    bool enabled = false;
    assert_int_equal(m->ops->key_check(m, "deadbeef", &enabled, &err), -1);
    struct kcr_key_meta k = {
        .hash = "deadbeef", .prefix = "sk-dead", .name = "ci", .enabled = true, .created_ms = 5};
    assert_int_equal(m->ops->key_add(m, &k, NULL), 0);
    assert_int_equal(m->ops->key_check(m, "deadbeef", &enabled, NULL), 0);
    assert_true(enabled);
    assert_int_equal(m->ops->key_set_enabled(m, "deadbeef", false, NULL), 0);
    assert_int_equal(m->ops->key_check(m, "deadbeef", &enabled, NULL), 0);
    assert_false(enabled);
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
        cmocka_unit_test_setup_teardown(test_state_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_commit_replace_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_refuses_unsafe_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_sweeps_crash_leftovers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
