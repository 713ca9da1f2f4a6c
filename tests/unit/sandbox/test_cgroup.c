/* cgroup: layout detection from mountinfo, path building and limit files
 * against fake cgroupfs trees in a temp directory (v1 and a pure-v2
 * simulation: this machine has no pure v2 hierarchy), and real v1 cgroups
 * (root only): a kill must empty a tree of forked processes, and a new
 * process must join every hierarchy with and without clone3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"
#include "sandbox/cgroup.h"
#include "sandbox/ns.h"

#include <seccomp.h>

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kcr-test-cgroup-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return fs_rm_tree_at(AT_FDCWD, tmpdir);
}

static void write_file(const char *path, const char *content)
{
    struct kcr_err err = {0};
    _cleanup_free_ char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(fs_mkdir_p(dir, 0755, &err), 0);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = xcalloc(1, 4096);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void assert_file(const char *path, const char *want)
{
    _cleanup_free_ char *got = read_file(path);
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* A mountinfo line for fstype mounted at mnt with super options opts. */
static void mountinfo_line(FILE *f, int id, const char *mnt, const char *fstype, const char *opts)
{
    fprintf(f, "%d 1 0:%d / %s rw,nosuid,nodev,noexec,relatime shared:%d - %s cgroup %s\n", id, id,
            mnt, id, fstype, opts);
}

/* A mountinfo at <tmpdir>/mountinfo holding one cgroup2 mount, <tmpdir>/v2
 * with super options opts, whose root offers controllers. Returns the
 * mountinfo's path and, in *ret_root, the mount's. */
static char *fake_v2_mount(const char *opts, const char *controllers, char **ret_root)
{
    char *mi = xasprintf("%s/mountinfo", tmpdir);
    char *root = xasprintf("%s/v2", tmpdir);
    FILE *f = fopen(mi, "we");
    assert_non_null(f);
    mountinfo_line(f, 30, root, "cgroup2", opts);
    fclose(f);
    _cleanup_free_ char *ctl = xasprintf("%s/cgroup.controllers", root);
    write_file(ctl, controllers);
    *ret_root = root;
    return mi;
}

static void test_cgroup_detect_none(void **state)
{
    (void)state;
    _cleanup_free_ char *mi = xasprintf("%s/mountinfo", tmpdir);
    write_file(mi, "22 1 8:1 / / rw,relatime - ext4 /dev/vda rw\n");
    struct kcr_err err = {0};
    struct kcr_cgroup_mgr *m = cgroup_mgr_new(mi, "kcr", &err);
    assert_null(m);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "cgroup unavailable"));
}

static void test_cgroup_bad_parent(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    assert_null(cgroup_mgr_new(NULL, "../etc", &err));
    assert_int_equal(err.kind, KCR_ERR_INVALID);
}

static void test_cgroup_disabled_is_noop(void **state)
{
    (void)state;
    struct kcr_cgroup_mgr *m = cgroup_mgr_new_disabled();
    assert_int_equal(cgroup_mgr_mode(m), KCR_CGROUP_DISABLED);
    struct kcr_cgroup_limits lim = {.memory_bytes = 1 << 20, .pids_max = 8};
    struct kcr_err err = {0};
    struct kcr_cgroup *cg = cgroup_create(m, "pod1", &lim, &err);
    assert_non_null(cg);
    const char *const *paths;
    assert_int_equal(cgroup_paths(cg, &paths), 0);
    assert_int_equal(cgroup_attach(cg, getpid(), &err), 0);
    assert_int_equal(cgroup_count_procs(cg), 0);
    assert_int_equal(cgroup_destroy(cg, &err), 0);
    cgroup_mgr_free(m);
}

/* v1 hybrid as on this machine: controllers per mount (cpu co-mounted with
 * cpuacct, a mount point with an escaped space) plus the unified cgroup2. */
static void test_cgroup_v1_fake_tree(void **state)
{
    (void)state;
    _cleanup_free_ char *mi = xasprintf("%s/mountinfo", tmpdir);
    _cleanup_free_ char *mem = xasprintf("%s/mem ory", tmpdir);
    _cleanup_free_ char *pids = xasprintf("%s/pids", tmpdir);
    _cleanup_free_ char *cpu = xasprintf("%s/cpu,cpuacct", tmpdir);
    _cleanup_free_ char *frz = xasprintf("%s/freezer", tmpdir);
    _cleanup_free_ char *uni = xasprintf("%s/unified", tmpdir);
    FILE *f = fopen(mi, "we");
    assert_non_null(f);
    fprintf(f, "22 1 8:1 / / rw,relatime - ext4 /dev/vda rw\n");
    mountinfo_line(f, 30, uni, "cgroup2", "rw,nsdelegate");
    _cleanup_free_ char *mem_esc = xasprintf("%s/mem\\040ory", tmpdir);
    mountinfo_line(f, 31, mem_esc, "cgroup", "rw,memory");
    mountinfo_line(f, 32, pids, "cgroup", "rw,pids");
    mountinfo_line(f, 33, cpu, "cgroup", "rw,cpu,cpuacct");
    mountinfo_line(f, 34, frz, "cgroup", "rw,freezer");
    mountinfo_line(f, 35, "/x/systemd", "cgroup", "rw,xattr,name=systemd");
    fclose(f);
    /* cgroupfs files exist as soon as mkdir returns; a temp dir needs them made. */
    const char *files[][2] = {{mem, "memory.limit_in_bytes"}, {mem, "memory.memsw.limit_in_bytes"},
                              {mem, "cgroup.procs"},          {pids, "pids.max"},
                              {pids, "cgroup.procs"},         {cpu, "cpu.cfs_period_us"},
                              {cpu, "cpu.cfs_quota_us"},      {cpu, "cgroup.procs"},
                              {frz, "cgroup.procs"},          {uni, "cgroup.procs"}};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *p = xasprintf("%s/kcr/pod1/%s", files[i][0], files[i][1]);
        write_file(p, "");
    }
    struct kcr_err err = {0};
    struct kcr_cgroup_mgr *m = cgroup_mgr_new(mi, "kcr", &err);
    assert_non_null(m);
    assert_int_equal(cgroup_mgr_mode(m), KCR_CGROUP_V1);
    struct kcr_cgroup_limits lim = {.memory_bytes = 536870912,
                                    .pids_max = 256,
                                    .cpu_quota_us = 150000,
                                    .cpu_period_us = 100000};
    struct kcr_cgroup *cg = cgroup_create(m, "pod1", &lim, &err);
    assert_non_null(cg);
    const char *const *paths;
    assert_int_equal(cgroup_paths(cg, &paths), 5);
    _cleanup_free_ char *want0 = xasprintf("%s/kcr/pod1", mem);
    _cleanup_free_ char *want4 = xasprintf("%s/kcr/pod1", uni);
    assert_string_equal(paths[0], want0);
    assert_string_equal(paths[4], want4);
    _cleanup_free_ char *p1 = xasprintf("%s/kcr/pod1/memory.limit_in_bytes", mem);
    _cleanup_free_ char *p2 = xasprintf("%s/kcr/pod1/memory.memsw.limit_in_bytes", mem);
    _cleanup_free_ char *p3 = xasprintf("%s/kcr/pod1/pids.max", pids);
    _cleanup_free_ char *p4 = xasprintf("%s/kcr/pod1/cpu.cfs_quota_us", cpu);
    _cleanup_free_ char *p5 = xasprintf("%s/kcr/pod1/cgroup.procs", frz);
    assert_file(p1, "536870912");
    assert_file(p2, "536870912");
    assert_file(p3, "256");
    assert_file(p4, "150000");
    assert_int_equal(cgroup_attach(cg, 4242, &err), 0);
    assert_file(p5, "4242");
    /* Empty again: the kill in cgroup_destroy below would SIGKILL a real
     * process 4242 for 2 s of rounds. */
    for (size_t i = 0; i < 5; i++) {
        _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", paths[i]);
        write_file(procs, "");
    }
    /* Names from outside are checked. */
    assert_null(cgroup_create(m, "../../etc", &lim, &err));
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    cgroup_destroy(cg, NULL); /* fake dirs hold files: rmdir fails, memory is freed */
    cgroup_mgr_free(m);
}

/* Pure cgroup v2 (Kubernetes nodes, current distributions), simulated in a
 * temp directory: controllers enabled top-down, limits in memory.max,
 * memory.swap.max, pids.max and cpu.max. */
static void test_cgroup_v2_fake_tree(void **state)
{
    (void)state;
    _cleanup_free_ char *root = NULL;
    _cleanup_free_ char *mi = fake_v2_mount("rw,nsdelegate,memory_recursiveprot",
                                            "cpuset cpu io memory hugetlb pids rdma misc\n", &root);
    const char *files[] = {"cgroup.subtree_control", "kcr/cgroup.subtree_control",
                           "kcr/pod1/memory.max",    "kcr/pod1/memory.swap.max",
                           "kcr/pod1/pids.max",      "kcr/pod1/cpu.max",
                           "kcr/pod1/cgroup.procs"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *p = xasprintf("%s/%s", root, files[i]);
        write_file(p, "");
    }
    struct kcr_err err = {0};
    struct kcr_cgroup_mgr *m = cgroup_mgr_new(mi, "kcr", &err);
    assert_non_null(m);
    assert_int_equal(cgroup_mgr_mode(m), KCR_CGROUP_V2);
    assert_string_equal(cgroup_mode_name(cgroup_mgr_mode(m)), "v2");
    struct kcr_cgroup_limits lim = {
        .memory_bytes = 268435456, .pids_max = 64, .cpu_quota_us = 50000, .cpu_period_us = 100000};
    struct kcr_cgroup *cg = cgroup_create(m, "pod1", &lim, &err);
    assert_non_null(cg);
    const char *const *paths;
    assert_int_equal(cgroup_paths(cg, &paths), 1);
    _cleanup_free_ char *want = xasprintf("%s/kcr/pod1", root);
    assert_string_equal(paths[0], want);
    const char *expect[][2] = {{"cgroup.subtree_control", "+memory +pids +cpu"},
                               {"kcr/cgroup.subtree_control", "+memory +pids +cpu"},
                               {"kcr/pod1/memory.max", "268435456"},
                               {"kcr/pod1/memory.swap.max", "0"},
                               {"kcr/pod1/pids.max", "64"},
                               {"kcr/pod1/cpu.max", "50000 100000"}};
    for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
        _cleanup_free_ char *p = xasprintf("%s/%s", root, expect[i][0]);
        assert_file(p, expect[i][1]);
    }
    assert_int_equal(cgroup_attach(cg, 777, &err), 0);
    _cleanup_free_ char *procs = xasprintf("%s/kcr/pod1/cgroup.procs", root);
    assert_file(procs, "777");
    write_file(procs, ""); /* or cgroup_destroy's kill signals a real process 777 */
    /* Joining on v2: clone3 into the directory, nothing for the child to
     * write; without clone3 the parent moves the child by cgroup.procs. */
    struct kcr_cgroup_join j = KCR_CGROUP_JOIN_INIT;
    assert_int_equal(cgroup_join_open(cg, &j, &err), 0);
    assert_true(j.dir_fd >= 0);
    assert_int_equal(j.tasks_fd[0], -1);
    assert_int_equal(cgroup_join_finish(cg, &j, 778, true, &err), 0);
    assert_file(procs, "");
    assert_int_equal(cgroup_join_finish(cg, &j, 778, false, &err), 0);
    assert_file(procs, "778");
    write_file(procs, "");
    cgroup_join_close(&j);
    assert_int_equal(j.dir_fd, -1);
    cgroup_destroy(cg, NULL);
    cgroup_mgr_free(m);
}

static void test_cgroup_v2_without_memory(void **state)
{
    (void)state;
    _cleanup_free_ char *root = NULL;
    /* hugetlb only, like this machine's unified mount */
    _cleanup_free_ char *mi = fake_v2_mount("rw", "hugetlb\n", &root);
    struct kcr_err err = {0};
    assert_null(cgroup_mgr_new(mi, "kcr", &err));
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
}

/* A real cgroup kcr-unit/<tag><pid> with pids.max 16, through mountinfo
 * (NULL: this process's). Root only; skips without cgroups. */
static struct kcr_cgroup *real_cgroup(const char *mountinfo, struct kcr_cgroup_mgr **m, char *name,
                                      size_t size, const char *tag)
{
    if (geteuid() != 0)
        skip();
    struct kcr_err err = {0};
    *m = cgroup_mgr_new(mountinfo, "kcr-unit", &err);
    if (!*m)
        skip();
    snprintf(name, size, "%s%d", tag, (int)getpid());
    struct kcr_cgroup_limits lim = {.memory_bytes = 64 << 20, .pids_max = 16};
    struct kcr_cgroup *cg = cgroup_create(*m, name, &lim, &err);
    assert_non_null(cg);
    return cg;
}

/* cgroup_destroy must kill pid (the first of the cgroup's processes, our
 * child) and everything it forked, and remove every directory. */
static void destroy_and_check_gone(struct kcr_cgroup *cg, pid_t pid)
{
    const char *const *paths;
    size_t n = cgroup_paths(cg, &paths);
    char *copies[8];
    for (size_t i = 0; i < n; i++)
        copies[i] = xstrdup(paths[i]);
    struct kcr_err err = {0};
    assert_int_equal(cgroup_destroy(cg, &err), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(access(copies[i], F_OK), -1);
        *strrchr(copies[i], '/') = '\0';
        (void)rmdir(copies[i]); /* the test's own parent, if no other run uses it */
        free(copies[i]);
    }
}

/* Forks a child that joins cg and runs body, which reports one byte on
 * ready_fd and never returns; stores that byte in *ret_byte. */
static pid_t fork_in_cgroup(struct kcr_cgroup *cg, void (*body)(int ready_fd), char *ret_byte)
{
    int ready[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (cgroup_attach(cg, getpid(), NULL) < 0)
            _exit(3);
        body(ready[1]);
        _exit(0);
    }
    close(ready[1]);
    assert_int_equal(read(ready[0], ret_byte, 1), 1);
    close(ready[0]);
    return pid;
}

/* 40 sleepers (as many as pids.max lets through), then their number. */
static void fork_sleepers(int ready_fd)
{
    int made = 0;
    for (int i = 0; i < 40; i++) {
        pid_t c = fork();
        if (c == 0) {
            pause();
            _exit(0);
        }
        made += c > 0;
    }
    char b = (char)made;
    (void)!write(ready_fd, &b, 1);
    pause();
}

/* A fork bomb: every process forks again, forever. */
static void fork_bomb(int ready_fd)
{
    (void)!write(ready_fd, "1", 1);
    for (;;)
        (void)fork();
}

/* Real v1 cgroup: a child joins it and forks 40 sleepers with pids.max 16;
 * cgroup_destroy must kill them all and remove every directory. */
static void test_cgroup_real_kill(void **state)
{
    (void)state;
    struct kcr_cgroup_mgr *m;
    char name[64];
    struct kcr_cgroup *cg = real_cgroup(NULL, &m, name, sizeof(name), "t");
    char made = 0;
    pid_t pid = fork_in_cgroup(cg, fork_sleepers, &made);
    assert_int_equal(made, 15); /* pids.max 16 = the child and 15 forks */
    assert_int_equal(cgroup_count_procs(cg), 16);
    destroy_and_check_gone(cg, pid);
    cgroup_mgr_free(m);
}

/* The v1 kill without cgroup.kill (kernels before 5.14, or no cgroup2 mount):
 * this machine's real v1 hierarchies seen through a mountinfo without the
 * cgroup2 line, so the freezer rounds run against a real fork bomb that
 * keeps forking at pids.max. */
static void test_cgroup_real_kill_by_freezer(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    _cleanup_free_ char *mi = xasprintf("%s/mountinfo", tmpdir);
    FILE *in = fopen("/proc/self/mountinfo", "re"), *out = fopen(mi, "we");
    assert_non_null(in);
    assert_non_null(out);
    char line[1024];
    bool has_freezer = false;
    while (fgets(line, sizeof(line), in)) {
        if (strstr(line, " - cgroup2 "))
            continue;
        has_freezer |= strstr(line, " - cgroup ") && strstr(line, "freezer");
        fputs(line, out);
    }
    fclose(in);
    fclose(out);
    if (!has_freezer)
        skip();
    struct kcr_cgroup_mgr *m;
    char name[64];
    struct kcr_cgroup *cg = real_cgroup(mi, &m, name, sizeof(name), "f");
    assert_int_equal(cgroup_mgr_mode(m), KCR_CGROUP_V1);
    const char *const *paths;
    size_t n = cgroup_paths(cg, &paths);
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(paths[i], "unified")); /* no cgroup2 directory: no cgroup.kill */
    char b;
    pid_t pid = fork_in_cgroup(cg, fork_bomb, &b);
    for (int i = 0; i < 200 && cgroup_count_procs(cg) < 16; i++)
        usleep(5000);
    assert_int_equal(cgroup_count_procs(cg), 16); /* the bomb is at pids.max */
    destroy_and_check_gone(cg, pid);
    cgroup_mgr_free(m);
}

/* In /proc/self/cgroup, every line of a hierarchy kcr uses (memory, pids,
 * cpu, freezer, cgroup2) must end in /<name>. Returns how many did, or -1
 * when one did not. */
static int count_joined(const char *name)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -1;
    char line[512], suffix[80];
    snprintf(suffix, sizeof(suffix), "/%s", name);
    int n = 0, bad = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *ctl = strchr(line, ':'), *path = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        ctl++;
        bool used = !*ctl || strstr(ctl, "memory") || strstr(ctl, "pids") ||
                    !strncmp(ctl, "cpu,", 4) || !strcmp(ctl, "cpu") || strstr(ctl, "freezer");
        if (!used)
            continue;
        size_t lp = strlen(path), ls = strlen(suffix);
        if (lp >= ls && !strcmp(path + lp - ls, suffix))
            n++;
        else
            bad++;
    }
    fclose(f);
    return bad ? -1 : n;
}

/* The pod path: clone (into the cgroup2 directory when the kernel allows),
 * the parent finishes, the child moves itself into the v1 hierarchies. The
 * child reports how many hierarchies it found itself in. */
static int join_child(struct kcr_cgroup *cg, const char *name, bool *ret_in_dir)
{
    struct kcr_err err = {0};
    struct kcr_cgroup_join j = KCR_CGROUP_JOIN_INIT;
    if (cgroup_join_open(cg, &j, &err) < 0)
        return -2;
    int go[2], res[2];
    if (pipe2(go, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
        return -2;
    pid_t pid = ns_fork(0, j.dir_fd, ret_in_dir, &err);
    if (pid < 0)
        return -2;
    if (pid == 0) {
        char b;
        if (read(go[0], &b, 1) != 1 || cgroup_join_self(&j, &err) < 0)
            _exit(3);
        char n = (char)count_joined(name);
        _exit(write(res[1], &n, 1) == 1 ? 0 : 4);
    }
    int r = cgroup_join_finish(cg, &j, pid, *ret_in_dir, &err);
    cgroup_join_close(&j);
    (void)!write(go[1], "1", 1);
    char n = -3;
    close(res[1]);
    if (read(res[0], &n, 1) != 1)
        n = -3;
    int status = 0;
    waitpid(pid, &status, 0);
    close(go[0]);
    close(go[1]);
    close(res[0]);
    return r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) ? -4 : n;
}

/* clone3 with no arguments: EINVAL where the system call exists, ENOSYS
 * where it is refused (valgrind, old kernels, some seccomp profiles). */
static bool have_clone3(void)
{
    return syscall(SYS_clone3, NULL, 0) < 0 && errno != ENOSYS;
}

/* clone3 lands the child in the cgroup2 directory (where clone3 exists), and
 * the v1 tasks writes move it into memory, pids, cpu and freezer. */
static void test_cgroup_real_join(void **state)
{
    (void)state;
    struct kcr_cgroup_mgr *m;
    char name[64];
    struct kcr_cgroup *cg = real_cgroup(NULL, &m, name, sizeof(name), "j");
    const char *const *paths;
    size_t npaths = cgroup_paths(cg, &paths);
    bool in_dir = false;
    assert_int_equal(join_child(cg, name, &in_dir), (int)npaths);
    assert_int_equal(in_dir, have_clone3());
    assert_int_equal(cgroup_destroy(cg, NULL), 0);
    cgroup_mgr_free(m);
}

/* Where clone3 is refused (old kernels, container seccomp profiles,
 * valgrind: ENOSYS), the child starts outside and the parent moves it into
 * the cgroup2 directory: it still ends up in every hierarchy. */
static void test_cgroup_real_join_without_clone3(void **state)
{
    (void)state;
    if (!have_clone3())
        skip(); /* without clone3 the test above takes this path */
    struct kcr_cgroup_mgr *m;
    char name[64];
    struct kcr_cgroup *cg = real_cgroup(NULL, &m, name, sizeof(name), "k");
    const char *const *paths;
    size_t npaths = cgroup_paths(cg, &paths);
    pid_t helper = fork();
    assert_true(helper >= 0);
    if (helper == 0) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0 ||
            seccomp_load(ctx) < 0)
            _exit(10);
        bool in_dir = true;
        int n = join_child(cg, name, &in_dir);
        _exit(in_dir ? 11 : n == (int)npaths ? 0 : 12);
    }
    int status = 0;
    assert_int_equal(waitpid(helper, &status, 0), helper);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(cgroup_destroy(cg, NULL), 0);
    cgroup_mgr_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cgroup_detect_none, setup, teardown),
        cmocka_unit_test(test_cgroup_bad_parent),
        cmocka_unit_test(test_cgroup_disabled_is_noop),
        cmocka_unit_test_setup_teardown(test_cgroup_v1_fake_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroup_v2_fake_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroup_v2_without_memory, setup, teardown),
        cmocka_unit_test(test_cgroup_real_kill),
        cmocka_unit_test_setup_teardown(test_cgroup_real_kill_by_freezer, setup, teardown),
        cmocka_unit_test(test_cgroup_real_join),
        cmocka_unit_test(test_cgroup_real_join_without_clone3),
    };
    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
