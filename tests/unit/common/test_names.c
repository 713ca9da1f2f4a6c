/* Path containment: names_is_safe*, names_sanitize*, names_mount_path,
 * fs_open_beneath and fs_mkdir_beneath. */
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

static void check_sanitize(const char *in, const char *want)
{
    char *s = names_sanitize(in);
    assert_string_equal(s, want);
    assert_true(names_is_safe(s));
    free(s);
}

/* The cases of tests/e2e/test_api_files.py, and the dot runs that would fail
 * names_is_safe: all dots of a run but the last become '_'. */
static void test_sanitize_dots(void **state)
{
    (void)state;
    check_sanitize("my data (1).csv", "my_data__1_.csv");
    check_sanitize("dir/sub/ok.txt", "ok.txt");
    check_sanitize("h\xc3\xa9llo.txt", "h__llo.txt");
    check_sanitize(".bashrc", "_.bashrc");
    check_sanitize("a..b", "a_.b");
    check_sanitize("x...csv", "x__.csv");
    check_sanitize("..", "__.");
    check_sanitize("...", "___.");
    check_sanitize(".", "_.");
    check_sanitize("a/..", "__.");
    check_sanitize("name.", "name.");
}

/* The cut keeps 255 bytes and the extension; a stem cut right after a '.'
 * must not join it to the extension's dot. */
static void test_sanitize_long(void **state)
{
    (void)state;
    char in[400], want[KCR_NAME_MAX + 1];
    memset(in, 'a', 300);
    strcpy(in + 300, ".csv");
    memset(want, 'a', 251);
    strcpy(want + 251, ".csv");
    check_sanitize(in, want);
    memset(in, 'a', 250);
    in[250] = '.';
    memset(in + 251, 'b', 60);
    strcpy(in + 311, ".csv");
    memset(want, 'a', 250);
    strcpy(want + 250, "_.csv");
    check_sanitize(in, want);
}

static void check_path(char *(*fn)(const char *, int), const char *in, int depth, const char *want)
{
    char *s = fn(in, depth);
    if (!want) {
        assert_null(s);
        return;
    }
    assert_non_null(s);
    assert_string_equal(s, want);
    assert_true(names_is_safe_path(s, depth));
    free(s);
}

/* A path of n components "d/d/.../d". */
static char *deep_path(int n, const char *comp)
{
    size_t len = strlen(comp) + 1;
    char *p = calloc((size_t)n, len);
    for (int i = 0; i < n; i++) {
        memcpy(p + (size_t)i * len, comp, len - 1);
        p[(size_t)i * len + len - 1] = i + 1 < n ? '/' : '\0';
    }
    return p;
}

/* fn keeps a path of depth components and refuses one of depth + 1. */
static void check_depth_limit(char *(*fn)(const char *, int), int depth)
{
    char *p = deep_path(depth, "d");
    check_path(fn, p, depth, p);
    free(p);
    p = deep_path(depth + 1, "d");
    check_path(fn, p, depth, NULL);
    free(p);
}

static void test_sanitize_path(void **state)
{
    (void)state;
    check_path(names_sanitize_path, "notes/out.txt", 16, "notes/out.txt");
    check_path(names_sanitize_path, "a/../../escape.txt", 16, "a/escape.txt");
    check_path(names_sanitize_path, "/etc/passwd", 16, "etc/passwd");
    check_path(names_sanitize_path, "./a//b/", 16, "a/b");
    check_path(names_sanitize_path, "my dir/.env", 16, "my_dir/_.env");
    check_path(names_sanitize_path, "a..b/c...d", 16, "a_.b/c__.d");
    check_path(names_sanitize_path, "", 16, "_");
    check_path(names_sanitize_path, "/.././/", 16, "_");
    check_path(names_sanitize_path, NULL, 16, "_");
    check_path(names_sanitize_path, "a", 0, NULL);
    check_depth_limit(names_sanitize_path, 16);
    /* 17 components of 255 bytes pass the depth but not KCR_PATH_MAX. */
    char comp[KCR_NAME_MAX + 1];
    memset(comp, 'c', KCR_NAME_MAX);
    comp[KCR_NAME_MAX] = '\0';
    char *p = deep_path(17, comp);
    check_path(names_sanitize_path, p, 32, NULL);
    free(p);
}

static void test_mount_path(void **state)
{
    (void)state;
    check_path(names_mount_path, "notes/out.txt", 16, "notes/out.txt");
    check_path(names_mount_path, "my data.csv", 16, "my_data.csv");
    check_path(names_mount_path, ".hidden", 16, "_.hidden");
    check_path(names_mount_path, "a/.git/config", 16, "a/_.git/config");
    check_path(names_mount_path, "x..y/z", 16, "x_.y/z");
    const char *bad[] = {"",     "/a",   "/",      "a//b", "a/", "./a", "a/.",
                         "../a", "a/..", "a/../b", ".",    "..", "//"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        check_path(names_mount_path, bad[i], 16, NULL);
    check_path(names_mount_path, NULL, 16, NULL);
    check_depth_limit(names_mount_path, 16);
    char longname[KCR_PATH_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    check_path(names_mount_path, longname, 16, NULL);
    /* 32 components ".xx...x" of 127 bytes fill KCR_PATH_MAX exactly; each '_'
     * prefix then takes the result past it. */
    char comp[128];
    memset(comp, 'x', sizeof(comp) - 1);
    comp[0] = '.';
    comp[sizeof(comp) - 1] = '\0';
    char *p = deep_path(32, comp);
    assert_int_equal(strlen(p), KCR_PATH_MAX);
    check_path(names_mount_path, p, 32, NULL);
    free(p);
}

/* A hostile string: bytes from a small alphabet rich in '.', '/' and bytes
 * sanitising rewrites, so runs of dots and empty components are common. */
static void random_name(unsigned *seed, char *out, size_t cap)
{
    static const char alphabet[] = "..../a-_ \\\xc3\xa9\x01~";
    *seed = *seed * 1103515245u + 12345u;
    size_t len = (*seed >> 8) % cap;
    for (size_t i = 0; i < len; i++) {
        *seed = *seed * 1103515245u + 12345u;
        out[i] = alphabet[(*seed >> 16) % (sizeof(alphabet) - 1)];
    }
    out[len] = '\0';
}

/* The invariants the headers promise, over many hostile inputs. */
static void test_sanitize_invariants(void **state)
{
    (void)state;
    unsigned seed = 42;
    char in[700];
    for (int i = 0; i < 20000; i++) {
        random_name(&seed, in, i % 2 ? 40 : sizeof(in));
        int depth = 1 + i % 20;
        char *s = names_sanitize(in);
        assert_true(names_is_safe(s));
        free(s);
        s = names_sanitize_path(in, depth);
        assert_true(!s || names_is_safe_path(s, depth));
        free(s);
        s = names_mount_path(in, depth);
        assert_true(!s || names_is_safe_path(s, depth));
        free(s);
    }
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

/* A directory outside the tree, reachable only through a planted symlink. */
static void test_mkdir_beneath(void **state)
{
    const struct tree *t = *state;
    char p[256], outside[] = "/tmp/kcr-test-outside-XXXXXX";
    assert_int_equal(fs_mkdir_beneath(t->dirfd, "x/y/z", 0755), 0);
    assert_int_equal(fs_mkdir_beneath(t->dirfd, "x/y/z", 0755), 0);
    assert_int_equal(fs_mkdir_beneath(t->dirfd, "x//y/w/", 0755), 0);
    struct stat st;
    snprintf(p, sizeof(p), "%s/x/y/z", t->dir);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(p, sizeof(p), "%s/x/y/w", t->dir);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_non_null(mkdtemp(outside));
    snprintf(p, sizeof(p), "%s/planted", t->dir);
    assert_int_equal(symlink(outside, p), 0);
    int r = fs_mkdir_beneath(t->dirfd, "planted/b", 0755);
    assert_true(r == -ELOOP || r == -ENOTDIR);
    r = fs_mkdir_beneath(t->dirfd, "x/../planted/b", 0755);
    assert_int_equal(r, -EXDEV);
    snprintf(p, sizeof(p), "%s/b", outside);
    assert_int_equal(lstat(p, &st), -1);
    assert_int_equal(rmdir(outside), 0);
    /* A regular file where a directory is needed. */
    r = fs_mkdir_beneath(t->dirfd, "sub/f.txt/c", 0755);
    assert_true(r == -ENOTDIR || r == -ELOOP);
}

/* Escapes are refused before the first mkdir: nothing is created. */
static void test_mkdir_beneath_refuses(void **state)
{
    const struct tree *t = *state;
    const char *bad[] = {"new/../b", "new/./b", "../new", "/tmp/new", "new/..", "./new"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fs_mkdir_beneath(t->dirfd, bad[i], 0755), -EXDEV);
    struct stat st;
    assert_int_equal(fstatat(t->dirfd, "new", &st, AT_SYMLINK_NOFOLLOW), -1);
    assert_int_equal(errno, ENOENT);
    int r = fs_mkdir_beneath(t->dirfd, "dirlink/kcr-test-never", 0755);
    assert_true(r == -ELOOP || r == -ENOTDIR);
    assert_int_equal(lstat("/etc/kcr-test-never", &st), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_safe),
        cmocka_unit_test(test_is_safe_path),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_sanitize_dots),
        cmocka_unit_test(test_sanitize_long),
        cmocka_unit_test(test_sanitize_path),
        cmocka_unit_test(test_mount_path),
        cmocka_unit_test(test_sanitize_invariants),
        cmocka_unit_test_setup_teardown(test_open_beneath, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_open_beneath_walk, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_mkdir_beneath, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_mkdir_beneath_refuses, setup_tree, teardown_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
