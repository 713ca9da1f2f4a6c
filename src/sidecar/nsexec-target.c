#include "sidecar/nsexec-target.h"
#include "sidecar/nsexec-report.h"
#include "sidecar/procscan.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int nsexec_target_read_environ(pid_t pid, struct nsexec_target *t)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *buf = xmalloc(NSEXEC_ENVIRON_MAX + 1);
    size_t len = 0;
    while (len < NSEXEC_ENVIRON_MAX) {
        ssize_t n = read(fd, buf + len, NSEXEC_ENVIRON_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    /* A variable cut by the bound is not the main container's value: drop it. */
    if (len == NSEXEC_ENVIRON_MAX)
        while (len > 0 && buf[len - 1] != '\0')
            len--;
    buf[len] = '\0';
    char **envp = xcalloc(NSEXEC_ENVIRON_VARS + 1, sizeof(char *));
    size_t n = 0;
    for (size_t off = 0; off < len && n < NSEXEC_ENVIRON_VARS;) {
        char *s = buf + off;
        size_t l = strlen(s);
        if (l > 0 && strchr(s, '=') && s[0] != '=')
            envp[n++] = s;
        off += l + 1;
    }
    t->pid = pid;
    t->environ_buf = buf;
    t->envp = envp;
    return 0;
}

int nsexec_target_open(struct nsexec_target *t, int *ret_step)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)t->pid);
    *ret_step = NSEXEC_STEP_OPEN_NS;
    t->ns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (t->ns_fd < 0)
        return -errno;
    snprintf(path, sizeof(path), "/proc/%d/root", (int)t->pid);
    *ret_step = NSEXEC_STEP_OPEN_ROOT;
    t->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->root_fd < 0)
        return -errno;
    return 0;
}

int nsexec_target_verify(pid_t pid, uint64_t start_time)
{
    uint64_t now = 0;
    int r = procscan_stat(pid, NULL, &now);
    if (r < 0)
        return r;
    return now == start_time ? 0 : -ESRCH;
}

/* After setns() our root is the root of the namespace's root mount. A target
 * that used pivot_root (runc, Kubernetes) has that same root; one that only
 * chroot'ed has a directory below it (nsenter needs -r for those). */
static int target_is_chrooted(const struct nsexec_target *t, bool *ret)
{
    struct stat troot, ours;
    if (fstat(t->root_fd, &troot) < 0 || stat("/", &ours) < 0)
        return -errno;
    *ret = troot.st_dev != ours.st_dev || troot.st_ino != ours.st_ino;
    return 0;
}

int nsexec_target_enter(const struct nsexec_target *t, const char *wd, int *ret_step)
{
    bool chrooted = false;
    *ret_step = NSEXEC_STEP_SETNS;
    if (setns(t->ns_fd, CLONE_NEWNS) < 0)
        return -errno;
    *ret_step = NSEXEC_STEP_CHROOT;
    int r = target_is_chrooted(t, &chrooted);
    if (r < 0)
        return r;
    /* Step into the target's root *before* unshare: unshare(CLONE_NEWNS)
     * translates cwd and root into the copied namespace, whereas chroot()ing
     * to the fd afterwards would put us on a mount of the target's namespace,
     * where mounting /proc fails. */
    if (chrooted && fchdir(t->root_fd) < 0)
        return -errno;
    /* A private copy of the mount table, so our /proc mount never shows in the
     * main container; a new pid namespace for our next child, so user code
     * can neither see nor signal the sidecar. */
    *ret_step = NSEXEC_STEP_UNSHARE;
    if (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0)
        return -errno;
    /* "/" is still the namespace's root mount here (a mount point), so this
     * works for chroot targets too; shared mounts would propagate back. */
    *ret_step = NSEXEC_STEP_MAKE_PRIVATE;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -errno;
    *ret_step = NSEXEC_STEP_CHROOT;
    if (chrooted && chroot(".") < 0)
        return -errno;
    /* What `nsenter --wdns` does: the working directory is a path inside. */
    *ret_step = NSEXEC_STEP_CHDIR;
    if (chdir(wd) < 0)
        return -errno;
    *ret_step = NSEXEC_STEP_NONE;
    return 0;
}

const char *nsexec_target_path(char *const *envp)
{
    for (char *const *e = envp; e && *e; e++)
        if (!strncmp(*e, "PATH=", 5))
            return *e + 5;
    return NULL;
}

void nsexec_target_done(struct nsexec_target *t)
{
    free(t->envp);
    free(t->environ_buf);
    t->envp = NULL;
    t->environ_buf = NULL;
    t->ns_fd = safe_close(t->ns_fd);
    t->root_fd = safe_close(t->root_fd);
}
