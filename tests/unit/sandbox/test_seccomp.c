/* The seccomp policy, loaded in a forked child that then tries the calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/seccomp.h"

static int in_child(int (*fn)(void))
{
    pid_t p = fork();
    if (p == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_apply_policy() < 0)
            _exit(99);
        _exit(fn());
    }
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define EXPECT_ERRNO(call, e, code)                                                                \
    do {                                                                                           \
        errno = 0;                                                                                 \
        if ((call) >= 0 || errno != (e))                                                           \
            return code;                                                                           \
    } while (0)

static int kernel_surface(void)
{
    EXPECT_ERRNO(unshare(CLONE_NEWUSER), EPERM, 1);
    EXPECT_ERRNO(unshare(CLONE_NEWNS), EPERM, 2);
    EXPECT_ERRNO(mount("none", "/tmp", "tmpfs", 0, NULL), EPERM, 3);
    EXPECT_ERRNO(syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0), EPERM, 4);
    EXPECT_ERRNO(syscall(SYS_bpf, 0, NULL, 0), EPERM, 5);
    EXPECT_ERRNO(syscall(SYS_keyctl, 0, -3, 0), EPERM, 6);
    EXPECT_ERRNO(syscall(SYS_userfaultfd, 0), EPERM, 7);
    EXPECT_ERRNO(syscall(SYS_io_uring_setup, 1, NULL), EPERM, 8);
    EXPECT_ERRNO(syscall(SYS_setns, 0, 0), EPERM, 9);
    EXPECT_ERRNO(chroot("/"), EPERM, 10);
    EXPECT_ERRNO(personality(ADDR_NO_RANDOMIZE), EPERM, 11);
    if (personality(0xffffffff) < 0)
        return 12;
    return 0;
}

static int sockets(void)
{
    EXPECT_ERRNO(socket(AF_INET, SOCK_STREAM, 0), EPERM, 1);
    EXPECT_ERRNO(socket(AF_INET6, SOCK_DGRAM, 0), EPERM, 2);
    EXPECT_ERRNO(socket(AF_NETLINK, SOCK_RAW, 0), EPERM, 3);
    int sv[2];
    EXPECT_ERRNO(socketpair(AF_INET, SOCK_STREAM, 0, sv), EPERM, 4);
    if (socket(AF_UNIX, SOCK_STREAM, 0) < 0)
        return 5;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 6;
    return 0;
}

static int clones(void)
{
    struct clone_args ca = {.exit_signal = SIGCHLD};
    EXPECT_ERRNO(syscall(SYS_clone3, &ca, sizeof(ca)), ENOSYS, 1);
    EXPECT_ERRNO(syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0), EPERM, 2);
    EXPECT_ERRNO(syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0), EPERM, 3);
    /* plain fork (glibc falls back from clone3 to clone) works */
    pid_t p = fork();
    if (p < 0)
        return 4;
    if (p == 0)
        _exit(7);
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : 5;
}

static void test_kernel_surface(void **state)
{
    (void)state;
    assert_int_equal(in_child(kernel_surface), 0);
}

static void test_sockets(void **state)
{
    (void)state;
    assert_int_equal(in_child(sockets), 0);
}

static void test_clones(void **state)
{
    (void)state;
    assert_int_equal(in_child(clones), 0);
}

static void test_denied_list(void **state)
{
    (void)state;
    size_t n = 0;
    const char *const *names = seccomp_policy_denied(&n);
    assert_true(n > 30);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found += !strcmp(names[i], "ptrace") + !strcmp(names[i], "bpf");
    assert_int_equal(found, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_surface),
        cmocka_unit_test(test_sockets),
        cmocka_unit_test(test_clones),
        cmocka_unit_test(test_denied_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
