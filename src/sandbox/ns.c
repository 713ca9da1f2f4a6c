/* ns — namespace creation and the first steps inside new namespaces. */
#include "sandbox/ns.h"

#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *ns_flags_name(int flags, char *buf, size_t size)
{
    static const struct {
        int flag;
        const char *name;
    } names[] = {
        {CLONE_NEWNS, "mnt"},        {CLONE_NEWPID, "pid"}, {CLONE_NEWNET, "net"},
        {CLONE_NEWIPC, "ipc"},       {CLONE_NEWUTS, "uts"}, {CLONE_NEWUSER, "user"},
        {CLONE_NEWCGROUP, "cgroup"},
    };
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((flags & names[i].flag) && off < size)
            off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? " " : "", names[i].name);
    return buf;
}

/* Without a new stack clone behaves like fork(2): the child continues on a
 * copy of the caller's stack, which is what a single-threaded pod manager
 * wants (no separate stack to size and free). */
static long clone_into(int flags, int cgroup_fd)
{
    struct clone_args args = {
        .flags = (uint64_t)flags | CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgroup_fd,
    };
    return syscall(SYS_clone3, &args, sizeof(args));
}

pid_t ns_fork(int flags, int cgroup_fd, bool *ret_in_cgroup, struct kcr_err *err)
{
    long pid = -1;
    if (ret_in_cgroup)
        *ret_in_cgroup = false;
    if (cgroup_fd >= 0) {
        pid = clone_into(flags, cgroup_fd);
        if (pid >= 0 && ret_in_cgroup)
            *ret_in_cgroup = true;
        /* ENOSYS: no clone3; E2BIG/EINVAL: no CLONE_INTO_CGROUP (< 5.7). */
        if (pid < 0 && errno != ENOSYS && errno != E2BIG && errno != EINVAL) {
            char names[64];
            return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE,
                               "clone into a cgroup with new namespaces (%s)",
                               ns_flags_name(flags, names, sizeof(names)));
        }
    }
    if (pid < 0)
        pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, 0UL);
    if (pid < 0) {
        char names[64];
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "clone with new namespaces (%s)",
                           ns_flags_name(flags, names, sizeof(names)));
    }
    return (pid_t)pid;
}

int ns_unshare(int flags, struct kcr_err *err)
{
    if (unshare(flags) < 0) {
        char names[64];
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "unshare (%s)",
                           ns_flags_name(flags, names, sizeof(names)));
    }
    return 0;
}

int ns_mounts_private(struct kcr_err *err)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "make mounts private");
    return 0;
}

int ns_mount_proc(const char *target, struct kcr_err *err)
{
    if (mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "mount proc on '%s'", target);
    return 0;
}

int ns_mount_tmpfs(const char *target, unsigned size_mb, mode_t mode, uid_t uid, gid_t gid,
                   struct kcr_err *err)
{
    char opts[128];
    snprintf(opts, sizeof(opts), "size=%um,mode=%o,uid=%u,gid=%u", size_mb, (unsigned)mode,
             (unsigned)uid, (unsigned)gid);
    if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "mount tmpfs on '%s' (%s)", target, opts);
    return 0;
}

int ns_set_hostname(const char *name, struct kcr_err *err)
{
    if (sethostname(name, strlen(name)) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "sethostname '%s'", name);
    return 0;
}
