/* forkserver — starting and stopping a fork-server template (privileged; in
 * the pod manager). See forkserver.h and docs/local-pods.md. */
#include "pod/forkserver.h"
#include "pod/pod-init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"
#include "sandbox/caps.h"
#include "sandbox/ns.h"
#include "sandbox/rootfs.h"

#define MAX_HIER 8
#define FD_LIB   3
#define FD_SOCK  4
#define FD_READY 5
#define FD_CG    6 /* and up */

/* What a child needs to enter a pod and drop (forkserver-child.c): setns
 * and mount (SYS_ADMIN, SYS_CHROOT), /proc/<pid> of non-dumpable peers
 * (SYS_PTRACE), becoming 65532 (SETUID, SETGID) and emptying its own
 * bounding set (SETPCAP). Nothing else survives the template's exec. */
static const int template_caps[] = {CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_SYS_PTRACE,
                                    CAP_SETUID,    CAP_SETGID,     CAP_SETPCAP};

struct forkserver {
    const struct kcr_lang *lang;
    pid_t pid;
    int ready_fd; /* read end: one byte once the template listens; -1 once known */
    bool ready;
    char *dir, *root, *data, *sock;
};

bool forkserver_wait_ready(struct forkserver *fs, long timeout_ms)
{
    if (!fs || fs->ready || fs->ready_fd < 0)
        return fs && fs->ready;
    struct pollfd p = {.fd = fs->ready_fd, .events = POLLIN};
    int r;
    do
        r = poll(&p, 1, (int)timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false; /* still importing: this pod goes without */
    char c;
    fs->ready = read(fs->ready_fd, &c, 1) == 1;
    fs->ready_fd = safe_close(fs->ready_fd);
    return fs->ready;
}

const char *forkserver_socket(const struct forkserver *fs)
{
    return fs->sock;
}

const struct kcr_lang *forkserver_lang(const struct forkserver *fs)
{
    return fs->lang;
}

pid_t forkserver_pid(const struct forkserver *fs)
{
    return fs ? fs->pid : 0;
}

void forkserver_reaped(struct forkserver *fs)
{
    fs->pid = 0;
}

/* Bound but not listening: connecting is refused until the template is
 * ready. Only the pod user's group may connect (the template then checks
 * every peer by its kernel credentials). */
static int make_socket(const char *path, struct kcr_err *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "fork-server socket path too long: '%s'", path);
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "fork-server socket");
    (void)unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chown(path, 0, POD_GID) < 0 ||
        chmod(path, 0660) < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
        int e = errno;
        close(fd);
        return kcr_err_set(err, e, KCR_ERR_UNAVAILABLE, "fork-server socket '%s'", path);
    }
    return fd;
}

static char **template_argv(const struct kcr_pod_local_config *cfg, const struct kcr_lang *lang,
                            const char *preload, const bool *v1, int ncg)
{
    size_t nenv = 0;
    while (lang->env[nenv])
        nenv++;
    char **argv = xcalloc(nenv + 16 + 2 * (size_t)ncg, sizeof(char *));
    size_t k = 0;
    argv[k++] = xstrdup("env");
    argv[k++] = xstrdup("-i");
    for (size_t i = 0; i < nenv; i++)
        argv[k++] = xstrdup(lang->env[i]);
    argv[k++] = xstrdup(lang->steps[0][0]); /* "python", through the language's PATH */
    argv[k++] = xstrdup("/opt/kcr/forkserver.py");
    argv[k++] = xstrdup("--lib"), argv[k++] = xasprintf("%d", FD_LIB);
    argv[k++] = xstrdup("--socket"), argv[k++] = xasprintf("%d", FD_SOCK);
    argv[k++] = xstrdup("--ready"), argv[k++] = xasprintf("%d", FD_READY);
    argv[k++] = xstrdup("--cgroup-parent"), argv[k++] = xstrdup(cfg->cgroup_parent);
    argv[k++] = xstrdup("--preload"), argv[k++] = xstrdup(preload);
    for (int i = 0; i < ncg; i++) {
        argv[k++] = xstrdup("--cgroup");
        argv[k++] = xasprintf("%d:%s", FD_CG + i, v1[i] ? "v1" : "v2");
    }
    return argv;
}

__attribute__((noreturn)) static void child_fail(const char *what, const struct kcr_err *e)
{
    dprintf(STDERR_FILENO, "kcr-forkserver: %s: %s\n", what, e ? e->msg : strerror(errno));
    _exit(127);
}

/* Between fork and exec: fds into place, a container-like root, the
 * bounding set, exec. */
__attribute__((noreturn)) static void run_template(const struct kcr_rootfs_plan *plan, int lib,
                                                   int sock, int ready, const int *cg, int ncg,
                                                   char **argv)
{
    struct kcr_err e = {0};
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    (void)setsid();
    int null = open("/dev/null", O_RDWR);
    int moved[3 + MAX_HIER];
    /* Above every target first, so that no dup2 overwrites a source. */
    moved[0] = fcntl(lib, F_DUPFD, 64), moved[1] = fcntl(sock, F_DUPFD, 64);
    moved[2] = fcntl(ready, F_DUPFD, 64);
    for (int i = 0; i < ncg; i++)
        moved[3 + i] = fcntl(cg[i], F_DUPFD, 64);
    for (int i = 0; i < 3 + ncg; i++)
        if (moved[i] < 0 || dup2(moved[i], FD_LIB + i) < 0)
            child_fail("arrange fds", NULL);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
        child_fail("/dev/null", NULL);
    (void)close_range(FD_CG + (unsigned)ncg, ~0U, 0);
    if (ns_unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS, &e) < 0 ||
        ns_mounts_private(&e) < 0 || rootfs_apply(plan, &e) < 0 || rootfs_pivot(plan->root, &e) < 0)
        child_fail("root filesystem", &e);
    int r = caps_drop_bounding_except(template_caps, ARRAY_SIZE(template_caps));
    if (r < 0) {
        errno = -r;
        child_fail("bounding set", NULL);
    }
    /* The manager ignores terminal signals; ignored survives exec, and every
     * runner would inherit it (a program's SIGTERM to its child would do
     * nothing). Python then sets what a fresh interpreter sets. */
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++)
        (void)signal(sig, SIG_DFL);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    static char *const empty_env[] = {NULL};
    execve("/usr/bin/env", argv, empty_env);
    child_fail("exec /usr/bin/env", NULL);
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

struct forkserver *forkserver_start(const struct kcr_pod_local_config *cfg,
                                    const struct kcr_cgroup_mgr *cgm, const struct kcr_lang *lang,
                                    const char *preload, const char *name, struct kcr_err *err)
{
    /* Root runs both: they (and the template's directory) must be root's. */
    _cleanup_free_ char *script = xasprintf("%s/forkserver.py", cfg->runtime_dir);
    _cleanup_close_ int sfd = open(script, O_RDONLY | O_CLOEXEC);
    _cleanup_close_ int dfd = open(cfg->runtime_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0 || dfd < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "fork-server template '%s'", script),
               NULL;
    if (fs_check_root_owned(sfd, "fork-server template", script, err) < 0 ||
        fs_check_root_owned(dfd, "runtime dir (KCR_RUNTIME_DIR)", cfg->runtime_dir, err) < 0)
        return NULL;
    _cleanup_close_ int lib = open(cfg->forkserver_lib, O_RDONLY | O_CLOEXEC);
    if (lib < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE,
                           "fork-server library '%s' (KCR_FORKSERVER_LIB)", cfg->forkserver_lib),
               NULL;
    if (fs_check_root_owned(lib, "fork-server library (KCR_FORKSERVER_LIB)", cfg->forkserver_lib,
                            err) < 0)
        return NULL;
    int cg[MAX_HIER];
    bool v1[MAX_HIER];
    int ncg = cgroup_mgr_parent_fds(cgm, cg, v1, MAX_HIER, err);
    if (ncg <= 0)
        return ncg == 0 ? kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "no cgroups"), NULL : NULL;
    struct forkserver *fs = xcalloc(1, sizeof(*fs));
    fs->lang = lang;
    _cleanup_free_ char *top = xasprintf("%s/forkserver", cfg->run_dir);
    fs->dir = xasprintf("%s/%d-%s", top, (int)getpid(), name);
    fs->root = xasprintf("%s/root", fs->dir);
    fs->data = xasprintf("%s/data", fs->dir);
    fs->sock = xasprintf("%s/sock", fs->dir);
    struct kcr_rootfs_plan *plan = NULL;
    char **argv = NULL;
    int sock = -1, rp[2] = {-1, -1};
    fs->ready_fd = -1;
    if (fs_mkdir_p(top, 0755, err) < 0 || fs_mkdir_p(fs->dir, 0755, err) < 0 ||
        fs_mkdir_p(fs->root, 0700, err) < 0 || fs_mkdir_p(fs->data, 0755, err) < 0)
        goto fail;
    struct kcr_rootfs_config rc = {
        .root = fs->root,
        .data_dir = fs->data,
        .runtime_dir = cfg->runtime_dir,
        .host_paths = lang->host_paths,
        .tmp_mb = (unsigned)cfg->tmp_mb,
        .shm_mb = (unsigned)cfg->tmp_mb,
        .hostname = "kcr",
    };
    if (!(plan = rootfs_plan_new(&rc, err)) || (sock = make_socket(fs->sock, err)) < 0)
        goto fail;
    if (pipe2(rp, O_CLOEXEC) < 0) {
        kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "fork-server: pipe");
        goto fail;
    }
    argv = template_argv(cfg, lang, preload, v1, ncg);
    fflush(NULL);
    fs->pid = fork();
    if (fs->pid == 0)
        run_template(plan, lib, sock, rp[1], cg, ncg, argv);
    if (fs->pid < 0) {
        kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "fork-server: fork");
        fs->pid = 0;
        goto fail;
    }
    rootfs_plan_free(plan);
    strv_free(argv);
    close(sock);
    close(rp[1]);
    fs->ready_fd = rp[0];
    for (int i = 0; i < ncg; i++)
        close(cg[i]);
    return fs;
fail:
    rootfs_plan_free(plan);
    strv_free(argv);
    (void)safe_close(sock);
    (void)safe_close(rp[0]);
    (void)safe_close(rp[1]);
    for (int i = 0; i < ncg; i++)
        close(cg[i]);
    return forkserver_stop(fs);
}

struct forkserver *forkserver_stop(struct forkserver *fs)
{
    if (!fs)
        return NULL;
    if (fs->pid > 0) {
        (void)kill(fs->pid, SIGKILL);
        while (waitpid(fs->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    (void)safe_close(fs->ready_fd);
    (void)unlink(fs->sock);
    (void)rmdir(fs->root);
    (void)rmdir(fs->data);
    (void)rmdir(fs->dir);
    free(fs->dir);
    free(fs->root);
    free(fs->data);
    free(fs->sock);
    free(fs);
    return NULL;
}
