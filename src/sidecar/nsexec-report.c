#include "sidecar/nsexec-report.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

static const char *const step_names[NSEXEC_STEP__MAX] = {
    [NSEXEC_STEP_NONE] = "none",
    [NSEXEC_STEP_ENVIRON] = "read environ",
    [NSEXEC_STEP_OPEN_NS] = "open mount namespace",
    [NSEXEC_STEP_OPEN_ROOT] = "open root",
    [NSEXEC_STEP_VERIFY_TARGET] = "verify target",
    [NSEXEC_STEP_SETNS] = "setns",
    [NSEXEC_STEP_UNSHARE] = "unshare",
    [NSEXEC_STEP_MAKE_PRIVATE] = "make mounts private",
    [NSEXEC_STEP_CHROOT] = "chroot",
    [NSEXEC_STEP_CHDIR] = "chdir",
    [NSEXEC_STEP_FORK] = "fork",
    [NSEXEC_STEP_PDEATHSIG] = "parent death signal",
    [NSEXEC_STEP_MOUNT_PROC] = "mount /proc",
    [NSEXEC_STEP_CLOSE_FDS] = "close fds",
    [NSEXEC_STEP_DROP_PRIVS] = "drop privileges",
    [NSEXEC_STEP_NO_NEW_PRIVS] = "no_new_privs",
    [NSEXEC_STEP_OOM_ADJ] = "oom_score_adj",
    [NSEXEC_STEP_RLIMIT] = "rlimit",
    [NSEXEC_STEP_RESOLVE] = "resolve program",
    [NSEXEC_STEP_SECCOMP] = "seccomp",
    [NSEXEC_STEP_EXEC] = "exec",
    [NSEXEC_STEP_ARGS] = "arguments",
    [NSEXEC_STEP_CGROUP] = "join cgroup",
    [NSEXEC_STEP_MASK_PROC] = "mask /proc",
};

const char *nsexec_report_step_name(int step)
{
    if (step < 0 || step >= NSEXEC_STEP__MAX || !step_names[step])
        return "unknown";
    return step_names[step];
}

int nsexec_report_write(int fd, enum nsexec_outcome outcome, int code, int step, int errnum)
{
    struct nsexec_report r = {
        .magic = NSEXEC_REPORT_MAGIC,
        .outcome = (int32_t)outcome,
        .code = code,
        .step = step,
        .errnum = errnum,
    };
    if (fd < 0)
        return 0;
    for (;;) {
        ssize_t n = write(fd, &r, sizeof(r));
        if (n == (ssize_t)sizeof(r))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -errno : -EIO;
    }
}

bool nsexec_report_valid(const struct nsexec_report *r)
{
    if (r->magic != NSEXEC_REPORT_MAGIC)
        return false;
    switch (r->outcome) {
    case NSEXEC_EXITED:
        return r->code >= 0 && r->code <= 255;
    case NSEXEC_SIGNALED:
        return r->code > 0 && r->code < 65;
    case NSEXEC_FAILED:
        return r->step > 0 && r->step < NSEXEC_STEP__MAX && r->errnum >= 0;
    default:
        return false;
    }
}
