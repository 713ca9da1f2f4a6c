/* The recursive listing of the working directory (sidecar-files.c) as GET
 * /files?recursive=1 and the answers of executions (list_files) share it:
 * regular files only, nested paths relative to the directory, symlinks,
 * FIFOs and sockets never listed or followed; a directory that cannot be
 * opened is an error for GET and a "listing_error" beside an execution's
 * result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "sidecar/sidecar-files.h"

static char dir[64];

static void write_file(const char *rel, const char *data)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

static void at(const char *rel, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", dir, rel);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/kcr-sidecar-files-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char p[256], q[256];
    write_file("top.txt", "hello");
    at("sub", p, sizeof(p));
    assert_int_equal(mkdir(p, 0755), 0);
    at("sub/deeper", p, sizeof(p));
    assert_int_equal(mkdir(p, 0755), 0);
    write_file("sub/deeper/n.csv", "a,b\n");
    /* Outside the directory, reachable only through symlinks. */
    snprintf(q, sizeof(q), "%s-outside", dir);
    assert_int_equal(mkdir(q, 0755), 0);
    snprintf(p, sizeof(p), "%s-outside/secret", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    at("link-to-dir", p, sizeof(p));
    assert_int_equal(symlink(q, p), 0);
    at("link-to-file", p, sizeof(p));
    assert_int_equal(symlink("top.txt", p), 0);
    at("fifo", p, sizeof(p));
    assert_int_equal(mkfifo(p, 0644), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char q[128];
    snprintf(q, sizeof(q), "%s-outside", dir);
    /* Not through the symlinks: fs_rm_tree_at never follows them. */
    (void)fs_rm_tree_at(AT_FDCWD, dir);
    (void)fs_rm_tree_at(AT_FDCWD, q);
    return 0;
}

static json_t *entry(json_t *files, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(files, i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, "name")), name))
            return e;
    }
    return NULL;
}

static void test_listing(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    json_t *l = sidecar_files_listing(dir, &err);
    assert_non_null(l);
    assert_true(json_is_false(json_object_get(l, "truncated")));
    json_t *files = json_object_get(l, "files");
    assert_int_equal(json_array_size(files), 2);
    json_t *top = entry(files, "top.txt");
    assert_non_null(top);
    assert_int_equal(json_integer_value(json_object_get(top, "size")), 5);
    assert_true(json_integer_value(json_object_get(top, "mtime_ns")) > 0);
    json_t *nested = entry(files, "sub/deeper/n.csv");
    assert_non_null(nested);
    assert_int_equal(json_integer_value(json_object_get(nested, "size")), 4);
    json_decref(l);
}

static void test_add_listing(void **state)
{
    (void)state;
    json_t *answer = json_pack("{s:i}", "exit_code", 0);
    sidecar_files_add_listing(answer, dir);
    json_t *l = json_object_get(answer, "listing");
    assert_non_null(l);
    assert_int_equal(json_array_size(json_object_get(l, "files")), 2);
    assert_true(json_is_number(json_object_get(answer, "listing_ms")));
    assert_null(json_object_get(answer, "listing_error"));
    assert_int_equal(json_integer_value(json_object_get(answer, "exit_code")), 0);
    json_decref(answer);
}

static void test_add_listing_of_a_missing_dir(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    char gone[128];
    snprintf(gone, sizeof(gone), "%s/no-such-dir", dir);
    assert_null(sidecar_files_listing(gone, &err));
    assert_true(strlen(err.msg) > 0);
    /* The result stands; the client falls back to GET /files. */
    json_t *answer = json_pack("{s:i}", "exit_code", 3);
    sidecar_files_add_listing(answer, gone);
    assert_null(json_object_get(answer, "listing"));
    assert_true(json_is_string(json_object_get(answer, "listing_error")));
    assert_int_equal(json_integer_value(json_object_get(answer, "exit_code")), 3);
    json_decref(answer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_listing_of_a_missing_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
