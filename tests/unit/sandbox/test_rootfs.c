/* rootfs: the plan built from a config (what is bound, generated, skipped,
 * refused), and forked children that apply steps in a private mount
 * namespace and report by exit code; the parent asserts under a timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"
#include "fakes/child.h"
#include "sandbox/ns.h"
#include "sandbox/rootfs.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kcr-test-rootfs-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char p[128];
    snprintf(p, sizeof(p), "%s/root", tmpdir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/data", tmpdir);
    mkdir(p, 0755);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return fs_rm_tree_at(AT_FDCWD, tmpdir);
}

static struct kcr_rootfs_plan *make_plan(const char *runtime, const char *const *extra,
                                         struct kcr_err *err)
{
    static char root[128], data[128];
    snprintf(root, sizeof(root), "%s/root", tmpdir);
    snprintf(data, sizeof(data), "%s/data", tmpdir);
    struct kcr_rootfs_config cfg = {.root = root,
                                    .data_dir = data,
                                    .runtime_dir = runtime,
                                    .host_paths = extra,
                                    .tmp_mb = 16,
                                    .shm_mb = 8,
                                    .hostname = "kcr"};
    return rootfs_plan_new(&cfg, err);
}

static const struct kcr_rootfs_step *find(const struct kcr_rootfs_plan *p, enum kcr_rootfs_op op,
                                          const char *dst)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->steps[i].op == op && !strcmp(p->steps[i].dst, dst))
            return &p->steps[i];
    return NULL;
}

static void test_rootfs_plan_contents(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    struct kcr_rootfs_plan *p = make_plan("/nonexistent-runtime", NULL, &err);
    assert_non_null(p);
    /* Starts with the tmpfs root, ends by making it read-only. */
    assert_int_equal(p->steps[0].op, ROOTFS_TMPFS);
    assert_string_equal(p->steps[0].dst, "");
    assert_int_equal(p->steps[p->count - 1].op, ROOTFS_READONLY);
    assert_non_null(find(p, ROOTFS_BIND, "usr"));
    /* Host symlinks (merged /usr) are recreated, real directories bound. */
    struct stat st;
    assert_int_equal(lstat("/bin", &st), 0);
    assert_non_null(find(p, S_ISLNK(st.st_mode) ? ROOTFS_SYMLINK : ROOTFS_BIND, "bin"));
    const struct kcr_rootfs_step *pw = find(p, ROOTFS_WRITE, "etc/passwd");
    assert_non_null(pw);
    assert_non_null(strstr(pw->data, "kcr:x:65532:65532:kcr:/tmp:"));
    assert_non_null(find(p, ROOTFS_WRITE, "etc/hosts"));
    assert_non_null(find(p, ROOTFS_PROC, "proc"));
    assert_non_null(find(p, ROOTFS_TMPFS, "tmp"));
    assert_int_equal(find(p, ROOTFS_TMPFS, "tmp")->mode, 01777);
    assert_int_equal(find(p, ROOTFS_TMPFS, "tmp")->size_mb, 16);
    assert_int_equal(find(p, ROOTFS_TMPFS, "dev/shm")->size_mb, 8);
    assert_non_null(find(p, ROOTFS_BIND, "dev/null"));
    assert_non_null(find(p, ROOTFS_SYMLINK, "dev/fd"));
    assert_non_null(find(p, ROOTFS_BIND, "mnt/data"));
    /* Missing runtime dir: an empty /opt/kcr/bin instead of a bind. */
    assert_non_null(find(p, ROOTFS_MKDIR, "opt/kcr/bin"));
    assert_null(find(p, ROOTFS_BIND, "opt/kcr"));
    /* Nothing secret from the host. */
    for (size_t i = 0; i < p->count; i++) {
        const char *d = p->steps[i].dst, *s = p->steps[i].src ? p->steps[i].src : "";
        assert_null(strstr(d, "shadow"));
        assert_null(strstr(s, "shadow"));
        assert_true(strncmp(d, "root", 4) && strncmp(d, "home", 4) && strncmp(d, "var", 3));
    }
    rootfs_plan_free(p);
    /* With a runtime dir: bound read-only at /opt/kcr. */
    p = make_plan(tmpdir, NULL, &err);
    assert_non_null(p);
    assert_non_null(find(p, ROOTFS_BIND, "opt/kcr"));
    assert_string_equal(find(p, ROOTFS_BIND, "opt/kcr")->src, tmpdir);
    rootfs_plan_free(p);
}

static void test_rootfs_plan_refuses_secrets(void **state)
{
    (void)state;
    const char *const bad[][2] = {{"/etc/shadow", NULL}, {"/root/.ssh", NULL},
                                  {"/home", NULL},       {"/var/lib/x", NULL},
                                  {"relative", NULL},    {"/usr/../etc/shadow", NULL}};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct kcr_err err = {0};
        assert_null(make_plan(NULL, bad[i], &err));
        assert_int_equal(err.kind, KCR_ERR_INVALID);
        assert_non_null(strstr(err.msg, bad[i][0]));
    }
    const char *const ok[] = {"/usr/share/R", "/nonexistent/skipped", NULL};
    struct kcr_err err = {0};
    struct kcr_rootfs_plan *p = make_plan(NULL, ok, &err);
    assert_non_null(p);
    assert_null(find(p, ROOTFS_BIND, "nonexistent/skipped"));
    rootfs_plan_free(p);
}

/* Child: a tmpfs root with /usr bound read-only; exit codes name the failure. */
static int child_bind_step(void)
{
    struct kcr_err err = {0};
    if (ns_unshare(CLONE_NEWNS, &err) < 0 || ns_mounts_private(&err) < 0)
        return 10;
    char root[128];
    snprintf(root, sizeof(root), "%s/root", tmpdir);
    struct kcr_rootfs_step tmpfs = {
        .op = ROOTFS_TMPFS, .dst = (char *)"", .mode = 0755, .size_mb = 1};
    struct kcr_rootfs_step bind = {.op = ROOTFS_BIND,
                                   .src = (char *)"/usr",
                                   .dst = (char *)"usr",
                                   .attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID};
    if (rootfs_step_apply(root, &tmpfs, &err) < 0 || rootfs_step_apply(root, &bind, &err) < 0)
        return 11;
    char p[256];
    snprintf(p, sizeof(p), "%s/usr/bin/env", root);
    if (access(p, X_OK) < 0)
        return 12;
    snprintf(p, sizeof(p), "%s/usr/kcr-test-file", root);
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EROFS)
        return 13;
    return 0;
}

static void test_rootfs_bind_step_in_child(void **state)
{
    (void)state;
    child_run_as_root(child_bind_step, 10);
    /* The mount lived in the child's namespace only. */
    char p[128];
    snprintf(p, sizeof(p), "%s/root/usr", tmpdir);
    assert_int_equal(access(p, F_OK), -1);
}

/* Child: the whole plan, pivot_root, then look around as the container. */
static int child_full_plan(void)
{
    struct kcr_err err = {0};
    if (ns_unshare(CLONE_NEWNS, &err) < 0 || ns_mounts_private(&err) < 0)
        return 10;
    struct kcr_rootfs_plan *p = make_plan(NULL, NULL, &err);
    if (!p)
        return 11;
    if (rootfs_apply(p, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 12;
    }
    if (rootfs_pivot(p->root, &err) < 0)
        return 13;
    if (access("/etc/shadow", F_OK) == 0 || access("/root", F_OK) == 0 ||
        access("/home", F_OK) == 0 || access("/var", F_OK) == 0)
        return 14;
    int fd = open("/kcr-x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EROFS)
        return 15;
    fd = open("/tmp/x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return 16;
    close(fd);
    fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "x", 1) != 1)
        return 17;
    close(fd);
    if (access("/usr/bin/env", X_OK) < 0 || access("/proc/self/status", R_OK) < 0)
        return 18;
    fd = open("/mnt/data/x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return 19;
    close(fd);
    rootfs_plan_free(p);
    return 0;
}

static void test_rootfs_full_plan_and_pivot(void **state)
{
    (void)state;
    child_run_as_root(child_full_plan, 20);
    /* /mnt/data was the host directory: the file is there. */
    char p[128];
    snprintf(p, sizeof(p), "%s/data/x", tmpdir);
    assert_int_equal(access(p, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rootfs_plan_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rootfs_plan_refuses_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rootfs_bind_step_in_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rootfs_full_plan_and_pivot, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
