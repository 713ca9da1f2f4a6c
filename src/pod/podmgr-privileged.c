/* podmgr-privileged — the pod manager process (podmgr.h), the program
 * kcr-podmgr that podmgr_start() (podmgr-client.c) execs; it runs as root.
 * Its start-up, its request loop and its cleanup; the pods it makes:
 * podmgr-privileged-pods.c. */
#include "pod/podmgr-internal.h"
#include "pod/forkserver.h"
#include "pod/pod-init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/config.h"
#include "common/fsutil.h"
#include "common/id.h"
#include "common/log.h"
#include "common/names.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "sandbox/cgroup.h"
#include "sandbox/net.h"
#include "sandbox/ns.h"
#include "sandbox/rootfs.h"
#include "sandbox/userns.h"

/* Pods starting at once (each holds a pipe); more CREATEs wait their turn. */
#define MAX_STARTING 64

/* kcr-nsexec's file capabilities: the guide's sidecar set (docs/sidecar.md). */
#define NSEXEC_CAPS "cap_sys_admin,cap_sys_chroot,cap_sys_ptrace+ep"

/*** Start-up ***/

/* Installs a root-owned copy of kcr-nsexec carrying its file capabilities in
 * a directory only root can write, so nobody can replace it. Mode 0750 with
 * group 65532: the sidecar (65532) can exec it, other host users cannot (with
 * those capabilities it enters any pod's main container). User code, also
 * 65532, never sees the host's run dir. */
static int install_nsexec(struct podmgr *m, struct kcr_err *err)
{
    /* File capabilities are ignored on nosuid mounts, and noexec forbids the
     * exec itself: /run is often both. Say so instead of failing later with
     * "setns: Operation not permitted" inside every pod. */
    struct statvfs vfs;
    if (statvfs(m->bin_dir, &vfs) == 0 && (vfs.f_flag & (ST_NOSUID | ST_NOEXEC)))
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                           "'%s' is on a nosuid or noexec mount, where kcr-nsexec's file "
                           "capabilities do not work: set KCR_RUN_DIR to a directory on another "
                           "filesystem (e.g. /var/lib/kcr)",
                           m->bin_dir);
    _cleanup_close_ int in = open(m->cfg->nsexec_bin, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "kcr-nsexec '%s'", m->cfg->nsexec_bin);
    /* Its copy gets capabilities: it must be root's to begin with. */
    if (fs_check_root_owned(in, "kcr-nsexec (KCR_NSEXEC_BIN)", m->cfg->nsexec_bin, err) < 0)
        return -1;
    m->nsexec = xasprintf("%s/kcr-nsexec", m->bin_dir);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", m->nsexec);
    _cleanup_close_ int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    if (out < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "create '%s'", tmp);
    /* Owner first: chown(2) clears a file's capabilities, set last. */
    if (fs_copy_fd(in, out, 256u << 20) < 0 || fchown(out, 0, POD_GID) < 0 || fchmod(out, 0750) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "copy kcr-nsexec to '%s'", tmp);
    cap_t caps = cap_from_text(NSEXEC_CAPS);
    int r = caps ? cap_set_fd(out, caps) : -1;
    if (caps)
        cap_free(caps);
    if (r < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "set file capabilities on '%s'", tmp);
    if (rename(tmp, m->nsexec) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "rename '%s'", tmp);
    return 0;
}

/* A directory kcr keeps pod sockets and binaries in must be its own: not a
 * symlink, owned by this uid, writable by nobody else. mkdir -p accepts one
 * that exists, so another local user could have made /tmp/kcr-<uid> first
 * and swapped pod sockets in it (issue 13, item 3). */
static int dir_is_ours(const char *path, struct kcr_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "run dir '%s' (KCR_RUN_DIR)", path);
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                           "run dir '%s' (KCR_RUN_DIR) must be owned by uid %u and writable by "
                           "no one else (it is uid %u, mode %04o)",
                           path, (unsigned)geteuid(), (unsigned)st.st_uid,
                           (unsigned)(st.st_mode & 07777));
    return 0;
}

static int manager_setup(struct podmgr *m, struct kcr_err *err)
{
    const struct kcr_pod_local_config *cfg = m->cfg;
    umask(022);
    if (fs_mkdir_p(cfg->run_dir, 0755, err) < 0)
        return kcr_err_wrap(err, "run dir (KCR_RUN_DIR)");
    if (dir_is_ours(cfg->run_dir, err) < 0)
        return -1;
    struct stat st;
    /* The sidecar (65532) reaches its socket and data dir through it. */
    if (stat(cfg->run_dir, &st) < 0 || (!cfg->rootless && !(st.st_mode & S_IXOTH)))
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE,
                           "run dir '%s' (KCR_RUN_DIR) must be searchable by uid %d (e.g. mode "
                           "0755)",
                           cfg->run_dir, POD_UID);
    m->start_time = podmgr_proc_start_time(getpid());
    m->pods_dir = xasprintf("%s/pods", cfg->run_dir);
    if (fs_mkdir_p(m->pods_dir, 0711, err) < 0 || dir_is_ours(m->pods_dir, err) < 0)
        return -1;
    m->pods_dir_fd = open(m->pods_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m->pods_dir_fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "open '%s'", m->pods_dir);
    if (access(cfg->sidecar_bin, X_OK) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "kcr-sidecar '%s' (KCR_SIDECAR_BIN)",
                           cfg->sidecar_bin);
    if (cfg->rootless) {
        m->cgm = cgroup_mgr_new_disabled();
        if (access(cfg->nsexec_bin, X_OK) < 0)
            return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "kcr-nsexec '%s'", cfg->nsexec_bin);
        m->nsexec = xstrdup(cfg->nsexec_bin);
        podmgr_sweep_leftovers(m);
        return 0;
    }
    /* One copy per manager: several kcr instances may share a run dir. */
    m->bin_dir = xasprintf("%s/bin/%d", cfg->run_dir, (int)getpid());
    if (fs_mkdir_p(m->bin_dir, 0755, err) < 0 || install_nsexec(m, err) < 0)
        return -1;
    m->cgm = cgroup_mgr_new(NULL, cfg->cgroup_parent, err);
    if (!m->cgm || cgroup_mgr_setup(m->cgm, err) < 0)
        return -1;
    podmgr_sweep_leftovers(m);
    return 0;
}

static void manager_cleanup(struct podmgr *m)
{
    for (size_t i = 0; i < m->nstarting; i++)
        (void)safe_close(m->starting[i].err_fd);
    free(m->starting);
    while (m->npods > 0)
        (void)podmgr_pod_destroy(m, m->pods[0].id, NULL);
    free(m->pods);
    m->fs = forkserver_stop(m->fs);
    m->fs_lite = forkserver_stop(m->fs_lite);
    if (m->bin_dir) {
        if (m->nsexec)
            (void)unlink(m->nsexec);
        (void)rmdir(m->bin_dir);
    }
    free(m->bin_dir);
    free(m->nsexec);
    free(m->pods_dir);
    (void)safe_close(m->pods_dir_fd);
    cgroup_mgr_free(m->cgm);
}

static void resp_error(struct podmgr_resp *resp, const struct kcr_err *e)
{
    resp->status = -1;
    resp->kind = e->kind ? (int32_t)e->kind : KCR_ERR_INTERNAL;
    resp->errnum = e->errnum;
    snprintf(resp->msg, sizeof(resp->msg), "%s", e->msg);
}

/* Answers req, or starts a pod whose answer comes later (returns false). */
static bool handle(struct podmgr *m, const struct podmgr_req *req, ssize_t len,
                   struct podmgr_resp *resp)
{
    struct kcr_err e = {0};
    memset(resp, 0, sizeof(*resp));
    resp->tag = req->tag;
    int r;
    if (len != (ssize_t)sizeof(*req) || !memchr(req->arg, '\0', sizeof(req->arg)) ||
        (req->flags & ~PODMGR_LITE) || (req->flags && req->op != PODMGR_CREATE)) {
        r = kcr_err_set(&e, 0, KCR_ERR_INVALID, "malformed request");
    } else if (req->op == PODMGR_CREATE) {
        struct podmgr_starting *st = &m->starting[m->nstarting];
        r = podmgr_pod_create_start(m, req->arg, req->flags & PODMGR_LITE, st, &e);
        if (r == 0) {
            st->tag = req->tag;
            m->nstarting++;
            return false;
        }
    } else if (req->op == PODMGR_DESTROY) {
        r = names_is_safe(req->arg) ? podmgr_pod_destroy(m, req->arg, &e)
                                    : kcr_err_set(&e, 0, KCR_ERR_INVALID, "bad pod id");
    } else {
        r = kcr_err_set(&e, 0, KCR_ERR_INVALID, "unknown op %u", req->op);
    }
    if (r < 0)
        resp_error(resp, &e);
    return true;
}

/* Answers the starting pods whose start ended (or timed out). */
static int finish_started(struct podmgr *m, int fd, const struct pollfd *pfd)
{
    long long now = time_mono_ms();
    /* Backwards: removing i moves the last entry, already looked at, into it. */
    for (size_t i = m->nstarting; i-- > 0;) {
        struct podmgr_starting *st = &m->starting[i];
        if (!pfd[i].revents && now < st->deadline_ms)
            continue;
        struct podmgr_resp resp = {.tag = st->tag};
        struct kcr_err e = {0};
        int r = podmgr_pod_create_finish(m, st, &resp, &e);
        if (r == 1)
            continue;
        if (r < 0)
            resp_error(&resp, &e);
        *st = m->starting[--m->nstarting];
        if (send(fd, &resp, sizeof(resp), MSG_NOSIGNAL) < 0)
            return -1;
    }
    return 0;
}

/* How long the loop may sleep: until the next start-up deadline, at most 1 s
 * (strays are reaped at least that often). */
static int poll_timeout(const struct podmgr *m)
{
    long long now = time_mono_ms(), wait = 1000;
    for (size_t i = 0; i < m->nstarting; i++)
        if (m->starting[i].deadline_ms - now < wait)
            wait = m->starting[i].deadline_ms - now;
    return wait < 0 ? 0 : (int)wait;
}

static void reap_strays(struct podmgr *m)
{
    pid_t pid;
    int status = 0;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct forkserver *fs = pid == forkserver_pid(m->fs)        ? m->fs
                                : pid == forkserver_pid(m->fs_lite) ? m->fs_lite
                                                                    : NULL;
        if (fs) {
            log_msg(KCR_LOG_WARN, NULL, "fork-server%s exited (status %d): pods run without it",
                    fs == m->fs_lite ? " for lite pods" : "",
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            forkserver_reaped(fs);
        }
        for (size_t i = 0; i < m->npods; i++)
            if (m->pods[i].init_pid == pid)
                m->pods[i].init_pid = 0; /* died early; DESTROY cleans the rest */
    }
}

__attribute__((noreturn)) void podmgr_manager_main(int fd)
{
    struct kcr_pod_local_config cfg;
    struct podmgr m = {.cfg = &cfg, .pods_dir_fd = -1};
    /* Terminal signals hit the whole process group: the manager ends only
     * when kcr closes the socket, after destroying every pod. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    (void)prctl(PR_SET_NAME, "kcr-podmgr", 0, 0, 0);
    struct podmgr_resp resp = {0};
    struct kcr_err e = {0};
    if (podmgr_config_recv(fd, &cfg, &e) < 0) {
        kcr_err_wrap(&e, "kcr-podmgr");
        resp_error(&resp, &e);
        (void)send(fd, &resp, sizeof(resp), MSG_NOSIGNAL);
        _exit(1);
    }
    if (manager_setup(&m, &e) < 0)
        resp_error(&resp, &e);
    (void)send(fd, &resp, sizeof(resp), MSG_NOSIGNAL);
    if (resp.status < 0) {
        manager_cleanup(&m);
        pod_local_config_done(&cfg);
        _exit(1);
    }
    /* One loop for requests and for pods that are starting: a pod's start is
     * mostly waiting for its sidecar, which other requests need not do. */
    m.starting = xcalloc(MAX_STARTING, sizeof(*m.starting));
    struct pollfd pfd[MAX_STARTING + 1];
    for (;;) {
        size_t n_st = m.nstarting;
        for (size_t i = 0; i < n_st; i++)
            pfd[i] = (struct pollfd){.fd = m.starting[i].err_fd, .events = POLLIN};
        /* Full: new requests wait in the socket until a start ends. */
        pfd[n_st] = (struct pollfd){.fd = n_st < MAX_STARTING ? fd : -1, .events = POLLIN};
        int r = poll(pfd, n_st + 1, poll_timeout(&m));
        if (r < 0 && errno != EINTR)
            break;
        if (r < 0)
            continue;
        if (finish_started(&m, fd, pfd) < 0)
            break;
        if (pfd[n_st].revents) {
            struct podmgr_req req;
            ssize_t n = recv(fd, &req, sizeof(req), MSG_DONTWAIT);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0)
                break;
            if (handle(&m, &req, n, &resp) && send(fd, &resp, sizeof(resp), MSG_NOSIGNAL) < 0)
                break;
        }
        reap_strays(&m);
    }
    manager_cleanup(&m);
    pod_local_config_done(&cfg);
    _exit(0);
}
