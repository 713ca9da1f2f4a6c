#include "sidecar/forkserver-child.h"
#include "sidecar/forkserver-proto.h"
#include "sidecar/nsexec-report.h"
#include "sandbox/caps.h"
#include "sandbox/rlimit.h"
#include "sandbox/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_HIER 8

/* The template's configuration: set once before it forks anything. */
static struct {
    char parent[64];
    int fds[MAX_HIER];
    int is_v1[MAX_HIER];
    int n;
    int own_pidns; /* the template's pid namespace, to return to after a fork */
    /* Compiled once here: compiling in each program (libseccomp allocates
     * and frees thousands of blocks) would write to, and so copy, heap
     * pages of the template all over (perf: ~4 % of all CPU at 4 clients). */
    struct kcr_seccomp_filter filter;
} conf;

static int status(int fd, int step, int value)
{
    struct forkserver_status s = {step, value};
    ssize_t n;
    do
        n = write(fd, &s, sizeof(s));
    while (n < 0 && errno == EINTR);
    return -1;
}

static bool safe_name(const char *s, size_t n)
{
    if (n == 0 || n >= 64 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '-' || s[i] == '_' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9') ||
              (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

int forkserver_config(const char *parent, const int *dir_fds, const int *is_v1, int n)
{
    if (!parent || !safe_name(parent, strlen(parent)) || n < 1 || n > MAX_HIER)
        return -EINVAL;
    snprintf(conf.parent, sizeof(conf.parent), "%s", parent);
    for (int i = 0; i < n; i++) {
        conf.fds[i] = dir_fds[i];
        conf.is_v1[i] = is_v1[i];
    }
    conf.own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (conf.own_pidns < 0)
        return -errno;
    int r = seccomp_policy_compile(&conf.filter);
    if (r < 0)
        return r;
    conf.n = n;
    return 0;
}

/* Reads /proc/<pid>/<file> (bounded, NUL-terminated). */
static int read_proc(int pid, const char *file, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return 0;
}

/* The peer must be kcr-nsexec's init: not root, CAP_SYS_ADMIN effective
 * (only kcr-nsexec has it in a pod; the sidecar and user code never do). */
static int check_peer_creds(int pid)
{
    char st[4096];
    int r = read_proc(pid, "status", st, sizeof(st));
    if (r < 0)
        return r;
    const char *uid = strstr(st, "\nUid:"), *eff = strstr(st, "\nCapEff:");
    if (!uid || !eff)
        return -EPERM;
    unsigned long real = strtoul(uid + 5, NULL, 10);
    unsigned long long caps = strtoull(eff + 8, NULL, 16);
    if (real == 0 || !(caps & (1ULL << CAP_SYS_ADMIN)))
        return -EPERM;
    return 0;
}

/* The pod id: every hierarchy line of /proc/<pid>/cgroup that is below
 * /<parent>/ must name the same /<parent>/<id>, and at least one must. */
static int peer_pod_id(int pid, char *id, size_t size)
{
    char cg[4096];
    int r = read_proc(pid, "cgroup", cg, sizeof(cg));
    if (r < 0)
        return r;
    size_t plen = strlen(conf.parent);
    id[0] = '\0';
    for (char *line = cg, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *path = strchr(line, ':');
        path = path ? strchr(path + 1, ':') : NULL;
        if (!path || path[1] != '/' || strncmp(path + 2, conf.parent, plen) ||
            path[2 + plen] != '/')
            continue;
        const char *name = path + 3 + plen;
        size_t n = strlen(name);
        if (!safe_name(name, n) || n >= size || (id[0] && strcmp(id, name)))
            return -EPERM;
        memcpy(id, name, n + 1);
    }
    return id[0] ? 0 : -EPERM;
}

static int open_beneath(int dirfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd;
    do
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    while (fd < 0 && errno == EINTR);
    if (fd < 0 && errno == ENOSYS)
        return openat(dirfd, path, flags | O_CLOEXEC | O_NOFOLLOW);
    return (int)fd;
}

/* Writing "0" moves the writer (single-threaded here) into the cgroup. */
static int join_cgroups(const char *id)
{
    for (int i = 0; i < conf.n; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", id, conf.is_v1[i] ? "tasks" : "cgroup.procs");
        int fd = open_beneath(conf.fds[i], path, O_WRONLY);
        if (fd < 0)
            return -errno;
        ssize_t n;
        do
            n = write(fd, "0", 1);
        while (n < 0 && errno == EINTR);
        int e = errno;
        close(fd);
        if (n != 1)
            return -e;
    }
    return 0;
}

static int still_running(int pidfd)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    int r = poll(&p, 1, 0);
    return r == 0 ? 0 : r < 0 ? -errno : -ESRCH;
}

int forkserver_check(int peer, char *id, int id_size)
{
    int r;
    if (conf.n == 0 || id_size < 2)
        return -EINVAL;
    int pidfd = (int)syscall(SYS_pidfd_open, peer, 0);
    if (pidfd < 0)
        return -errno;
    /* Read through /proc after the pidfd pins the process; a pidfd that is
     * not readable yet then proves the pid still names that process. */
    if ((r = check_peer_creds(peer)) < 0 || (r = peer_pod_id(peer, id, (size_t)id_size)) < 0 ||
        (r = still_running(pidfd)) < 0) {
        close(pidfd);
        return r;
    }
    return pidfd;
}

static int set_pidns(int pidfd)
{
    return setns(pidfd >= 0 ? pidfd : conf.own_pidns, CLONE_NEWPID) < 0 ? -errno : 0;
}

/* In the entrant: into pod id's cgroups, then setns() into peer's mount,
 * net, ipc, uts and cgroup namespaces. Returns 0 or -1 (status written). */
static int enter_pod(int pidfd, const char *id, int status_fd)
{
    int r;
    /* Before setns(CLONE_NEWCGROUP): a cgroup2 move must stay below the
     * writer's cgroup namespace root. */
    if ((r = join_cgroups(id)) < 0)
        return status(status_fd, NSEXEC_STEP_CGROUP, -r);
    int flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
    if (setns(pidfd, flags) < 0)
        return status(status_fd, NSEXEC_STEP_SETNS, errno);
    return 0;
}

int forkserver_spawn(int pidfd, const char *id, int status_fd)
{
    if (!id || !safe_name(id, strlen(id)) || status_fd < 0)
        return -EINVAL;
    /* The entrant runs on this stack while we are suspended: no signal
     * handler of ours may run there. The program restores the mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = set_pidns(pidfd);
    pid_t pid = r < 0 ? -1 : vfork();
    if (pid == 0) {
        /* The entrant: pid 2 of init's namespace, sharing our memory, so it
         * costs no copy of the template; it only makes system calls. _Fork
         * (no atfork handlers, nothing written to our memory) gives the
         * program its own copy, with its thread id and robust-futex list
         * set as fork() would. */
        if (enter_pod(pidfd, id, status_fd) < 0)
            _exit(127);
        pid_t prog = _Fork();
        if (prog == 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            return 1;
        }
        if (prog < 0)
            (void)status(status_fd, NSEXEC_STEP_FORK, errno);
        _exit(prog < 0 ? 127 : 0);
    }
    int e = errno;
    /* Back to our own pid namespace for later children; a template that
     * cannot would start the next pod's entrant in this pod. */
    if (r == 0 && set_pidns(-1) < 0)
        _exit(1);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r < 0)
        return r;
    if (pid < 0)
        return -e;
    /* The entrant has exited or the vfork would not have returned: reaped
     * now, so no zombie shows as pid 2 in the program's /proc or counts
     * against pids.max. Its failures went to the status pipe. */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

static bool is_pipe(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

int forkserver_drop(int status_fd, int in, int out, int err, const char *wd, unsigned uid,
                    unsigned gid, unsigned long long cpu_s, unsigned long long fsize,
                    unsigned long long nofile, unsigned long long nproc)
{
    const char *what = NULL;
    int r;
    (void)status(status_fd, FORKSERVER_HELLO, (int)getpid());
    if (status_fd < 3 || in < 3 || out < 3 || err < 3 || !is_pipe(in) || !is_pipe(out) ||
        !is_pipe(err) || uid == 0 || gid == 0 || !wd || wd[0] != '/')
        return status(status_fd, NSEXEC_STEP_ARGS, EINVAL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        return status(status_fd, NSEXEC_STEP_CLOSE_FDS, errno);
    if (status_fd > 3 && close_range(3, (unsigned)status_fd - 1, 0) < 0)
        return status(status_fd, NSEXEC_STEP_CLOSE_FDS, errno);
    if (close_range((unsigned)status_fd + 1, ~0U, 0) < 0)
        return status(status_fd, NSEXEC_STEP_CLOSE_FDS, errno);
    if ((r = caps_drop_all(uid, gid, &what)) < 0)
        return status(status_fd, NSEXEC_STEP_DROP_PRIVS, -r);
    /* RLIMIT_NPROC bounds a program's own processes only in a user namespace
     * of its own (rlimit.h), which kcr-nsexec's programs get from
     * caps_drop_all; as root we got none. Made now, as the final uid, with
     * the capabilities it grants inside dropped again at once (also when
     * it failed half-way); without one the pod's pids cgroup is the bound. */
    if (nproc && rlimit_nproc_per_userns()) {
        if (caps_enter_own_userns() < 0)
            nproc = 0;
        if ((r = caps_drop_all(uid, gid, &what)) < 0)
            return status(status_fd, NSEXEC_STEP_DROP_PRIVS, -r);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return status(status_fd, NSEXEC_STEP_NO_NEW_PRIVS, errno);
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (oom < 0 || write(oom, "1000", 4) != 4)
        return status(status_fd, NSEXEC_STEP_OOM_ADJ, errno);
    close(oom);
    struct kcr_rlimits lim = {.cpu_s = cpu_s, .fsize = fsize, .nofile = nofile, .nproc = nproc};
    if ((r = rlimit_apply(&lim)) < 0)
        return status(status_fd, NSEXEC_STEP_RLIMIT, -r);
    /* As the final uid, like nsexec's --wd (a path inside the container). */
    if (chdir(wd) < 0)
        return status(status_fd, NSEXEC_STEP_CHDIR, errno);
    if ((r = seccomp_policy_load(&conf.filter)) < 0)
        return status(status_fd, NSEXEC_STEP_SECCOMP, -r);
    close(status_fd);
    return 0;
}

void forkserver_exit(int status)
{
    /* Closed first: the sidecar's EOF on the output pipes must not wait for
     * this process, which is about to spend milliseconds unmapping. */
    for (int fd = 0; fd <= 2; fd++)
        (void)close(fd);
    union sigval v = {.sival_int = status & 0xff};
    (void)sigqueue(1, NSEXEC_DONE_SIGNAL, v);
    _exit(status);
}
