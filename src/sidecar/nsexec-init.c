#include "sidecar/nsexec-init.h"
#include "sidecar/nsexec-report.h"
#include "sandbox/caps.h"
#include "sandbox/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

struct step_error {
    int32_t step;
    int32_t errnum;
};

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

/* The order matters:
 *   - fds first, so nothing privileged leaks even if a later step fails;
 *   - ids and capabilities together (caps_drop_all orders them);
 *   - no_new_privs before seccomp (required without CAP_SYS_ADMIN);
 *   - oom_score_adj after the uid change, once dumpable again: raising it needs
 *     no privilege, but /proc/self files of a non-dumpable process are root's;
 *   - PATH lookup as the final uid, so access() answers for that user;
 *   - seccomp last: it refuses calls the earlier steps make. */
__attribute__((noreturn)) static void child_main(const struct nsexec_plan *plan, int errfd)
{
    const char *what = NULL;
    int r;
    if (errfd > 3 && close_range(3, (unsigned)errfd - 1, 0) < 0)
        child_fail(errfd, NSEXEC_STEP_CLOSE_FDS, errno);
    if (close_range((unsigned)errfd + 1, ~0U, 0) < 0)
        child_fail(errfd, NSEXEC_STEP_CLOSE_FDS, errno);
    if ((r = caps_drop_all(plan->uid, plan->gid, &what)) < 0)
        child_fail(errfd, NSEXEC_STEP_DROP_PRIVS, -r);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(errfd, NSEXEC_STEP_NO_NEW_PRIVS, errno);
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (oom < 0 || write(oom, "1000", 4) != 4)
        child_fail(errfd, NSEXEC_STEP_OOM_ADJ, errno);
    close(oom);
    if ((r = rlimit_apply(&plan->limits)) < 0)
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
 * sees exactly those in /proc. EINVAL/ENOENT: no /proc directory in the
 * image, so there is nothing to look at either. */
static void init_mount_proc(const struct nsexec_plan *plan)
{
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
        errno != ENOENT)
        init_fail(plan, NSEXEC_STEP_MOUNT_PROC, errno);
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

void nsexec_init_main(const struct nsexec_plan *plan)
{
    init_tie_to_parent(plan);
    init_mount_proc(plan);
    int errp[2];
    if (pipe2(errp, O_CLOEXEC) < 0)
        init_fail(plan, NSEXEC_STEP_FORK, errno);
    pid_t child = fork();
    if (child < 0)
        init_fail(plan, NSEXEC_STEP_FORK, errno);
    if (child == 0) {
        close(errp[0]);
        child_main(plan, errp[1]);
    }
    close(errp[1]);
    /* init stays alive next to user code: it holds nothing it needs
     * privilege for any more, and must not be ptrace-able or dumpable. */
    const char *what = NULL;
    int r = caps_drop_all(plan->uid, plan->gid, &what);
    if (r < 0) {
        kill(child, SIGKILL);
        init_fail(plan, NSEXEC_STEP_DROP_PRIVS, -r);
    }
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    init_tie_to_parent(plan);

    struct step_error e = {0, 0};
    init_read_child_error(errp[0], &e);
    close(errp[0]);
    /* Reap everything (orphans are re-parented to us) until the user program
     * ends; returning from pid 1 then kills what is left. */
    for (;;) {
        int st = 0;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0)
            init_fail(plan, NSEXEC_STEP_FORK, errno);
        if (p != child)
            continue;
        if (e.step != NSEXEC_STEP_NONE)
            init_fail(plan, e.step, e.errnum);
        if (WIFSIGNALED(st)) {
            (void)nsexec_report_write(plan->report_fd, NSEXEC_SIGNALED, WTERMSIG(st), 0, 0);
            _exit(128 + WTERMSIG(st));
        }
        (void)nsexec_report_write(plan->report_fd, NSEXEC_EXITED, WEXITSTATUS(st), 0, 0);
        _exit(WEXITSTATUS(st));
    }
}
