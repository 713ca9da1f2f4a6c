/* The seccomp policy, loaded in a forked child that then tries the calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
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

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>

#include "fakes/child.h"
#include "sandbox/seccomp.h"

/* What a child runs under the policy (set before each fork). */
static int (*filtered_fn)(void);

static int under_policy(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_apply_policy() < 0)
        return 99;
    return filtered_fn();
}

/* fn in a forked child under the policy: the child's exit status. */
static int in_child(int (*fn)(void))
{
    filtered_fn = fn;
    return child_run(under_policy, 0);
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

/* Default deny: a call off the allowlist answers ENOSYS; the explicit
 * denials still answer EPERM; allowed calls work. */
static int default_deny(void)
{
    char ldt[16] = {0};
    EXPECT_ERRNO(syscall(SYS_modify_ldt, 0, ldt, sizeof(ldt)), ENOSYS, 1);
    EXPECT_ERRNO(syscall(1000, 0, 0, 0), ENOSYS, 2);
    EXPECT_ERRNO(syscall(SYS_seccomp, 0, 0, NULL), ENOSYS, 3);
    EXPECT_ERRNO(syscall(SYS_add_key, "user", "kcr", "x", 1, -4 /* KEY_SPEC_SESSION */), EPERM, 4);
    EXPECT_ERRNO(syscall(SYS_syslog, 3 /* SYSLOG_ACTION_READ_ALL */, NULL, 0), EPERM, 5);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0 || write(p[1], "k", 1) != 1)
        return 6;
    char c = 0;
    if (read(p[0], &c, 1) != 1 || c != 'k')
        return 7;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, ldt, sizeof(ldt)) <= 0 || close(fd) < 0)
        return 8;
    if (getpid() <= 0 || getppid() <= 0)
        return 9;
    return 0;
}

static void test_default_deny(void **state)
{
    (void)state;
    assert_int_equal(in_child(default_deny), 0);
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

/* The fork-server's way: compiled once in the parent, loaded in each child. */
static struct kcr_seccomp_filter compiled;

static int under_compiled(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_policy_load(&compiled) < 0)
        return 99;
    return filtered_fn();
}

static void test_compiled_filter_is_the_policy(void **state)
{
    (void)state;
    assert_int_equal(seccomp_policy_compile(&compiled), 0);
    /* Byte for byte what libseccomp exports for the policy. */
    int fd = memfd_create("bpf", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(seccomp_policy_export_bpf(fd), 0);
    off_t len = lseek(fd, 0, SEEK_END);
    assert_int_equal((size_t)len, compiled.len * sizeof(struct sock_filter));
    void *bytes = malloc((size_t)len);
    assert_int_equal(pread(fd, bytes, (size_t)len, 0), len);
    assert_memory_equal(bytes, compiled.insns, (size_t)len);
    free(bytes);
    close(fd);
    /* And it behaves as the policy in a child. */
    int (*const fns[])(void) = {default_deny, kernel_surface, sockets, clones};
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        filtered_fn = fns[i];
        assert_int_equal(child_run(under_compiled, 0), 0);
    }
    struct kcr_seccomp_filter *empty = calloc(1, sizeof(*empty));
    assert_int_equal(seccomp_policy_load(empty), -EINVAL);
    free(empty);
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

/*** The exported filter, evaluated here ***/

/* A classic-BPF interpreter for what libseccomp emits, over one struct
 * seccomp_data: the kernel's view of a system call. An opcode it does not
 * know fails the test rather than guessing. */
static uint32_t bpf_run(const struct sock_filter *f, size_t n, const struct seccomp_data *d)
{
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
    for (size_t pc = 0; pc < n; pc++) {
        const struct sock_filter *i = &f[pc];
        uint32_t k = i->k, src = BPF_SRC(i->code) == BPF_X ? x : k;
        switch (BPF_CLASS(i->code)) {
        case BPF_LD:
            if (i->code == (BPF_LD | BPF_W | BPF_ABS)) {
                assert_true(k + 4 <= sizeof(*d) && k % 4 == 0);
                memcpy(&a, (const char *)d + k, 4);
            } else if (i->code == (BPF_LD | BPF_IMM)) {
                a = k;
            } else if (i->code == (BPF_LD | BPF_MEM)) {
                a = mem[k % BPF_MEMWORDS];
            } else {
                fail_msg("BPF_LD opcode 0x%x", i->code);
            }
            break;
        case BPF_LDX:
            x = BPF_MODE(i->code) == BPF_MEM ? mem[k % BPF_MEMWORDS] : k;
            break;
        case BPF_ST:
            mem[k % BPF_MEMWORDS] = a;
            break;
        case BPF_STX:
            mem[k % BPF_MEMWORDS] = x;
            break;
        case BPF_ALU:
            switch (BPF_OP(i->code)) {
            case BPF_ADD:
                a += src;
                break;
            case BPF_SUB:
                a -= src;
                break;
            case BPF_AND:
                a &= src;
                break;
            case BPF_OR:
                a |= src;
                break;
            case BPF_XOR:
                a ^= src;
                break;
            case BPF_LSH:
                a <<= src;
                break;
            case BPF_RSH:
                a >>= src;
                break;
            default:
                fail_msg("BPF_ALU opcode 0x%x", i->code);
            }
            break;
        case BPF_JMP: {
            bool t;
            switch (BPF_OP(i->code)) {
            case BPF_JA:
                pc += k;
                continue;
            case BPF_JEQ:
                t = a == src;
                break;
            case BPF_JGT:
                t = a > src;
                break;
            case BPF_JGE:
                t = a >= src;
                break;
            case BPF_JSET:
                t = (a & src) != 0;
                break;
            default:
                fail_msg("BPF_JMP opcode 0x%x", i->code);
                t = false;
            }
            pc += t ? i->jt : i->jf;
            break;
        }
        case BPF_RET:
            return BPF_RVAL(i->code) == BPF_A ? a : k;
        case BPF_MISC:
            if (BPF_MISCOP(i->code) == BPF_TAX)
                x = a;
            else
                a = x;
            break;
        default:
            fail_msg("BPF opcode 0x%x", i->code);
        }
    }
    fail_msg("the filter ran off its end");
    return 0;
}

static uint32_t verdict_a0(uint32_t arch, uint32_t nr, uint64_t a0)
{
    int fd = memfd_create("bpf", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(seccomp_policy_export_bpf(fd), 0);
    off_t len = lseek(fd, 0, SEEK_END);
    assert_true(len > 0 && len % sizeof(struct sock_filter) == 0);
    struct sock_filter *f = malloc((size_t)len);
    assert_int_equal(pread(fd, f, (size_t)len, 0), len);
    close(fd);
    struct seccomp_data d = {.nr = (int)nr, .arch = arch, .args = {a0}};
    uint32_t v = bpf_run(f, (size_t)len / sizeof(*f), &d);
    free(f);
    return v;
}

static uint32_t verdict(uint32_t arch, uint32_t nr)
{
    return verdict_a0(arch, nr, 0);
}

/* Whatever the kernel does with `int 0x80` or x32 (SIGSYS from the filter, or
 * SIGSEGV from a kernel without that emulation), the filter itself kills
 * every call of a foreign ABI: i386 and x32 (the x32 bit on x86_64). */
static void test_foreign_abis_killed_by_the_filter(void **state)
{
    (void)state;
#if defined(__x86_64__)
    const uint32_t kill = SECCOMP_RET_KILL_PROCESS;
    assert_int_equal(verdict(AUDIT_ARCH_I386, 20 /* i386 getpid */), kill);
    assert_int_equal(verdict(AUDIT_ARCH_I386, 11 /* i386 execve */), kill);
    assert_int_equal(verdict(AUDIT_ARCH_X86_64, 0x40000000u | SYS_getpid), kill);
    assert_int_equal(verdict(AUDIT_ARCH_X86_64, SYS_getpid), SECCOMP_RET_ALLOW);
    assert_int_equal(verdict(AUDIT_ARCH_X86_64, SYS_mount), SECCOMP_RET_ERRNO | EPERM);
#else
    skip();
#endif
}

#if defined(__x86_64__)
#define NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE AUDIT_ARCH_AARCH64
#endif

#define ALLOW      SECCOMP_RET_ALLOW
#define RET_EPERM  (SECCOMP_RET_ERRNO | EPERM)
#define RET_ENOSYS (SECCOMP_RET_ERRNO | ENOSYS)

static bool listed(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

static void test_allowlist_is_the_default_deny_filter(void **state)
{
    (void)state;
#ifdef NATIVE
    assert_int_equal(verdict(NATIVE, SYS_read), ALLOW);
    assert_int_equal(verdict(NATIVE, SYS_write), ALLOW);
    assert_int_equal(verdict(NATIVE, SYS_execve), ALLOW);
    assert_int_equal(verdict(NATIVE, SYS_futex), ALLOW);
    assert_int_equal(verdict(NATIVE, SYS_mmap), ALLOW);
    assert_int_equal(verdict(NATIVE, SYS_exit_group), ALLOW);
    assert_int_equal(verdict(NATIVE, SYS_prctl), ALLOW);       /* loads the personality filter */
    assert_int_equal(verdict(NATIVE, SYS_personality), ALLOW); /* the stacked filter decides */
    /* Not on the list: ENOSYS, the answer libc and runtimes fall back from. */
    assert_int_equal(verdict(NATIVE, SYS_clone3), RET_ENOSYS);
    assert_int_equal(verdict(NATIVE, SYS_seccomp), RET_ENOSYS);
    assert_int_equal(verdict(NATIVE, 1000), RET_ENOSYS);
    assert_int_equal(verdict(NATIVE, 0x3fffffffu), RET_ENOSYS);
#if defined(__x86_64__)
    assert_int_equal(verdict(NATIVE, SYS_modify_ldt), RET_ENOSYS);
    assert_int_equal(verdict(NATIVE, SYS_set_thread_area), RET_ENOSYS);
#endif
    /* Dangerous calls keep their explicit EPERM. */
    assert_int_equal(verdict(NATIVE, SYS_add_key), RET_EPERM);
    assert_int_equal(verdict(NATIVE, SYS_syslog), RET_EPERM);
    assert_int_equal(verdict(NATIVE, SYS_ptrace), RET_EPERM);
    assert_int_equal(verdict(NATIVE, SYS_io_uring_setup), RET_EPERM);
#else
    skip();
#endif
}

static void test_clone_and_socket_arguments(void **state)
{
    (void)state;
#ifdef NATIVE
    /* fork, vfork and pthread_create's flags */
    assert_int_equal(verdict_a0(NATIVE, SYS_clone, SIGCHLD), ALLOW);
    assert_int_equal(verdict_a0(NATIVE, SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD), ALLOW);
    assert_int_equal(verdict_a0(NATIVE, SYS_clone,
                                CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                                    CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
                                    CLONE_CHILD_CLEARTID),
                     ALLOW);
    const unsigned long ns[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        assert_int_equal(verdict_a0(NATIVE, SYS_clone, ns[i] | SIGCHLD), RET_EPERM);
        assert_int_equal(verdict_a0(NATIVE, SYS_clone, ns[i] | CLONE_VM | CLONE_THREAD), RET_EPERM);
    }
    assert_int_equal(verdict_a0(NATIVE, SYS_socket, AF_UNIX), ALLOW);
    assert_int_equal(verdict_a0(NATIVE, SYS_socketpair, AF_UNIX), ALLOW);
    assert_int_equal(verdict_a0(NATIVE, SYS_socket, AF_INET), RET_EPERM);
    assert_int_equal(verdict_a0(NATIVE, SYS_socket, AF_NETLINK), RET_EPERM);
    assert_int_equal(verdict_a0(NATIVE, SYS_socketpair, AF_INET6), RET_EPERM);
    assert_int_equal(verdict_a0(NATIVE, SYS_socket, 0x100000000ull | AF_UNIX), RET_EPERM);
#else
    skip();
#endif
}

/* Every listed name: denied ones EPERM, allowed ones ALLOW, no name on both
 * lists, and the calls that must never be allowed are not. */
static void test_lists_and_their_verdicts(void **state)
{
    (void)state;
    size_t na = 0, nd = 0;
    const char *const *allowed = seccomp_policy_allowed(&na);
    const char *const *denied = seccomp_policy_denied(&nd);
    assert_true(na > 100);
    for (size_t i = 0; i < na; i++)
        assert_false(listed(denied, nd, allowed[i]));
    static const char *const never[] = {
        "modify_ldt",      "clone3",      "seccomp",     "ptrace",
        "mount",           "unshare",     "setns",       "bpf",
        "io_uring_setup",  "kexec_load",  "init_module", "keyctl",
        "perf_event_open", "userfaultfd", "personality", "clone",
        "socket",          "socketpair",
    };
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        assert_false(listed(allowed, na, never[i]));
    assert_true(listed(allowed, na, "read") && listed(allowed, na, "execve"));
#ifdef NATIVE
    for (size_t i = 0; i < nd; i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr >= 0)
            assert_int_equal(verdict(NATIVE, (uint32_t)nr), RET_EPERM);
    }
    size_t resolved = 0;
    for (size_t i = 0; i < na; i++) {
        int nr = seccomp_syscall_resolve_name(allowed[i]);
        if (nr < 0)
            continue;
        resolved++;
        if (verdict(NATIVE, (uint32_t)nr) != ALLOW)
            fail_msg("%s (%d) is listed but not allowed", allowed[i], nr);
    }
    assert_true(resolved > 100);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_surface),
        cmocka_unit_test(test_sockets),
        cmocka_unit_test(test_clones),
        cmocka_unit_test(test_compiled_filter_is_the_policy),
        cmocka_unit_test(test_denied_list),
        cmocka_unit_test(test_foreign_abis_killed_by_the_filter),
        cmocka_unit_test(test_default_deny),
        cmocka_unit_test(test_allowlist_is_the_default_deny_filter),
        cmocka_unit_test(test_clone_and_socket_arguments),
        cmocka_unit_test(test_lists_and_their_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
