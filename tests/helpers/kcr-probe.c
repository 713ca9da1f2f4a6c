/* kcr-probe — a static test helper that runs inside sandboxes and pods.
 * Tests run it as user code and assert on what it prints. Output is one line
 * per fact, "key: value", unless noted. Subcommands (keep them stable; add new
 * ones freely):
 *
 *   uid                 "uid=R/E gid=R/E groups=N"
 *   caps                CapInh/CapPrm/CapEff/CapBnd/CapAmb, NoNewPrivs, Seccomp
 *                       lines of /proc/self/status
 *   fds                 "fds: 0 1 2" — every open fd (the listing's own fd excluded)
 *   env                 the environment, one VAR=value per line
 *   pid                 "pid=N ppid=N"
 *   ps                  "pids: 1 5 ..." — numeric entries of /proc
 *   mounts              /proc/self/mountinfo
 *   oom-adj             "oom_score_adj: N"
 *   rlimits             "cpu=.. fsize=.. nofile=.. nproc=.. core=.." (soft, -1 = unlimited)
 *   try-syscall NAME    makes the call with harmless arguments and prints
 *                       "NAME: ok" or "NAME: ERRNONAME" (EPERM, ENOSYS, ...);
 *                       exit 0 if it succeeded, 1 if refused. NAMEs: ptrace,
 *                       process_vm_readv, mount, umount2, pivot_root, unshare,
 *                       setns, keyctl, add_key, bpf, perf_event_open, userfaultfd,
 *                       io_uring_setup, kexec_load, init_module, chroot, reboot,
 *                       clone-newns, clone-newuser, clone3, fork, personality,
 *                       personality-query, socket-inet, socket-inet6, socket-unix,
 *                       socket-netlink, socket-alg, socket-vsock, socketpair-unix,
 *                       socketpair-inet, open_tree, fsopen, swapon, acct,
 *                       settimeofday, syslog, int80 (x86_64: an i386 syscall),
 *                       x32 (x86_64: an x32-ABI syscall)
 *   kill PID [SIG]      "kill PID SIG: ok|ERRNONAME" (SIG default 9)
 *   ptrace PID          "ptrace PID: ok|ERRNONAME" (PTRACE_ATTACH)
 *   read FILE           copies FILE to stdout; "read FILE: ERRNONAME" + exit 1 on failure
 *   write FILE TEXT     writes TEXT to FILE; "write FILE: ok|ERRNONAME"
 *   exit N              exits with status N
 *   signal N            raises signal N (default action)
 *   segv                dereferences NULL
 *   sleep [S|infinity]  sleeps (default forever)
 *   spin                burns CPU forever
 *   hold MARKER         ignores SIGTERM and sleeps forever (MARKER shows in cmdline)
 *   forktree N MARKER   forks N children that each ignore SIGTERM and sleep
 *                       (all carry MARKER in their cmdline), then sleeps
 *   daemon MARKER       forks a setsid()'d child that ignores SIGTERM and
 *                       sleeps; the parent exits 0 at once
 *   forkbomb [N]        forks as fast as possible up to N (default unbounded)
 *                       children; prints "forked: K" and the first error
 *   memhog MB           allocates and touches MB MiB, prints "allocated: MB"
 *   flood BYTES         writes BYTES bytes of 'x' lines to stdout
 *   flood-err BYTES     the same on stderr
 *   cat                 copies stdin to stdout
 *   echo ARGS...        prints the arguments, one per line
 *   run-as UID GID PROG ARGS...
 *                       drops supplementary groups, becomes UID/GID and execs
 *                       PROG (the test harness's main containers, which have
 *                       no setpriv with --reuid)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *errname(int e)
{
    switch (e) {
    case EPERM:
        return "EPERM";
    case ENOSYS:
        return "ENOSYS";
    case EACCES:
        return "EACCES";
    case EAFNOSUPPORT:
        return "EAFNOSUPPORT";
    case EINVAL:
        return "EINVAL";
    case ESRCH:
        return "ESRCH";
    case ENOENT:
        return "ENOENT";
    case EFAULT:
        return "EFAULT";
    case EBADF:
        return "EBADF";
    case EAGAIN:
        return "EAGAIN";
    case ENOMEM:
        return "ENOMEM";
    case EROFS:
        return "EROFS";
    case EEXIST:
        return "EEXIST";
    case ENOTDIR:
        return "ENOTDIR";
    case EPROTONOSUPPORT:
        return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT:
        return "ESOCKTNOSUPPORT";
    case EOPNOTSUPP:
        return "EOPNOTSUPP";
    default: {
        static char buf[32];
        snprintf(buf, sizeof(buf), "E%d", e);
        return buf;
    }
    }
}

static void print_status_lines(const char *const *keys)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[512];
    if (!f) {
        printf("status: %s\n", errname(errno));
        return;
    }
    while (fgets(line, sizeof(line), f))
        for (const char *const *k = keys; *k; k++)
            if (!strncmp(line, *k, strlen(*k)) && line[strlen(*k)] == ':')
                fputs(line, stdout);
    fclose(f);
}

static int cmd_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        printf("fds: %s\n", errname(errno));
        return 1;
    }
    int self = dirfd(d);
    struct dirent *de;
    printf("fds:");
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && atoi(de->d_name) != self)
            printf(" %s", de->d_name);
    printf("\n");
    closedir(d);
    return 0;
}

static long try_call(const char *name)
{
    char buf[64] = {0};
    if (!strcmp(name, "ptrace"))
        return ptrace(PTRACE_ATTACH, 1, NULL, NULL);
    if (!strcmp(name, "process_vm_readv")) {
        struct iovec l = {buf, 8}, r = {buf, 8};
        return syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0);
    }
    if (!strcmp(name, "mount"))
        return mount("none", "/tmp", "tmpfs", 0, NULL);
    if (!strcmp(name, "umount2"))
        return umount2("/proc", MNT_DETACH);
    if (!strcmp(name, "pivot_root"))
        return syscall(SYS_pivot_root, "/tmp", "/tmp");
    if (!strcmp(name, "unshare"))
        return unshare(CLONE_NEWUSER);
    if (!strcmp(name, "setns"))
        return setns(open("/proc/self/ns/mnt", O_RDONLY), 0);
    if (!strcmp(name, "keyctl"))
        return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
    if (!strcmp(name, "add_key"))
        return syscall(SYS_add_key, "user", "kcr", "x", 1, -3);
    if (!strcmp(name, "bpf"))
        return syscall(SYS_bpf, 0, buf, 0);
    if (!strcmp(name, "perf_event_open"))
        return syscall(SYS_perf_event_open, buf, 0, -1, -1, 0);
    if (!strcmp(name, "userfaultfd"))
        return syscall(SYS_userfaultfd, 0);
    if (!strcmp(name, "io_uring_setup"))
        return syscall(SYS_io_uring_setup, 1, buf);
    if (!strcmp(name, "kexec_load"))
        return syscall(SYS_kexec_load, 0, 0, NULL, 0);
    if (!strcmp(name, "init_module"))
        return syscall(SYS_init_module, buf, 0, "");
    if (!strcmp(name, "chroot"))
        return chroot("/");
    if (!strcmp(name, "reboot"))
        return syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic: EINVAL if allowed */
    if (!strcmp(name, "open_tree"))
        return syscall(SYS_open_tree, AT_FDCWD, "/", 0);
    if (!strcmp(name, "fsopen"))
        return syscall(SYS_fsopen, "tmpfs", 0);
    if (!strcmp(name, "swapon"))
        return syscall(SYS_swapon, "/nonexistent", 0);
    if (!strcmp(name, "acct"))
        return syscall(SYS_acct, NULL);
    if (!strcmp(name, "settimeofday"))
        return syscall(SYS_settimeofday, NULL, NULL);
    if (!strcmp(name, "syslog"))
        return syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0);
    if (!strcmp(name, "personality"))
        return personality(ADDR_NO_RANDOMIZE);
    if (!strcmp(name, "personality-query"))
        return personality(0xffffffff);
    if (!strcmp(name, "socket-inet"))
        return socket(AF_INET, SOCK_STREAM, 0);
    if (!strcmp(name, "socket-inet6"))
        return socket(AF_INET6, SOCK_DGRAM, 0);
    if (!strcmp(name, "socket-unix"))
        return socket(AF_UNIX, SOCK_STREAM, 0);
    if (!strcmp(name, "socket-netlink"))
        return socket(AF_NETLINK, SOCK_RAW, 0);
    if (!strcmp(name, "socket-alg"))
        return socket(AF_ALG, SOCK_SEQPACKET, 0);
    if (!strcmp(name, "socket-vsock"))
        return socket(AF_VSOCK, SOCK_STREAM, 0);
    if (!strcmp(name, "socketpair-unix")) {
        int sv[2];
        return socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    }
    if (!strcmp(name, "socketpair-inet")) {
        int sv[2];
        return socketpair(AF_INET, SOCK_STREAM, 0, sv);
    }
    if (!strcmp(name, "clone-newns") || !strcmp(name, "clone-newuser") || !strcmp(name, "fork")) {
        unsigned long fl = SIGCHLD;
        if (!strcmp(name, "clone-newns"))
            fl |= CLONE_NEWNS;
        else if (!strcmp(name, "clone-newuser"))
            fl |= CLONE_NEWUSER;
        long p = syscall(SYS_clone, fl, 0, NULL, NULL, 0);
        if (p == 0)
            _exit(0);
        if (p > 0)
            waitpid((pid_t)p, NULL, 0);
        return p;
    }
#if defined(__x86_64__)
    if (!strcmp(name, "int80")) {
        /* i386 getpid (20) through the 32-bit entry: a foreign architecture */
        long ret = 20;
        __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
        return ret;
    }
    if (!strcmp(name, "x32"))
        return syscall(0x40000000 | SYS_getpid); /* the x32 ABI: also foreign */
#endif
    if (!strcmp(name, "clone3")) {
        struct clone_args ca = {.exit_signal = SIGCHLD};
        long p = syscall(SYS_clone3, &ca, sizeof(ca));
        if (p == 0)
            _exit(0);
        if (p > 0)
            waitpid((pid_t)p, NULL, 0);
        return p;
    }
    errno = EINVAL;
    fprintf(stderr, "unknown syscall name %s\n", name);
    exit(2);
}

static int cmd_try(const char *name)
{
    errno = 0;
    long r = try_call(name);
    if (r >= 0) {
        printf("%s: ok\n", name);
        return 0;
    }
    printf("%s: %s\n", name, errname(errno));
    return 1;
}

__attribute__((noreturn)) static void ignore_term_and_sleep(void)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    for (;;)
        pause();
}

__attribute__((noreturn)) static void cmd_forkbomb(long max)
{
    long n = 0;
    for (; max <= 0 || n < max; n++) {
        pid_t p = fork();
        if (p < 0) {
            printf("forked: %ld\nerror: %s\n", n, errname(errno));
            fflush(stdout);
            break;
        }
        if (p == 0)
            ignore_term_and_sleep();
    }
    printf("forked: %ld\n", n);
    fflush(stdout);
    for (;;)
        pause();
}

static int cmd_memhog(long mb)
{
    for (long i = 0; i < mb; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("allocated: %ld\nerror: ENOMEM\n", i);
            return 1;
        }
        memset(p, 0x5a, 1 << 20);
    }
    printf("allocated: %ld\n", mb);
    return 0;
}

static int cmd_flood(FILE *out, long long bytes)
{
    char line[1024];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';
    while (bytes > 0) {
        size_t n = bytes > (long long)sizeof(line) ? sizeof(line) : (size_t)bytes;
        if (fwrite(line, 1, n, out) != n)
            return 1;
        bytes -= (long long)n;
    }
    return 0;
}

static void print_limit(const char *name, int res)
{
    struct rlimit r;
    getrlimit(res, &r);
    printf("%s=%lld ", name, r.rlim_cur == RLIM_INFINITY ? -1LL : (long long)r.rlim_cur);
}

static int cmd_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("read %s: %s\n", path, errname(errno));
        return 1;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    if (n < 0) {
        printf("read %s: %s\n", path, errname(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(cmd, "uid")) {
        printf("uid=%d/%d gid=%d/%d groups=%d\n", getuid(), geteuid(), getgid(), getegid(),
               getgroups(0, NULL));
        return 0;
    }
    if (!strcmp(cmd, "caps")) {
        static const char *const keys[] = {"CapInh", "CapPrm",     "CapEff",  "CapBnd",
                                           "CapAmb", "NoNewPrivs", "Seccomp", NULL};
        print_status_lines(keys);
        return 0;
    }
    if (!strcmp(cmd, "fds"))
        return cmd_fds();
    if (!strcmp(cmd, "env")) {
        extern char **environ;
        for (char **e = environ; *e; e++)
            printf("%s\n", *e);
        return 0;
    }
    if (!strcmp(cmd, "pid")) {
        printf("pid=%d ppid=%d\n", getpid(), getppid());
        return 0;
    }
    if (!strcmp(cmd, "ps")) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        printf("pids:");
        while (d && (de = readdir(d)))
            if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
                printf(" %s", de->d_name);
        printf("\n");
        return 0;
    }
    if (!strcmp(cmd, "mounts"))
        return cmd_read("/proc/self/mountinfo");
    if (!strcmp(cmd, "oom-adj")) {
        printf("oom_score_adj: ");
        fflush(stdout);
        return cmd_read("/proc/self/oom_score_adj");
    }
    if (!strcmp(cmd, "rlimits")) {
        print_limit("cpu", RLIMIT_CPU);
        print_limit("fsize", RLIMIT_FSIZE);
        print_limit("nofile", RLIMIT_NOFILE);
        print_limit("nproc", RLIMIT_NPROC);
        print_limit("core", RLIMIT_CORE);
        printf("\n");
        return 0;
    }
    if (!strcmp(cmd, "try-syscall") && arg)
        return cmd_try(arg);
    if (!strcmp(cmd, "kill") && arg) {
        int sig = argc > 3 ? atoi(argv[3]) : 9;
        int r = kill(atoi(arg), sig);
        printf("kill %s %d: %s\n", arg, sig, r == 0 ? "ok" : errname(errno));
        return r == 0 ? 0 : 1;
    }
    if (!strcmp(cmd, "ptrace") && arg) {
        long r = ptrace(PTRACE_ATTACH, atoi(arg), NULL, NULL);
        printf("ptrace %s: %s\n", arg, r == 0 ? "ok" : errname(errno));
        return r == 0 ? 0 : 1;
    }
    if (!strcmp(cmd, "read") && arg)
        return cmd_read(arg);
    if (!strcmp(cmd, "write") && arg && argc > 3) {
        int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int ok = fd >= 0 && write(fd, argv[3], strlen(argv[3])) >= 0;
        printf("write %s: %s\n", arg, ok ? "ok" : errname(errno));
        return ok ? 0 : 1;
    }
    if (!strcmp(cmd, "exit"))
        return arg ? atoi(arg) : 0;
    if (!strcmp(cmd, "signal") && arg) {
        signal(atoi(arg), SIG_DFL);
        raise(atoi(arg));
        return 0;
    }
    if (!strcmp(cmd, "segv")) {
        volatile int *p = NULL;
        return *p;
    }
    if (!strcmp(cmd, "sleep")) {
        if (arg && strcmp(arg, "infinity") != 0) {
            sleep((unsigned)atoi(arg));
            return 0;
        }
        for (;;)
            pause();
    }
    if (!strcmp(cmd, "spin"))
        for (volatile unsigned long i = 0;; i++)
            ;
    if (!strcmp(cmd, "hold"))
        ignore_term_and_sleep();
    if (!strcmp(cmd, "forktree") && arg) {
        long n = atol(arg);
        for (long i = 0; i < n; i++)
            if (fork() == 0)
                ignore_term_and_sleep();
        printf("forked: %ld\n", n);
        ignore_term_and_sleep();
    }
    if (!strcmp(cmd, "daemon")) {
        pid_t p = fork();
        if (p == 0) {
            setsid();
            if (fork() == 0) {
                close(0);
                close(1);
                close(2);
                ignore_term_and_sleep();
            }
            _exit(0);
        }
        waitpid(p, NULL, 0);
        printf("daemonized\n");
        return 0;
    }
    if (!strcmp(cmd, "forkbomb"))
        cmd_forkbomb(arg ? atol(arg) : 0);
    if (!strcmp(cmd, "memhog") && arg)
        return cmd_memhog(atol(arg));
    if (!strcmp(cmd, "flood") && arg)
        return cmd_flood(stdout, atoll(arg));
    if (!strcmp(cmd, "flood-err") && arg)
        return cmd_flood(stderr, atoll(arg));
    if (!strcmp(cmd, "cat")) {
        char buf[65536];
        ssize_t n;
        while ((n = read(0, buf, sizeof(buf))) > 0)
            if (write(1, buf, (size_t)n) != n)
                return 1;
        return 0;
    }
    if (!strcmp(cmd, "run-as") && argc > 4) {
        uid_t uid = (uid_t)atol(argv[2]);
        gid_t gid = (gid_t)atol(argv[3]);
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
            setresuid(uid, uid, uid) < 0) {
            fprintf(stderr, "run-as: %s\n", errname(errno));
            return 126;
        }
        execvp(argv[4], argv + 4);
        fprintf(stderr, "run-as: exec '%s': %s\n", argv[4], errname(errno));
        return 127;
    }
    if (!strcmp(cmd, "echo")) {
        for (int i = 2; i < argc; i++)
            printf("%s\n", argv[i]);
        return 0;
    }
    fprintf(stderr, "kcr-probe: unknown subcommand '%s'\n", cmd);
    return 2;
}
