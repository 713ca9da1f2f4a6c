#include "sidecar/nsexec-init.h"
#include "sidecar/forkserver-proto.h"
#include "sidecar/nsexec-report.h"
#include "sandbox/caps.h"
#include "sandbox/procmask.h"
#include "sandbox/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* A setup failure of the user program: the fork-server's status record. */
#define step_error          forkserver_status
#define FORKSERVER_REPLY_MS 5000

/*** The user program (between fork and exec) ***/

/* Failure before exec: tell init through the close-on-exec pipe; EOF on that
 * pipe means exec happened (libuv's spawn protocol). */
__attribute__((noreturn)) static void child_fail(int errfd, int step, int errnum)
{
    struct step_error e = {step, errnum};
    ssize_t n;
    do {
        n = write(errfd, &e, sizeof(e));
    } while (n < 0 && errno == EINTR);
    _exit(127);
}

int nsexec_init_resolve(const char *name, const char *path, char *out, size_t size)
{
    if (!*name)
        return -ENOENT;
    if (strchr(name, '/')) {
        if ((size_t)snprintf(out, size, "%s", name) >= size)
            return -ENAMETOOLONG;
        return 0;
    }
    int err = -ENOENT;
    const char *p = path && *path ? path : DEFAULT_PATH;
    while (p) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        int n = dlen ? snprintf(out, size, "%.*s/%s", (int)dlen, p, name)
                     : snprintf(out, size, "%s", name);
        p = colon ? colon + 1 : NULL;
        if (n < 0 || (size_t)n >= size)
            continue;
        struct stat st;
        if (stat(out, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (access(out, X_OK) == 0)
            return 0;
        err = -EACCES;
    }
    return err;
}

int nsexec_close_all_but(int a, int b)
{
    int keep[2] = {a < b ? a : b, a < b ? b : a};
    unsigned from = 3;
    for (int i = 0; i < 2; i++) {
        if (keep[i] < 3)
            continue;
        if ((unsigned)keep[i] > from && close_range(from, (unsigned)keep[i] - 1, 0) < 0)
            return -errno;
        from = (unsigned)keep[i] + 1;
    }
    return close_range(from, ~0U, 0) < 0 ? -errno : 0;
}

/* The order matters:
 *   - fds first, so nothing privileged leaks even if a later step fails;
 *   - ids and capabilities together (caps_drop_all orders them);
 *   - no_new_privs before seccomp (required without CAP_SYS_ADMIN);
 *   - oom_score_adj after the uid change, once dumpable again: raising it needs
 *     no privilege, but /proc/self files of a non-dumpable process are root's;
 *   - PATH lookup as the final uid, so access() answers for that user;
 *   - seccomp last: it refuses calls the earlier steps make. */
__attribute__((noreturn)) static void child_main(const struct nsexec_plan *plan, int errfd,
                                                 bool own_userns)
{
    int r;
    /* init blocks the signals it waits for: the program starts with none. */
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    if ((r = nsexec_close_all_but(errfd, plan->pass_fd)) < 0)
        child_fail(errfd, NSEXEC_STEP_CLOSE_FDS, -r);
    /* The pass fd crosses execve and goes on to the program's children. */
    if (plan->pass_fd >= 0 && fcntl(plan->pass_fd, F_SETFD, 0) < 0)
        child_fail(errfd, NSEXEC_STEP_CLOSE_FDS, errno);
    /* init dropped every privilege before it forked us (init_drop): a
     * capability left here would be a bug, so it is checked, not assumed. */
    if (caps_have_any())
        child_fail(errfd, NSEXEC_STEP_DROP_PRIVS, EPERM);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(errfd, NSEXEC_STEP_NO_NEW_PRIVS, errno);
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    /* RLIMIT_NPROC counts the processes of a uid in a user namespace: only
     * in the one init made for this step is that the program's own
     * processes (rlimit.h); elsewhere the pod's pids cgroup bounds them. */
    struct kcr_rlimits lim = plan->limits;
    if (!own_userns || !rlimit_nproc_per_userns())
        lim.nproc = 0;
    int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (oom < 0 || write(oom, "1000", 4) != 4)
        child_fail(errfd, NSEXEC_STEP_OOM_ADJ, errno);
    close(oom);
    if ((r = rlimit_apply(&lim)) < 0)
        child_fail(errfd, NSEXEC_STEP_RLIMIT, -r);
    char prog[4096];
    if ((r = nsexec_init_resolve(plan->argv[0], plan->path, prog, sizeof(prog))) < 0)
        child_fail(errfd, NSEXEC_STEP_RESOLVE, -r);
    if ((r = seccomp_apply_policy()) < 0)
        child_fail(errfd, NSEXEC_STEP_SECCOMP, -r);
    execve(prog, plan->argv, plan->envp);
    child_fail(errfd, NSEXEC_STEP_EXEC, errno);
}

/*** pid 1 ***/

__attribute__((noreturn)) static void init_fail(const struct nsexec_plan *plan, int step,
                                                int errnum)
{
    if (plan->report_fd >= 0)
        (void)nsexec_report_write(plan->report_fd, NSEXEC_FAILED, 0, step, errnum);
    else
        dprintf(STDERR_FILENO, "kcr-nsexec: %s: %s\n", nsexec_report_step_name(step),
                strerror(errnum));
    _exit(127);
}

/* PR_SET_PDEATHSIG is lost whenever our euid changes, so it is set again
 * after the privilege drop. kcr-nsexec may have died before the prctl: then
 * the life pipe has no writer left and poll() reports a hangup. getppid()
 * cannot tell here: it is 0 for a pid-ns init whatever the parent. */
static void init_tie_to_parent(const struct nsexec_plan *plan)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        init_fail(plan, NSEXEC_STEP_PDEATHSIG, errno);
    struct pollfd p = {.fd = plan->life_fd, .events = POLLIN};
    if (poll(&p, 1, 0) != 0)
        _exit(137);
}

/* Only user code's processes live in this namespace, and it is pid 1, so it
 * sees exactly those in /proc, masked as the runtime masks a container's
 * (procmask.h). ENOENT: no /proc directory in the image, so there is
 * nothing to look at either. */
static void init_mount_proc(const struct nsexec_plan *plan)
{
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        if (errno != ENOENT)
            init_fail(plan, NSEXEC_STEP_MOUNT_PROC, errno);
        return;
    }
    int r = procmask_apply("/proc", NULL);
    if (r < 0)
        init_fail(plan, NSEXEC_STEP_MASK_PROC, -r);
}

/* Reads the child's setup error, if any. */
static void init_read_child_error(int errfd, struct step_error *e)
{
    ssize_t n;
    do {
        n = read(errfd, e, sizeof(*e));
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*e))
        e->step = NSEXEC_STEP_NONE;
}

/*** The program from the fork-server ***/

/* Appends s with its NUL; false when the message would outgrow its bound. */
static bool put_str(char *msg, size_t *len, const char *s)
{
    size_t n = strlen(s) + 1;
    if (*len + n > FORKSERVER_MSG_MAX)
        return false;
    memcpy(msg + *len, s, n);
    *len += n;
    return true;
}

static bool send_request(const struct nsexec_plan *plan, int status_w)
{
    char *msg = malloc(FORKSERVER_MSG_MAX);
    if (!msg)
        return false;
    struct forkserver_req req = {
        .magic = FORKSERVER_MAGIC,
        .uid = (uint32_t)plan->uid,
        .gid = (uint32_t)plan->gid,
        .cpu_s = plan->limits.cpu_s,
        .fsize = plan->limits.fsize,
        .nofile = plan->limits.nofile,
        .nproc = plan->limits.nproc,
    };
    size_t len = sizeof(req);
    bool ok = put_str(msg, &len, plan->wd ? plan->wd : "/");
    for (char *const *a = plan->argv; ok && *a; a++, req.nargv++)
        ok = put_str(msg, &len, *a);
    for (char *const *e = plan->envp; ok && e && *e; e++, req.nenv++)
        ok = put_str(msg, &len, *e);
    memcpy(msg, &req, sizeof(req));
    int fds[4] = {0, 1, 2, status_w};
    union {
        char buf[CMSG_SPACE(sizeof(fds))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = msg, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
    ssize_t n = -1;
    if (ok)
        do
            n = sendmsg(plan->forkserver_fd, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
    free(msg);
    return n == (ssize_t)len;
}

static bool recv_reply(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int32_t reply = -1;
    int r;
    do
        r = poll(&p, 1, FORKSERVER_REPLY_MS);
    while (r < 0 && errno == EINTR);
    if (r != 1)
        return false;
    ssize_t n;
    do
        n = recv(fd, &reply, sizeof(reply), 0);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(reply) && reply == 0;
}

/* Returns the program's pid, with *ret_status the read end of its status
 * pipe, or -1 when nothing of the request exists (refused, or the entrant
 * failed before forking): the caller then forks the program itself. A
 * template that neither answers nor hangs up in time is an error: it may
 * still fork, so falling back could run two programs. */
static pid_t init_ask_forkserver(const struct nsexec_plan *plan, int *ret_status)
{
    int sp[2];
    if (pipe2(sp, O_CLOEXEC) < 0)
        return -1;
    bool sent = send_request(plan, sp[1]);
    close(sp[1]);
    if (!sent || !recv_reply(plan->forkserver_fd)) {
        close(sp[0]);
        if (sent)
            init_fail(plan, NSEXEC_STEP_FORK, ETIMEDOUT);
        return -1;
    }
    struct step_error hello = {0, 0};
    init_read_child_error(sp[0], &hello);
    if (hello.step != FORKSERVER_HELLO || hello.value <= 1) {
        /* The entrant failed before forking (or died): its status pipe
         * copies are gone, so is it. */
        close(sp[0]);
        return -1;
    }
    *ret_status = sp[0];
    return (pid_t)hello.value;
}

/* The program is our child only once its parent, the entrant, has exited
 * (orphans of this namespace come to its init; the template answers only
 * after that, but a template that answered earlier is handled too); until
 * then waitpid has nothing to wait for: whether it still exists. */
static bool child_alive(pid_t child)
{
    return !(kill(child, 0) < 0 && errno == ESRCH);
}

/* SIGCHLD and NSEXEC_DONE_SIGNAL are blocked in init (from its start, so
 * none is lost) and taken here: waits for one (at most 1 ms when poll is
 * set). Returns the exit status the program reported with
 * NSEXEC_DONE_SIGNAL, or -1 (anything else: reap and look again). */
static int init_wait_signal(pid_t child, bool poll)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, NSEXEC_DONE_SIGNAL);
    siginfo_t si;
    struct timespec ms = {0, 1000000};
    int sig = sigtimedwait(&set, &si, poll ? &ms : NULL);
    /* SI_QUEUE naming the program as its sender. rt_sigqueueinfo lets a
     * sender write si_pid itself, so this stops accidents, not lies: only
     * processes of this run see this init (its pid namespace holds nothing
     * else), and a run that lies about being done only ends itself early,
     * which its code could do anyway. */
    if (sig == NSEXEC_DONE_SIGNAL && si.si_code == SI_QUEUE && si.si_pid == child &&
        si.si_value.sival_int >= 0 && si.si_value.sival_int <= 255)
        return si.si_value.sival_int;
    return -1;
}

/* Blocks what init_wait_signal takes; the child init forks unblocks it. */
static void init_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, NSEXEC_DONE_SIGNAL);
    (void)sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Every privilege of init goes before it forks anything (ids, capability
 * sets, a user namespace of its own when it lacks CAP_SETPCAP, see
 * caps_drop_all): the program's process never exists next to a privileged
 * init. Returns whether that made a user namespace of this step's own. */
static bool init_drop(const struct nsexec_plan *plan)
{
    struct stat before, after;
    bool have_ns = stat("/proc/self/ns/user", &before) == 0;
    const char *what = NULL;
    int r = caps_drop_all(plan->uid, plan->gid, &what);
    if (r < 0)
        init_fail(plan, NSEXEC_STEP_DROP_PRIVS, -r);
    /* init stays alive next to user code: never ptrace-able or dumpable. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    init_tie_to_parent(plan);
    return have_ns && stat("/proc/self/ns/user", &after) == 0 && after.st_ino != before.st_ino;
}

void nsexec_init_main(const struct nsexec_plan *plan)
{
    init_block_signals();
    init_tie_to_parent(plan);
    init_mount_proc(plan);
    int errp[2] = {-1, -1};
    pid_t child = -1;
    bool adopted = false;
    if (plan->forkserver_fd >= 0) {
        child = init_ask_forkserver(plan, &errp[0]);
        adopted = child > 0;
        close(plan->forkserver_fd);
    }
    /* The fork-server's program dropped on its own; init kept its
     * capabilities until then because the template checks them. A failure
     * ends init, and with it the namespace and the program. */
    if (adopted)
        (void)init_drop(plan);
    else {
        bool own_userns = init_drop(plan);
        if (pipe2(errp, O_CLOEXEC) < 0)
            init_fail(plan, NSEXEC_STEP_FORK, errno);
        child = fork();
        if (child < 0)
            init_fail(plan, NSEXEC_STEP_FORK, errno);
        if (child == 0) {
            close(errp[0]);
            child_main(plan, errp[1], own_userns);
        }
        close(errp[1]);
    }
    /* The program has its copy: holding ours would keep the channel's other
     * end from seeing EOF once the program's processes are done with it. */
    if (plan->pass_fd >= 0)
        close(plan->pass_fd);

    struct step_error e = {0, 0};
    init_read_child_error(errp[0], &e);
    close(errp[0]);
    /* Reap everything (orphans are re-parented to us) until the user program
     * ends, or says it has (NSEXEC_DONE_SIGNAL); returning from pid 1 then
     * kills what is left. */
    for (;;) {
        int st = 0;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0 && errno != ECHILD)
            init_fail(plan, NSEXEC_STEP_FORK, errno);
        if (p < 0 && !(adopted && child_alive(child)))
            init_fail(plan, NSEXEC_STEP_FORK, errno);
        if (p > 0 && p != child)
            continue;
        if (p == child) {
            if (e.step != NSEXEC_STEP_NONE)
                init_fail(plan, e.step, e.value);
            if (WIFSIGNALED(st)) {
                (void)nsexec_report_write(plan->report_fd, NSEXEC_SIGNALED, WTERMSIG(st), 0, 0);
                _exit(128 + WTERMSIG(st));
            }
            (void)nsexec_report_write(plan->report_fd, NSEXEC_EXITED, WEXITSTATUS(st), 0, 0);
            _exit(WEXITSTATUS(st));
        }
        /* Nothing to reap: sleep until a child changes state or the program
         * says it is done (1 ms while the program is still the entrant's). */
        int code = init_wait_signal(child, p < 0);
        if (code >= 0 && e.step == NSEXEC_STEP_NONE) {
            /* Whatever else runs in the namespace is killed now, before the
             * report lets the sidecar look at the program's files. */
            (void)kill(-1, SIGKILL);
            (void)nsexec_report_write(plan->report_fd, NSEXEC_EXITED, code, 0, 0);
            _exit(code);
        }
    }
}
