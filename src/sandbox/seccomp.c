#include "sandbox/seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const denied[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsmount",
    "fspick",
    "fsconfig",
    "mount_setattr",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "quotactl_fd",
    "clock_settime",
    "settimeofday",
    "clock_adjtime",
    "adjtimex",
    "chroot",
    "lookup_dcookie",
    "name_to_handle_at",
    "open_by_handle_at",
    "fanotify_init",
    "vm86",
    "vm86old",
    "uselib",
    "syslog",
    "iopl",
    "ioperm",
};

/* The allowlist: every other call answers ENOSYS (UNLISTED_ACTION), except
 * the denied[] calls above (EPERM) and the argument-checked clone, socket,
 * socketpair and personality (add_rules, load_personality_filter).
 *
 * How it was made. scripts/seccomp-measure.py runs every program of the
 * language suite (tests/e2e/lang_cases.py and the library checks of
 * test_languages.py: 99 programs) through its language's steps of
 * src/common/lang.c (gcc, g++, gfortran, ldc2, rustc, go build, javac, node
 * with ts-runner's tsc, and the compiled programs; python, node, php,
 * Rscript, bash) and the pre-started runners, under `strace -f` on the host,
 * and prints the union. On Debian 12 (glibc 2.36, kernel 6.x) that was these
 * 104 calls (kill, from a thread pool's shutdown, comes and goes):
 *
 *   access arch_prctl bind brk capget chdir chmod clock_getres
 *   clock_nanosleep clone clone3 close close_range connect copy_file_range
 *   dup dup2 dup3 epoll_create1 epoll_ctl epoll_pwait eventfd2 execve exit
 *   exit_group faccessat2 fadvise64 fallocate fchdir fcntl flock fstat
 *   fstatfs ftruncate futex get_mempolicy getcwd getdents64 getegid geteuid
 *   getgid getpgrp getpid getppid getrandom getrlimit getrusage getsockname
 *   getsockopt gettid getuid ioctl kill link lseek madvise mkdir mkdirat
 *   mlock mmap mprotect mremap munmap nanosleep newfstatat openat pipe2
 *   pkey_alloc poll prctl pread64 prlimit64 pwrite64 read readlink readlinkat
 *   restart_syscall rseq rt_sigaction rt_sigprocmask rt_sigreturn
 *   sched_getaffinity sched_yield set_mempolicy set_robust_list
 *   set_tid_address setsockopt sigaltstack socket socketpair statfs statx
 *   sysinfo tgkill umask uname unlink unlinkat utimensat vfork wait4 waitid
 *   write writev
 *
 * All are allowed but clone3 (ENOSYS by design, below). Added to them: the
 * sandbox's own path from seccomp_load() to execve() (prctl for the
 * personality filter, execve, write and exit_group on failure; the libc
 * start-up is measured above), the other members of each measured family
 * (pread64 -> preadv2, epoll_pwait -> epoll_wait/epoll_pwait2, unlink ->
 * rename/rmdir, ...) and what common library code uses (threads, event loops,
 * timers, AF_UNIX IPC, subprocess, sqlite's fsync, shutil's sendfile and
 * xattrs). Then the language suite and the security suite were run under a
 * KCR_SECCOMP_LOG_UNLISTED build: no call off the list was logged.
 * `seccomp-measure.py --check` prints what was measured but is not allowed.
 * Names unknown to the architecture are skipped.
 *
 * Left out on purpose (ENOSYS): clone3 (its flags sit in memory a classic BPF
 * filter cannot read: glibc falls back to clone), seccomp, modify_ldt,
 * set/get_thread_area, the set*id family (no capability to use them), capset,
 * sched_setscheduler/setattr, ioprio_*, kcmp, pidfd_getfd, get_robust_list,
 * process_madvise, memfd_secret, vmsplice, remap_file_pages, SysV and POSIX
 * message IPC (msg*, mq_*, shm*, sem*), Linux AIO (io_*), landlock_*,
 * futex_waitv, sync/syncfs, sysfs, ustat, vhangup, and every call newer than
 * this list. Adding a call: see it fail with ENOSYS (strace in the pod, or a
 * KCR_SECCOMP_LOG_UNLISTED build and dmesg), add it to its group below with
 * the reason, and run the language suite; never add a denied[] call. */
static const char *const allowed[] = {
    /* file I/O on open descriptors: every program */
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "lseek",
    "close",
    "close_range",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "flock",
    "ioctl",
    "fsync",
    "fdatasync",
    "ftruncate",
    "truncate",
    "fallocate",
    "fadvise64",
    "readahead",
    /* copies without user-space buffers: shutil, go build's cache, cp */
    "copy_file_range",
    "sendfile",
    "splice",
    "tee",
    /* paths and metadata: interpreters' module search, compilers' outputs, os/fs APIs */
    "open",
    "openat",
    "openat2",
    "creat",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "mknod",
    "mknodat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "umask",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    /* extended attributes: shutil.copy2, cp -a, ls */
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    /* file watching: node's fs.watch, R's and Python's reloaders */
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    /* memory: malloc, the JVM's, V8's and Go's heaps, JIT code, numpy/OpenBLAS NUMA */
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "msync",
    "mincore",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
    "membarrier",
    "memfd_create",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "get_mempolicy",
    "set_mempolicy",
    "mbind",
    /* processes and threads (clone: add_rules checks its flags) */
    "execve",
    "execveat",
    "fork",
    "vfork",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "futex",
    "arch_prctl",
    "prctl",
    "getpid",
    "getppid",
    "gettid",
    "getpgrp",
    "getpgid",
    "setpgid",
    "getsid",
    "setsid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "capget",
    "pidfd_open",
    "pidfd_send_signal",
    /* scheduling and limits: thread pools size themselves, runtimes read their limits */
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "getpriority",
    "setpriority",
    "getcpu",
    "prlimit64",
    "getrlimit",
    "setrlimit",
    "getrusage",
    "times",
    "sysinfo",
    "uname",
    "getrandom",
    /* signals: runtimes' handlers, alternate stacks, thread signalling, timeouts */
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "kill",
    "tgkill",
    "tkill",
    "signalfd",
    "signalfd4",
    "pause",
    "alarm",
    "getitimer",
    "setitimer",
    "restart_syscall",
    /* time: clocks (when the vDSO does not answer), sleeps, timers */
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "time",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    /* ipc and event loops: pipes to children, libuv, Go's netpoller, asyncio */
    "pipe",
    "pipe2",
    "eventfd",
    "eventfd2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    /* net: AF_UNIX sockets (socket/socketpair: add_rules checks the family) */
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "getsockname",
    "getpeername",
    "setsockopt",
    "getsockopt",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
};

/* What a call off the allowlist gets. A measurement build (make
 * CFLAGS='-O2 -g -DKCR_SECCOMP_LOG_UNLISTED' BUILD=build-seccomp-log
 * binaries-only) allows and logs them instead (kernel audit record type=1326
 * in dmesg, syscall=NR), to find what a program needs under the real sandbox;
 * never ship one. */
#ifdef KCR_SECCOMP_LOG_UNLISTED
#define UNLISTED_ACTION SCMP_ACT_LOG
#else
#define UNLISTED_ACTION SCMP_ACT_ERRNO(ENOSYS)
#endif

static const unsigned long clone_ns_flags[] = {
    CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
    CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
};

const char *const *seccomp_policy_denied(size_t *ret_count)
{
    *ret_count = sizeof(denied) / sizeof(denied[0]);
    return denied;
}

const char *const *seccomp_policy_allowed(size_t *ret_count)
{
    *ret_count = sizeof(allowed) / sizeof(allowed[0]);
    return allowed;
}

/* A name unknown to this architecture (vm86 on x86_64, open on aarch64) is
 * skipped: it answers the default ENOSYS, as the kernel itself would. */
static int rule_name(scmp_filter_ctx ctx, const char *name, uint32_t action)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR || nr < 0)
        return 0;
    return seccomp_rule_add(ctx, action, nr, 0);
}

static int add_rules(scmp_filter_ctx ctx)
{
    int r;
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
        if ((r = rule_name(ctx, denied[i], SCMP_ACT_ERRNO(EPERM))) < 0)
            return r;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if ((r = rule_name(ctx, allowed[i], SCMP_ACT_ALLOW)) < 0)
            return r;
    /* clone3 is not allowed: ENOSYS, the default, so libc falls back to
     * clone(), whose flags a classic BPF filter can inspect. One rule per
     * flag: libseccomp allows a single comparison per argument in a rule, and
     * rules for the same call are OR-ed; clone without any of them is allowed. */
    if (UNLISTED_ACTION != SCMP_ACT_ERRNO(ENOSYS) &&
        (r = rule_name(ctx, "clone3", SCMP_ACT_ERRNO(ENOSYS))) < 0)
        return r;
    unsigned long all_ns = 0;
    for (size_t i = 0; i < sizeof(clone_ns_flags) / sizeof(clone_ns_flags[0]); i++) {
        all_ns |= clone_ns_flags[i];
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
        if (r < 0)
            return r;
    }
    r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, all_ns, 0));
    if (r < 0)
        return r;
    /* socket()/socketpair(): AF_UNIX only (the pod has no network anyway). */
    static const int socket_calls[] = {SCMP_SYS(socket), SCMP_SYS(socketpair)};
    for (size_t i = 0; i < sizeof(socket_calls) / sizeof(socket_calls[0]); i++) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), socket_calls[i], 1,
                             SCMP_A0(SCMP_CMP_NE, AF_UNIX));
        if (r == 0)
            r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, socket_calls[i], 1,
                                 SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
        if (r < 0)
            return r;
    }
    return 0;
}

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* personality(): allow exactly 0 and the 0xffffffff query, EPERM otherwise.
 * libseccomp cannot express "arg != a && arg != b" (one comparison per
 * argument per rule), so the main filter allows personality() and this small
 * classic BPF program is stacked on top (loaded with prctl(), which the main
 * filter allows); the kernel applies the most restrictive verdict of all filters. The kernel reads
 * the argument as unsigned int, so only its low 32 bits are compared. */
static int load_personality_filter(void)
{
#ifdef NATIVE_AUDIT_ARCH
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), /* the main filter kills it */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffU, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = {.len = sizeof(prog) / sizeof(prog[0]), .filter = prog};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0)
        return -errno;
#endif
    return 0;
}

/* The libseccomp part of the policy (the personality filter is separate). */
static scmp_filter_ctx policy_new(int *ret)
{
    scmp_filter_ctx ctx = seccomp_init(UNLISTED_ACTION);
    if (!ctx) {
        *ret = -ENOMEM;
        return NULL;
    }
    int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    /* no_new_privs is set by the caller as its own, earlier step. */
    if (r == 0)
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (r == 0)
        r = add_rules(ctx);
#ifdef NATIVE_AUDIT_ARCH
    /* Allowed here, restricted by the stacked filter. */
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 0);
#else
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                             SCMP_A0(SCMP_CMP_NE, 0));
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                             SCMP_A0(SCMP_CMP_EQ, 0));
#endif
    *ret = r;
    if (r < 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

_Static_assert(sizeof(((struct kcr_seccomp_filter *)0)->insns[0]) == sizeof(struct sock_filter),
               "struct kcr_seccomp_filter mirrors struct sock_filter");

int seccomp_policy_compile(struct kcr_seccomp_filter *out)
{
    /* libseccomp 2.5 exports only to an fd (seccomp_export_bpf_mem is 2.6). */
    int fd = memfd_create("kcr-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = seccomp_policy_export_bpf(fd);
    off_t len = r < 0 ? 0 : lseek(fd, 0, SEEK_END);
    if (r == 0 &&
        (len <= 0 || len % (off_t)sizeof(struct sock_filter) || len > (off_t)sizeof(out->insns)))
        r = len < 0 ? -errno : -E2BIG;
    size_t got = 0;
    while (r == 0 && got < (size_t)len) {
        ssize_t n = pread(fd, (char *)out->insns + got, (size_t)len - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            r = n < 0 ? -errno : -EIO;
        else
            got += (size_t)n;
    }
    close(fd);
    out->len = r == 0 ? (unsigned)((size_t)len / sizeof(struct sock_filter)) : 0;
    return r;
}

int seccomp_policy_load(const struct kcr_seccomp_filter *f)
{
    if (f->len == 0 || f->len > KCR_SECCOMP_MAX_INSNS)
        return -EINVAL;
    /* What seccomp_load does with this context's attributes (no TSYNC, no
     * logging, no_new_privs set by the caller): one SECCOMP_MODE_FILTER. */
    struct sock_fprog prog = {.len = (unsigned short)f->len,
                              .filter = (struct sock_filter *)(void *)f->insns};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        return -errno;
    return load_personality_filter();
}

int seccomp_apply_policy(void)
{
    struct kcr_seccomp_filter *f = malloc(sizeof(*f));
    if (!f)
        return -ENOMEM;
    int r = seccomp_policy_compile(f);
    if (r == 0)
        r = seccomp_policy_load(f);
    free(f);
    return r;
}

int seccomp_policy_export_bpf(int fd)
{
    int r;
    scmp_filter_ctx ctx = policy_new(&r);
    if (!ctx)
        return r;
    r = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    return r;
}
