/* ns and net: a child forked into new pid, net, uts, ipc and mount
 * namespaces sees itself as pid 1, only lo (which it can bring up), its own
 * hostname, and private mounts. Root only (skipped otherwise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fakes/child.h"
#include "sandbox/net.h"
#include "sandbox/ns.h"

static void test_ns_flags_name(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(ns_flags_name(CLONE_NEWPID | CLONE_NEWNET, buf, sizeof(buf)), "pid net");
    assert_string_equal(ns_flags_name(0, buf, sizeof(buf)), "");
}

static int in_pod_namespaces(void)
{
    struct kcr_err err = {0};
    if (getpid() != 1)
        return 10;
    if (net_count_interfaces(&err) != 1 || if_nametoindex("lo") == 0)
        return 11;
    if (net_lo_up(&err) < 0)
        return 12;
    if (ns_set_hostname("kcr", &err) < 0)
        return 13;
    char host[64] = {0};
    if (gethostname(host, sizeof(host) - 1) < 0 || strcmp(host, "kcr") != 0)
        return 14;
    if (ns_mounts_private(&err) < 0 || ns_mount_proc("/proc", &err) < 0)
        return 15;
    /* The fresh /proc shows this pid namespace: we are /proc/self -> 1. */
    char self[16] = {0};
    if (readlink("/proc/self", self, sizeof(self) - 1) < 0 || strcmp(self, "1") != 0)
        return 16;
    if (ns_unshare(CLONE_NEWCGROUP, &err) < 0)
        return 17;
    return 0;
}

static void test_ns_fork_pod_namespaces(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    struct kcr_err err = {0};
    char host_before[64] = {0};
    gethostname(host_before, sizeof(host_before) - 1);
    bool in_cgroup = true;
    pid_t pid = ns_fork(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS, -1,
                        &in_cgroup, &err);
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(in_pod_namespaces());
    assert_int_equal(child_wait(pid, 10), 0);
    assert_false(in_cgroup); /* none asked for */
    /* Nothing leaked out: the host keeps its name. */
    char host_after[64] = {0};
    gethostname(host_after, sizeof(host_after) - 1);
    assert_string_equal(host_before, host_after);
}

/* A directory that is not a cgroup2 one is an error, not a silent clone
 * into the caller's cgroup (the pod would run without its limits). */
static void test_ns_fork_into_non_cgroup_fails(void **state)
{
    (void)state;
    if (syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS)
        skip(); /* valgrind, old kernels: no clone3, and so no check to make */
    int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct kcr_err err = {0};
    bool in_cgroup = true;
    pid_t pid = ns_fork(0, fd, &in_cgroup, &err);
    if (pid == 0)
        _exit(0);
    close(fd);
    assert_int_equal(pid, -1);
    assert_false(in_cgroup);
    assert_non_null(strstr(err.msg, "clone into a cgroup"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ns_flags_name),
        cmocka_unit_test(test_ns_fork_pod_namespaces),
        cmocka_unit_test(test_ns_fork_into_non_cgroup_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
