/* fs_chown_tree: the start-up hand-over of the data dir walks by fd and
 * never follows a symlink out of the tree. Needs root for chown; skipped
 * otherwise. fs_read_file_at: bounded, NUL-terminated, no symlink at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"

static void owner(const char *path, uid_t *uid, gid_t *gid)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    *uid = st.st_uid;
    *gid = st.st_gid;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static void test_chown_tree_by_fd(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        skip();
        return;
    }
    char base[] = "/tmp/kcr-test-chown-XXXXXX";
    assert_non_null(mkdtemp(base));
    char p[512], outside[512];
    snprintf(outside, sizeof(outside), "%s/outside", base);
    touch(outside);
    snprintf(p, sizeof(p), "%s/tree", base);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/tree/a", base);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/tree/a/f", base);
    touch(p);
    snprintf(p, sizeof(p), "%s/tree/a/link", base);
    assert_int_equal(symlink(outside, p), 0);
    snprintf(p, sizeof(p), "%s/tree/dirlink", base);
    assert_int_equal(symlink(base, p), 0);

    snprintf(p, sizeof(p), "%s/tree", base);
    struct kcr_err err = {0};
    assert_int_equal(fs_chown_tree(p, 12345, 23456, &err), 0);
    const char *inside[] = {"tree", "tree/a", "tree/a/f", "tree/a/link", "tree/dirlink"};
    for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
        uid_t u;
        gid_t g;
        snprintf(p, sizeof(p), "%s/%s", base, inside[i]);
        owner(p, &u, &g);
        assert_int_equal(u, 12345);
        assert_int_equal(g, 23456);
    }
    /* Nothing the symlinks point at changed hands. */
    uid_t u;
    gid_t g;
    owner(outside, &u, &g);
    assert_int_equal(u, 0);
    owner(base, &u, &g);
    assert_int_equal(u, 0);
    /* A path that is itself a symlink is refused, not followed. */
    snprintf(p, sizeof(p), "%s/tree/dirlink", base);
    assert_int_equal(fs_chown_tree(p, 1, 1, &err), -1);
    owner(base, &u, &g);
    assert_int_equal(u, 0);
    assert_int_equal(fs_chown_tree("/nonexistent/kcr", 1, 1, &err), -1);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    assert_int_equal(system(cmd), 0);
}

static void test_read_file_at(void **state)
{
    (void)state;
    char base[] = "/tmp/kcr-test-read-XXXXXX";
    assert_non_null(mkdtemp(base));
    int dirfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    int fd = openat(dirfd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fs_write_all(fd, "0123456789", 10), 0);
    close(fd);
    assert_int_equal(symlinkat("f", dirfd, "link"), 0);

    char buf[8];
    memset(buf, 'x', sizeof(buf));
    /* At most size-1 bytes, always terminated. */
    assert_int_equal(fs_read_file_at(dirfd, "f", buf, sizeof(buf)), 7);
    assert_string_equal(buf, "0123456");
    char big[64];
    assert_int_equal(fs_read_file_at(dirfd, "f", big, sizeof(big)), 10);
    assert_string_equal(big, "0123456789");
    /* An absolute path with AT_FDCWD, as for /proc and cgroupfs files. */
    char p[512];
    snprintf(p, sizeof(p), "%s/f", base);
    assert_int_equal(fs_read_file_at(AT_FDCWD, p, big, sizeof(big)), 10);
    assert_int_equal(fs_read_file_at(dirfd, "missing", big, sizeof(big)), -ENOENT);
    assert_int_equal(fs_read_file_at(dirfd, "link", big, sizeof(big)), -ELOOP);
    assert_int_equal(fs_read_file_at(dirfd, "f", big, 0), -EINVAL);
    close(dirfd);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chown_tree_by_fd),
        cmocka_unit_test(test_read_file_at),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
