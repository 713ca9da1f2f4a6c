/* pod-init — pod init, main container and sidecar (see pod-init.h). Between
 * clone and exec only: system calls, no return. */
#include "pod/pod-init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "sandbox/caps.h"
#include "sandbox/net.h"
#include "sandbox/ns.h"
#include "sandbox/userns.h"

/* kcr-nsexec's file capabilities need these in the sidecar's bounding set:
 * the guide's three, exactly what a Kubernetes sidecar gets, so every local
 * execution takes the path it takes there (docs/sidecar.md). */
static const int sidecar_bounding[] = {CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_SYS_PTRACE};

__attribute__((noreturn)) static void child_fail(int fd, const char *who, const struct kcr_err *e)
{
    char msg[300];
    int n = snprintf(msg, sizeof(msg), "%s: %s", who, e->msg);
    if (fd >= 0 && n > 0)
        (void)fs_write_all(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    _exit(127);
}

static int drop_bounding_except(const int *keep, size_t nkeep, struct kcr_err *err)
{
    int r = caps_drop_bounding_except(keep, nkeep);
    return r < 0 ? kcr_err_set(err, -r, KCR_ERR_INTERNAL, "drop the bounding set") : 0;
}

/* Root mode: become 65532 (clearing permitted/effective capabilities). */
static int become_pod_user(struct kcr_err *err)
{
    if (setgroups(0, NULL) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "setgroups");
    if (setresgid(POD_GID, POD_GID, POD_GID) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "setresgid %d", POD_GID);
    if (setresuid(POD_UID, POD_UID, POD_UID) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "setresuid %d", POD_UID);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "clear ambient capabilities");
    return 0;
}

/* Rootless: we already are 65532 inside the user namespace, with every
 * capability of that namespace until exec. Keep the sidecar's four as ambient
 * capabilities (capabilities(7)): they survive its exec and kcr-nsexec's, which
 * then drops them all; no file capabilities exist in a user namespace here. */
static int raise_ambient(const int *caps, size_t n, struct kcr_err *err)
{
    cap_t c = cap_get_proc();
    if (!c)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "cap_get_proc");
    int r = cap_set_flag(c, CAP_INHERITABLE, (int)n, caps, CAP_SET);
    if (r == 0)
        r = cap_set_proc(c);
    cap_free(c);
    if (r < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "set inheritable capabilities");
    for (size_t i = 0; i < n; i++)
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, caps[i], 0, 0) < 0)
            return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "raise ambient capability %d",
                               caps[i]);
    return 0;
}

__attribute__((noreturn)) static void run_main_container(struct pod_spawn *s)
{
    struct kcr_err e = {0};
    static const int none[] = {-1};
    if (ns_unshare(CLONE_NEWNS, &e) < 0 || rootfs_apply(s->plan, &e) < 0 ||
        rootfs_pivot(s->plan->root, &e) < 0 || drop_bounding_except(none, 0, &e) < 0)
        child_fail(s->err_fd, "main container", &e);
    if (!s->cfg->rootless && become_pod_user(&e) < 0)
        child_fail(s->err_fd, "main container", &e);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        kcr_err_set(&e, errno, KCR_ERR_INTERNAL, "no_new_privs");
        child_fail(s->err_fd, "main container", &e);
    }
    /* /bin/sleep where /usr is not merged. */
    char *argv[] = {(char *)"sleep", (char *)"infinity", NULL};
    execve("/usr/bin/sleep", argv, s->main_env);
    if (errno == ENOENT)
        execve("/bin/sleep", argv, s->main_env);
    kcr_err_set(&e, errno, KCR_ERR_UNAVAILABLE, "exec 'sleep' in the main container");
    child_fail(s->err_fd, "main container", &e);
}

__attribute__((noreturn)) static void run_sidecar(struct pod_spawn *s)
{
    struct kcr_err e = {0};
    if (chdir(s->data_dir) < 0) {
        kcr_err_set(&e, errno, KCR_ERR_INTERNAL, "chdir '%s'", s->data_dir);
        child_fail(s->err_fd, "sidecar", &e);
    }
    if (drop_bounding_except(sidecar_bounding, ARRAY_SIZE(sidecar_bounding), &e) < 0)
        child_fail(s->err_fd, "sidecar", &e);
    if (s->cfg->rootless ? raise_ambient(sidecar_bounding, ARRAY_SIZE(sidecar_bounding), &e)
                         : become_pod_user(&e))
        child_fail(s->err_fd, "sidecar", &e);
    /* Keeps the manager's wait open until the sidecar listens (KCR_READY_FD). */
    int ready = s->err_fd == POD_SIDECAR_READY_FD ? fcntl(s->err_fd, F_SETFD, 0)
                                                  : dup2(s->err_fd, POD_SIDECAR_READY_FD);
    if (ready < 0) {
        kcr_err_set(&e, errno, KCR_ERR_INTERNAL, "pass the ready pipe");
        child_fail(s->err_fd, "sidecar", &e);
    }
    char *argv[] = {(char *)"kcr-sidecar", NULL};
    execve(s->cfg->sidecar_bin, argv, s->sidecar_env);
    kcr_err_set(&e, errno, KCR_ERR_UNAVAILABLE, "exec '%s'", s->cfg->sidecar_bin);
    child_fail(s->err_fd, "sidecar", &e);
}

/* Rootless pods have no cgroup: lowered rlimits are all there is. */
static void rootless_rlimits(const struct kcr_pod_local_config *cfg)
{
    struct rlimit rl;
    const struct {
        int res;
        rlim_t v;
    } lims[] = {{RLIMIT_NPROC, (rlim_t)cfg->pids_max}, {RLIMIT_CORE, 0}, {RLIMIT_NOFILE, 1024}};
    for (size_t i = 0; i < ARRAY_SIZE(lims); i++)
        if (getrlimit(lims[i].res, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max = lims[i].v < rl.rlim_max ? lims[i].v : rl.rlim_max;
            (void)setrlimit(lims[i].res, &rl);
        }
}

static int init_setup(struct pod_spawn *s, struct kcr_err *err)
{
    const struct kcr_pod_local_config *cfg = s->cfg;
    uid_t owner = POD_UID; /* 65532 inside, in both modes */
    /* The cgroup namespace only now: its root is the cgroup the parent moved
     * us into (unsharing earlier shows paths like /../../kcr/<id>). Its own
     * cgroup mounts let the sidecar read the pod's OOM counter. */
    if (ns_unshare(CLONE_NEWCGROUP, err) < 0 || ns_mounts_private(err) < 0 ||
        cgroup_mgr_mount_ns_view(s->cgm, err) < 0 || ns_mount_proc("/proc", err) < 0 ||
        ns_set_hostname("kcr", err) < 0 || net_lo_up(err) < 0 ||
        ns_mount_tmpfs(s->data_dir, (unsigned)cfg->data_mb, 0755, owner, POD_GID, err) < 0)
        return -1;
    if (cfg->rootless)
        rootless_rlimits(cfg);
    return 0;
}

/* Rootless: maps 65532 in our new user namespace to the manager's ids, by
 * ourselves. kcr serve is non-dumpable (same-uid processes must not read its
 * memory) and so are its pod manager and we, and the /proc files of a
 * non-dumpable process belong to root: the manager could not write our maps.
 * We may (we hold every capability in our namespace and were created by the
 * uid we map), once dumpable for the three writes; then no longer. */
static int map_own_ids(const struct pod_spawn *s, struct kcr_err *err)
{
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "set dumpable");
    int r = userns_map_single(0, POD_UID, s->outer_uid, POD_GID, s->outer_gid, err);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return r;
}

/* Polls /proc/<pid>/comm (the pod's own /proc) until it reads "sleep",
 * bounded: a main container that dies or hangs is an error, not a hang. */
static int wait_main_sleeping(pid_t pid, struct kcr_err *err)
{
    char path[64], comm[32];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    for (int i = 0; i < 10000; i++) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, comm, sizeof(comm) - 1) : -1;
        if (n < 0 && fd < 0)
            return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "main container exited at start");
        if (n > 0) {
            comm[n] = '\0';
            if (!strcmp(comm, "sleep\n"))
                return 0;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                               "main container exited at start (status %d)",
                               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        usleep(i < 100 ? 100 : 1000);
    }
    return kcr_err_set(err, 0, KCR_ERR_TIMEOUT, "main container did not reach 'sleep infinity'");
}

__attribute__((noreturn)) void pod_init_run(struct pod_spawn *s)
{
    struct kcr_err e = {0};
    char go = 0;
    ssize_t n;
    do
        n = read(s->release_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(1); /* the manager gave up on us */
    s->release_fd = safe_close(s->release_fd);
    if (cgroup_join_self(&s->join, &e) < 0)
        child_fail(s->err_fd, "pod init", &e);
    if (s->cfg->rootless && map_own_ids(s, &e) < 0)
        child_fail(s->err_fd, "pod init", &e);
    /* The whole pod dies with the manager even if it is SIGKILLed. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    (void)setsid();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        (void)dup2(null, 0);
        (void)dup2(null, 1);
    }
    if (init_setup(s, &e) < 0)
        child_fail(s->err_fd, "pod init", &e);
    /* vfork: both children only make system calls (and a few allocations
     * nobody frees) before they exec, and a copy of this process (a fork of
     * the manager, ~250 mappings) to be torn down again at that exec costs
     * ~1 ms of CPU per child. We are suspended until each has exec'd or
     * failed; neither runs a signal handler of ours (we install none). */
    pid_t main_pid = vfork();
    if (main_pid == 0) {
        if (null >= 0)
            (void)dup2(null, 2);
        run_main_container(s);
    }
    /* The sidecar finds main by the same /proc scan as in Kubernetes: the
     * /proc mounted above shows this pod's processes only. */
    pid_t sidecar_pid = main_pid > 0 ? vfork() : -1;
    if (sidecar_pid == 0)
        run_sidecar(s);
    if (main_pid < 0 || sidecar_pid < 0) {
        kcr_err_set(&e, errno, KCR_ERR_LIMIT, "fork");
        child_fail(s->err_fd, "pod init", &e);
    }
    /* The error pipe reaches EOF when sleep has been exec'd; checked again
     * here because the sidecar reads /proc/<main>/environ, which is empty
     * (no PATH) before that exec: the pod is announced ready only after it. */
    if (wait_main_sleeping(main_pid, &e) < 0)
        child_fail(s->err_fd, "pod init", &e);
    s->err_fd = safe_close(s->err_fd);
    (void)safe_close(null);
    /* pid 1 of the namespace: reap whatever gets reparented to us. A pod
     * whose main container or sidecar died is useless: exiting ends the pid
     * namespace, and the manager sees it. Otherwise the manager ends the pod
     * by SIGKILL (pid-ns inits ignore SIGTERM). */
    for (;;) {
        int status = 0;
        pid_t w = wait(&status);
        if (w == sidecar_pid)
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        if (w == main_pid)
            _exit(125);
        if (w < 0 && errno == ECHILD)
            pause();
    }
}
