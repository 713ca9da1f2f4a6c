/* Unit tests for core/session.c and core/files.c on the real embedded stores
 * in a temporary directory: the session choice order, TTL expiry and the
 * reaper's cleanup, file storage (bytes before records), resolution by id,
 * by name and across sessions (copy), deletion, MIME types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "core/files.h"
#include "core/session.h"
#include "store/blob-fs.h"
#include "store/meta-sqlite.h"

static char dir[64];
static struct kcr_serve_config cfg;
static struct kcr_core core;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/kcr-core-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char p[128];
    memset(&cfg, 0, sizeof(cfg));
    cfg.cleanup_interval_s = 600;
    core = (struct kcr_core){.cfg = &cfg};
    snprintf(p, sizeof(p), "%s/kcr.db", dir);
    core.meta = meta_sqlite_open(p, NULL);
    snprintf(p, sizeof(p), "%s/blobs", dir);
    core.blob = blob_fs_open(p, NULL);
    assert_non_null(core.meta);
    assert_non_null(core.blob);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    core.meta = meta_free(core.meta);
    core.blob = blob_free(core.blob);
    (void)fs_rm_tree_at(AT_FDCWD, dir);
    return 0;
}

static int data_fd(const char *s)
{
    int fd = core.blob->ops->tmpfile(core.blob, NULL);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    return fd;
}

static void test_choice_order(void **state)
{
    (void)state;
    char a[KCR_ID_LEN + 1], b[KCR_ID_LEN + 1], e[KCR_ID_LEN + 1], got[KCR_ID_LEN + 1];
    assert_int_equal(session_create(&core, NULL, "u", a, NULL), 0);
    assert_int_equal(session_create(&core, NULL, NULL, b, NULL), 0);
    assert_int_equal(session_create(&core, "agent_x", NULL, e, NULL), 0);
    assert_true(id_is_valid(a));
    const char *fs[] = {"NoSuchSession12345678", b};
    /* session_id first ... */
    assert_int_equal(session_choose(&core, a, fs, 2, "agent_x", NULL, got, NULL), 0);
    assert_string_equal(got, a);
    /* ... then the first existing files[].session_id ... */
    assert_int_equal(
        session_choose(&core, "NoSuchSession12345678", fs, 2, "agent_x", NULL, got, NULL), 0);
    assert_string_equal(got, b);
    /* ... then the entity's session ... */
    assert_int_equal(session_choose(&core, NULL, fs, 1, "agent_x", NULL, got, NULL), 0);
    assert_string_equal(got, e);
    /* ... else a new one, remembered for its entity. */
    assert_int_equal(session_choose(&core, NULL, NULL, 0, "agent_y", NULL, got, NULL), 0);
    assert_true(id_is_valid(got) && strcmp(got, a) && strcmp(got, b) && strcmp(got, e));
    char again[KCR_ID_LEN + 1];
    assert_int_equal(session_choose(&core, NULL, NULL, 0, "agent_y", NULL, again, NULL), 0);
    assert_string_equal(again, got);
}

static void test_ttl_and_reap(void **state)
{
    (void)state;
    cfg.session_ttl_hours = 1;
    char sid[KCR_ID_LEN + 1];
    assert_int_equal(session_create(&core, NULL, NULL, sid, NULL), 0);
    int fd = data_fd("bytes");
    struct kcr_file_meta f;
    assert_int_equal(files_store(&core, sid, "a.txt", NULL, KCR_FILE_UPLOAD, fd, 5, &f, NULL), 0);
    close(fd);
    assert_true(session_exists(&core, sid));
    /* Nothing expires early. */
    assert_int_equal(session_reap(&core, session_now_ms()), 0);
    assert_true(session_exists(&core, sid));
    /* Two hours later the session, its records and its bytes are gone. */
    assert_int_equal(session_reap(&core, session_now_ms() + 2 * 3600 * 1000), 1);
    struct kcr_file_meta g;
    assert_int_equal(core.meta->ops->file_get(core.meta, sid, f.id, &g, NULL), -1);
    uint64_t size;
    assert_int_equal(files_open(&core, &f, &size, NULL), -1);
    cfg.session_ttl_hours = 0;
}

static void test_reaper_starts_and_stops(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    /* No TTL: no thread. */
    assert_null(session_reaper_start(&core, &err));
    assert_int_equal(err.kind, KCR_ERR_NONE);
    /* With a TTL the thread runs and stops at once when asked (no interval wait). */
    cfg.session_ttl_hours = 1;
    struct kcr_session_reaper *r = session_reaper_start(&core, &err);
    assert_non_null(r);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_null(session_reaper_stop(r));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2);
    cfg.session_ttl_hours = 0;
}

static void test_store_resolve_copy_delete(void **state)
{
    (void)state;
    char s1[KCR_ID_LEN + 1], s2[KCR_ID_LEN + 1];
    assert_int_equal(session_create(&core, NULL, NULL, s1, NULL), 0);
    assert_int_equal(session_create(&core, NULL, NULL, s2, NULL), 0);
    int fd = data_fd("a,b\n");
    struct kcr_file_meta f;
    assert_int_equal(files_store(&core, s1, "data.csv", NULL, KCR_FILE_UPLOAD, fd, 4, &f, NULL), 0);
    close(fd);
    assert_string_equal(f.content_type, "text/csv");

    struct kcr_file_meta r;
    struct kcr_file_ref by_id = {.id = f.id, .session_id = s1, .name = "whatever"};
    assert_int_equal(files_resolve(&core, s1, &by_id, &r, NULL), 0);
    assert_string_equal(r.id, f.id);
    struct kcr_file_ref by_name = {
        .id = "Unknown0123456789abcd", .session_id = s1, .name = "data.csv"};
    assert_int_equal(files_resolve(&core, s1, &by_name, &r, NULL), 0);
    assert_string_equal(r.id, f.id);
    /* LibreChat's original name resolves to the sanitised stored one. */
    struct kcr_file_ref raw = {.session_id = s1, .name = "data.csv"};
    assert_int_equal(files_resolve(&core, s1, &raw, &r, NULL), 0);

    /* From another session: a copy with a new id in the chosen session. */
    assert_int_equal(files_resolve(&core, s2, &by_id, &r, NULL), 0);
    assert_string_equal(r.session_id, s2);
    assert_string_not_equal(r.id, f.id);
    uint64_t size = 0;
    int rfd = files_open(&core, &r, &size, NULL);
    char buf[16] = {0};
    assert_int_equal(read(rfd, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "a,b\n");
    close(rfd);

    struct kcr_err err = {0};
    struct kcr_file_ref ghost = {.id = "Ghost0123456789abcdef", .session_id = s1, .name = "x"};
    assert_int_equal(files_resolve(&core, s1, &ghost, &r, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "Ghost0123456789abcdef"));

    assert_int_equal(files_delete(&core, s1, f.id, NULL), 0);
    assert_int_equal(files_delete(&core, s1, f.id, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
}

static void test_mime(void **state)
{
    (void)state;
    assert_string_equal(files_mime("plot.png"), "image/png");
    assert_string_equal(files_mime("dir/A.JPG"), "image/jpeg");
    assert_string_equal(files_mime("r.json"), "application/json");
    assert_string_equal(files_mime("noext"), "application/octet-stream");
    assert_string_equal(files_mime(".png"), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_choice_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_and_reap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reaper_starts_and_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_resolve_copy_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mime, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
