/* Path containment: names_is_safe*, names_sanitize and fs_open_beneath. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/names.h"

static void test_is_safe(void **state)
{
    (void)state;
    assert_true(names_is_safe("a.txt"));
    assert_true(names_is_safe("plot-1_b.png"));
    const char *bad[] = {"", ".", "..", ".hidden", "../x", "a/b", "/etc/passwd", "x..y", "..."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(names_is_safe(bad[i]));
    assert_false(names_is_safe(NULL));
    char longname[300];
    memset(longname, 'a', sizeof(longname));
    longname[256] = '\0';
    assert_false(names_is_safe(longname));
    longname[255] = '\0';
    assert_true(names_is_safe(longname));
}

static void test_is_safe_path(void **state)
{
    (void)state;
    assert_true(names_is_safe_path("a/b/c.txt", 16));
    assert_false(names_is_safe_path("a/b/c.txt", 2));
    const char *bad[] = {"", "/a", "a/", "a//b", "a/../b", "a/.git/x", "../a", "a/.."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(names_is_safe_path(bad[i], 16));
}

static void test_sanitize(void **state)
{
    (void)state;
    char *s = names_sanitize("../../etc/pass wd");
    assert_string_equal(s, "pass_wd");
    free(s);
    s = names_sanitize(".bashrc");
    assert_int_equal(s[0], '_');
    free(s);
    s = names_sanitize("");
    assert_string_equal(s, "_");
    free(s);
}

struct tree {
    char dir[64];
    int dirfd;
};

static int setup_tree(void **state)
{
    static struct tree t;
    strcpy(t.dir, "/tmp/kcr-test-names-XXXXXX");
    if (!mkdtemp(t.dir))
        return -1;
    char p[128];
    snprintf(p, sizeof(p), "%s/sub", t.dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/sub/f.txt", t.dir);
    FILE *f = fopen(p, "w");
    fputs("ok", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/link", t.dir);
    if (symlink("/etc/passwd", p) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s/dirlink", t.dir);
    if (symlink("/etc", p) < 0)
        return -1;
    t.dirfd = open(t.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *state = &t;
    return t.dirfd < 0 ? -1 : 0;
}

static int teardown_tree(void **state)
{
    struct tree *t = *state;
    close(t->dirfd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The same containment cases for openat2 and for the walk without it. */
static void check_beneath(const struct tree *t, int (*open_fn)(int, const char *, int, mode_t))
{
    int fd = open_fn(t->dirfd, "sub/f.txt", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    fd = open_fn(t->dirfd, "./sub//f.txt", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(open_fn(t->dirfd, "../etc/passwd", O_RDONLY, 0), -EXDEV);
    assert_int_equal(open_fn(t->dirfd, "/etc/passwd", O_RDONLY, 0), -EXDEV);
    assert_int_equal(open_fn(t->dirfd, "sub/../../x", O_RDONLY, 0), -EXDEV);
    assert_int_equal(open_fn(t->dirfd, "link", O_RDONLY, 0), -ELOOP);
    assert_int_equal(open_fn(t->dirfd, "dirlink/passwd", O_RDONLY, 0), -ELOOP);
    assert_int_equal(open_fn(t->dirfd, "dirlink", O_RDONLY | O_DIRECTORY, 0), -ELOOP);
    /* Creating through a symlink is refused too: nothing is written to its target. */
    assert_int_equal(open_fn(t->dirfd, "link", O_WRONLY | O_CREAT | O_TRUNC, 0644), -ELOOP);
    assert_int_equal(open_fn(t->dirfd, "missing", O_RDONLY, 0), -ENOENT);
    fd = open_fn(t->dirfd, "sub/new.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    /* Magic links are refused as well. */
    assert_true(open_fn(AT_FDCWD, "/proc/self/root/etc/passwd", O_RDONLY, 0) < 0);
}

static void test_open_beneath(void **state)
{
    check_beneath(*state, fs_open_beneath);
}

static void test_open_beneath_walk(void **state)
{
    check_beneath(*state, fs_open_beneath_walk);
    /* The walk itself refuses a path it cannot hold rather than cutting it. */
    char deep[5000];
    memset(deep, 'a', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    assert_int_equal(fs_open_beneath_walk(((struct tree *)*state)->dirfd, deep, O_RDONLY, 0),
                     -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_safe),
        cmocka_unit_test(test_is_safe_path),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test_setup_teardown(test_open_beneath, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_open_beneath_walk, setup_tree, teardown_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
