/* podmgr-privileged-pods — the privileged pod manager (runs as root, see
 * podmgr-privileged.c): creates and destroys local pods on typed requests from
 * the unprivileged HTTP side.
 *
 * A pod is a pod init (pid 1 of new pid, net, ipc, uts, mount and cgroup
 * namespaces, in the pod's cgroup) with two children: the main container
 * (own mount namespace, pivot_root into a tmpfs root, `env -i <lang env>
 * sleep infinity` as 65532) and kcr-sidecar (65532, no capabilities, bounding
 * set limited to what kcr-nsexec's file capabilities need). See
 * docs/local-pods.md for the whole picture. */
#include "pod/podmgr-internal.h"
#include "common/limits.h"
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

/* How long CREATE waits for the pod's processes to exec (or report a failure). */
#define SPAWN_TIMEOUT_MS 10000

/*** Manager side ***/

/* Field 22 of /proc/<pid>/stat (start time in clock ticks), or 0 when the
 * process is gone or a zombie. A pid with another start time is another
 * process. */
uint64_t podmgr_proc_start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    /* A zombie is gone too (its parent died with it and whoever inherited
     * it may reap late). */
    if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
        return 0;
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* Every pod directory names its manager: "<pid> <start time>\n". */
static int write_owner(const struct podmgr *m, const char *dir, struct kcr_err *err)
{
    char line[64];
    int n =
        snprintf(line, sizeof(line), "%d %llu\n", (int)getpid(), (unsigned long long)m->start_time);
    _cleanup_free_ char *path = xasprintf("%s/owner", dir);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int r = fd < 0 ? -errno : fs_write_all(fd, line, (size_t)n);
    return r < 0 ? kcr_err_set(err, -r, KCR_ERR_UNAVAILABLE, "write '%s'", path) : 0;
}

/* True unless the pod's owner file names a manager that is gone. A pod
 * without one (made by an older kcr, or mid-creation) is left alone. */
static bool owner_gone(int pods_fd, const char *id)
{
    _cleanup_free_ char *path = xasprintf("%s/owner", id);
    char buf[64] = "";
    int fd = fs_open_beneath(pods_fd, path, O_RDONLY, 0);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    (void)safe_close(fd);
    int pid = 0;
    unsigned long long start = 0;
    if (n <= 0 || sscanf(buf, "%d %llu", &pid, &start) != 2 || pid <= 0)
        return false;
    return podmgr_proc_start_time(pid) != start;
}

/* After a crash of kcr and its manager (kill -9 of the process group, the
 * OOM killer), the pods died with them (PR_SET_PDEATHSIG) but their cgroups
 * and directories stayed. A start removes those of dead managers only: kcr
 * instances sharing a run dir must not sweep each other's pods. */
void podmgr_sweep_leftovers(struct podmgr *m)
{
    _cleanup_dir_ DIR *d = opendir(m->pods_dir);
    struct dirent *de;
    int swept = 0;
    while (d && (de = readdir(d))) {
        if (!names_is_safe(de->d_name) || !owner_gone(m->pods_dir_fd, de->d_name))
            continue;
        struct kcr_err e = {0};
        if (cgroup_mgr_gc_named(m->cgm, de->d_name, &e) < 0)
            log_msg(KCR_LOG_WARN, NULL, "leftover pod %s: %s", de->d_name, e.msg);
        else if (fs_rm_tree_at(m->pods_dir_fd, de->d_name) == 0)
            swept++;
    }
    if (swept)
        log_msg(KCR_LOG_INFO, NULL, "removed %d pods a crashed kcr left behind", swept);
    /* <rundir>/bin/<pid> (a kcr-nsexec with file capabilities) and
     * <rundir>/forkserver/<pid>-<lang> of managers that no longer run. */
    const char *per_manager[] = {"bin", "forkserver"};
    for (size_t i = 0; i < ARRAY_SIZE(per_manager); i++) {
        _cleanup_free_ char *dir = xasprintf("%s/%s", m->cfg->run_dir, per_manager[i]);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_dir_ DIR *dd = dfd >= 0 ? fdopendir(dup(dfd)) : NULL;
        while (dd && (de = readdir(dd))) {
            int pid = atoi(de->d_name);
            if (pid > 0 && names_is_safe(de->d_name) && pid != (int)getpid() &&
                podmgr_proc_start_time(pid) == 0)
                (void)fs_rm_tree_at(dfd, de->d_name);
        }
    }
}

static int mkdir_owned(const char *path, mode_t mode, uid_t uid, gid_t gid, bool chown_it,
                       struct kcr_err *err)
{
    if (mkdir(path, mode) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "mkdir '%s'", path);
    if (chown_it && chown(path, uid, gid) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "chown '%s'", path);
    if (chmod(path, mode) < 0) /* umask-proof */
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "chmod '%s'", path);
    return 0;
}

/* The interpreter or compiler of the language's first step, resolved on the
 * host the way the main container's PATH will resolve it (/opt/kcr is the
 * runtime dir). A missing runtime is reported now, not as a failed execution. */
static int check_runtime(const struct podmgr *m, const struct kcr_lang *lang, struct kcr_err *err)
{
    const char *prog = lang->steps[0][0], *path = "/usr/bin:/bin";
    for (int i = 0; lang->env[i]; i++)
        if (!strncmp(lang->env[i], "PATH=", 5))
            path = lang->env[i] + 5;
    if (strchr(prog, '/'))
        return 0; /* absolute steps (compiled output) are checked when they run */
    _cleanup_free_ char *copy = xstrdup(path);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *cand = NULL;
        if (!strncmp(dir, "/opt/kcr", 8) && (dir[8] == '/' || dir[8] == '\0'))
            cand = xasprintf("%s%s/%s", m->cfg->runtime_dir, dir + 8, prog);
        else
            cand = xasprintf("%s/%s", dir, prog);
        if (access(cand, X_OK) == 0)
            return 0;
    }
    return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                       "runtime missing for language '%s': '%s' not found in PATH %s "
                       "(/opt/kcr is KCR_RUNTIME_DIR '%s')",
                       lang->code, prog, path, m->cfg->runtime_dir);
}

/* Exactly the language's variables: what `env -i <vars> sleep infinity`,
 * a Kubernetes main container's entrypoint, leaves; exec'd directly, which
 * spares every pod the start of env (~1 ms of CPU). */
static char **build_main_env(const struct kcr_lang *lang)
{
    size_t n = 0;
    while (lang->env[n])
        n++;
    char **env = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        env[i] = xstrdup(lang->env[i]);
    return env;
}

static char **build_sidecar_env(const struct podmgr *m, struct pod_spawn *s, struct forkserver *fs)
{
    char **env = xcalloc(20, sizeof(char *));
    size_t k = 0;
    env[k++] = xstrdup("PATH=/usr/bin:/bin");
    env[k++] = xasprintf("LANGUAGE=%s", s->lang->code);
    env[k++] = xasprintf("WORKING_DIR=%s", s->data_dir);
    env[k++] = xasprintf("SIDECAR_SOCKET=%s", s->sock_path);
    env[k++] = xasprintf("KCR_NSEXEC=%s", m->nsexec);
    env[k++] = xasprintf("KCR_READY_FD=%d", POD_SIDECAR_READY_FD);
    /* The first pods may wait for the preload (bounded): a warm pool
     * without preloaded runners would serve its first requests slowly. */
    if (fs && forkserver_lang(fs) == s->lang &&
        forkserver_wait_ready(fs, m->cfg->forkserver_wait_ms))
        env[k++] = xasprintf("KCR_FORKSERVER=%s", forkserver_socket(fs));
    /* The sidecar refuses timeouts above its MAX_EXECUTION_TIME; the API asks
     * for the base limit times the language's multiplier (lang_time_mult). */
    long base = strtol(config_str("MAX_EXECUTION_TIME", "30"), NULL, 10);
    double want = (double)(base > 0 ? base : 30) * lang_time_mult(s->lang);
    long max_exec = (long)want + ((double)(long)want < want); /* rounded up */
    if (max_exec > KCR_MAX_EXEC_SECONDS)
        max_exec = KCR_MAX_EXEC_SECONDS; /* the sidecar's own bound */
    env[k++] = xasprintf("MAX_EXECUTION_TIME=%ld", max_exec < 1 ? 1 : max_exec);
    /* No real file outgrows the pod's largest disk; only a sparse one can
     * claim to (docs/security.md case 6). */
    long disk_mb = m->cfg->tmp_mb > m->cfg->data_mb ? m->cfg->tmp_mb : m->cfg->data_mb;
    env[k++] = xasprintf("MAX_FILE_WRITE_MB=%ld", disk_mb);
    /* The pids cgroup bounds the pod; the sidecar adds RLIMIT_NPROC where the
     * kernel counts it per sandbox, as on Kubernetes (no cgroup of ours). */
    env[k++] = xasprintf("MAX_PIDS=%ld", m->cfg->pids_max);
    /* Who may drive the sidecar: the API's group (the socket dir's) and root.
     * Rootless: one user is everyone, nothing to tell apart. */
    if (!m->cfg->rootless)
        env[k++] = xasprintf("KCR_CLIENT_GID=%u", (unsigned)m->cfg->client_gid);
    /* kcr serve converts its character cap; kcr pod run passes bytes through. */
    const char *out = getenv("MAX_OUTPUT_SIZE"), *level = getenv("KCR_LOG_LEVEL");
    const char *prestart = getenv("PRESTART_RUNNER"), *preload = getenv("RUNNER_PRELOAD");
    if (m->cfg->output_bytes)
        env[k++] = xasprintf("MAX_OUTPUT_SIZE=%ld", m->cfg->output_bytes);
    else if (out && *out)
        env[k++] = xasprintf("MAX_OUTPUT_SIZE=%s", out);
    if (level && *level)
        env[k++] = xasprintf("KCR_LOG_LEVEL=%s", level);
    if (prestart && *prestart)
        env[k++] = xasprintf("PRESTART_RUNNER=%s", prestart);
    /* The fork-server preloads for local pods; this is Kubernetes' way,
     * passed through for tests and rootless set-ups. */
    if (preload && *preload)
        env[k++] = xasprintf("RUNNER_PRELOAD=%s", preload);
    return env;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void spawn_done(struct pod_spawn *s)
{
    free(s->dir);
    free(s->data_dir);
    free(s->sock_path);
    free(s->root_dir);
    rootfs_plan_free(s->plan);
    strv_free(s->main_env);
    strv_free(s->sidecar_env);
    (void)safe_close(s->release_fd);
    (void)safe_close(s->err_fd);
    cgroup_join_close(&s->join);
}

/* Kills and removes whatever exists of the pod: processes, cgroup, directory. */
static int pod_teardown(struct podmgr *m, struct pod_entry *p, struct kcr_err *err)
{
    struct kcr_err e = {0};
    int r = 0;
    if (p->cg && cgroup_kill(p->cg, &e) < 0)
        r = -1;
    if (p->init_pid > 0) {
        (void)kill(p->init_pid, SIGKILL);
        while (waitpid(p->init_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        p->init_pid = 0;
    }
    if (p->cg && cgroup_destroy(TAKE_PTR(p->cg), r < 0 ? NULL : &e) < 0)
        r = -1;
    int rm = fs_rm_tree_at(m->pods_dir_fd, p->id);
    if (rm < 0 && r == 0) {
        kcr_err_set(&e, -rm, KCR_ERR_INTERNAL, "remove '%s/%s'", m->pods_dir, p->id);
        r = -1;
    }
    if (r < 0 && err)
        *err = e;
    return r;
}

/* Reads what the children's error pipe has (poll said it is readable): 1 =
 * nothing yet, 0 = EOF (every exec happened, the sidecar listens), -1 = a
 * step failed and said why. A failing step writes its whole message at once
 * (< PIPE_BUF, so atomic): it is reported without waiting for the others. */
static int read_spawned(int fd, struct kcr_err *err)
{
    char msg[300];
    ssize_t n;
    do
        n = read(fd, msg, sizeof(msg) - 1);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 1;
    if (n == 0)
        return 0;
    if (n < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "read the pod's start-up pipe");
    msg[n] = '\0';
    return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "%s", msg);
}

/* Waits until the sidecar's socket exists. After wait_spawned it normally
 * does at once (the sidecar closed its end of the error pipe once listening);
 * a sidecar that exited at start (bad config) also closed it: pod init exits
 * with it, so that is reported with its exit status, not a timeout. */
static int wait_socket(const char *path, struct pod_entry *p, long timeout_ms, struct kcr_err *err)
{
    for (long waited_us = 0; waited_us < timeout_ms * 1000;) {
        if (access(path, F_OK) == 0)
            return 0;
        if (p->init_pid <= 0) /* reaped already (reap_strays) */
            return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                               "kcr-sidecar exited before listening; its error is the "
                               "kcr-sidecar line on stderr");
        int status = 0;
        if (waitpid(p->init_pid, &status, WNOHANG) == p->init_pid) {
            p->init_pid = 0;
            return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                               "kcr-sidecar exited (status %d) before listening; its error is "
                               "the kcr-sidecar line on stderr",
                               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        long step = waited_us < 20000 ? 200 : 2000;
        usleep((useconds_t)step);
        waited_us += step;
    }
    return kcr_err_set(err, 0, KCR_ERR_TIMEOUT, "kcr-sidecar did not bind '%s' within %ld ms", path,
                       timeout_ms);
}

static int prepare_spawn(struct podmgr *m, const struct kcr_lang *lang, const char *id,
                         struct forkserver *fs, struct pod_spawn *s, struct kcr_err *err)
{
    const struct kcr_pod_local_config *cfg = m->cfg;
    s->cfg = m->cfg;
    s->cgm = m->cgm;
    s->outer_uid = getuid();
    s->outer_gid = getgid();
    s->lang = lang;
    s->dir = xasprintf("%s/%s", m->pods_dir, id);
    s->data_dir = xasprintf("%s/data", s->dir);
    s->root_dir = xasprintf("%s/root", s->dir);
    s->sock_path = xasprintf("%s/sock/sidecar.sock", s->dir);
    _cleanup_free_ char *sock_dir = xasprintf("%s/sock", s->dir);
    /* Pod ids are no secret (cgroup names): the socket directory itself keeps
     * other host users from driving a sidecar. 65532 binds there; the API's
     * group (client_gid) and root connect. */
    if (mkdir_owned(s->dir, 0711, 0, 0, false, err) < 0 || write_owner(m, s->dir, err) < 0 ||
        mkdir_owned(s->data_dir, 0755, 0, 0, false, err) < 0 ||
        mkdir_owned(s->root_dir, 0700, 0, 0, false, err) < 0 ||
        mkdir_owned(sock_dir, 0710, POD_UID, cfg->client_gid, !cfg->rootless, err) < 0)
        return -1;
    struct kcr_rootfs_config rc = {
        .root = s->root_dir,
        .data_dir = s->data_dir,
        .runtime_dir = cfg->runtime_dir,
        .host_paths = lang->host_paths,
        .tmp_mb = (unsigned)cfg->tmp_mb,
        .shm_mb = (unsigned)cfg->tmp_mb,
        .hostname = "kcr",
    };
    s->plan = rootfs_plan_new(&rc, err);
    if (!s->plan)
        return -1;
    s->main_env = build_main_env(lang);
    s->sidecar_env = build_sidecar_env(m, s, fs);
    return 0;
}

/* Starts the pod's processes: pod init is forked into its cgroup and
 * released. Returns the read end of the error pipe (non-blocking), which
 * reports how the start ends (read_spawned). */
static int spawn_pod(struct podmgr *m, struct pod_spawn *s, struct pod_entry *p,
                     struct kcr_err *err)
{
    int rel[2], errp[2];
    if (pipe2(rel, O_CLOEXEC) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "pipe");
    if (pipe2(errp, O_CLOEXEC) < 0) {
        (void)safe_close(rel[0]);
        (void)safe_close(rel[1]);
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "pipe");
    }
    s->release_fd = rel[0];
    s->err_fd = errp[1];
    _cleanup_close_ int release_w = rel[1], err_r = errp[0];
    int flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS;
    if (m->cfg->rootless)
        flags |= CLONE_NEWUSER;
    if (p->cg && cgroup_join_open(p->cg, &s->join, err) < 0)
        return -1;
    bool in_dir = false;
    pid_t pid = ns_fork(flags, s->join.dir_fd, &in_dir, err);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        release_w = safe_close(release_w);
        err_r = safe_close(err_r);
        pod_init_run(s);
    }
    p->init_pid = pid;
    s->release_fd = safe_close(s->release_fd);
    s->err_fd = safe_close(s->err_fd);
    if (p->cg && cgroup_join_finish(p->cg, &s->join, pid, in_dir, err) < 0)
        return -1;
    cgroup_join_close(&s->join);
    if (fs_write_all(release_w, "1", 1) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "release pod init");
    if (fcntl(err_r, F_SETFL, O_NONBLOCK) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "pipe");
    return TAKE_FD(err_r);
}

static struct pod_entry *pod_add(struct podmgr *m)
{
    if (m->npods == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->pods = xrealloc(m->pods, m->cap * sizeof(*m->pods));
    }
    struct pod_entry *p = &m->pods[m->npods++];
    memset(p, 0, sizeof(*p));
    return p;
}

/* The template starts with the first pod of its language (a manager that
 * only ever makes bash pods never imports numpy). Without it pods work as
 * before, only slower: say so, go on. */
static struct forkserver *ensure_forkserver(struct podmgr *m, const struct kcr_lang *lang,
                                            bool lite)
{
    if (!m->cfg->forkserver || strcmp(lang->code, "py"))
        return NULL;
    /* The lite template exists only beside a standard one that preloads. */
    if (lite && !m->cfg->preload_py[0])
        lite = false;
    struct forkserver **fs = lite ? &m->fs_lite : &m->fs;
    bool *tried = lite ? &m->fs_lite_tried : &m->fs_tried;
    if (*tried)
        return *fs;
    struct kcr_err fe = {0};
    *tried = true;
    *fs =
        forkserver_start(m->cfg, m->cgm, lang, lite ? m->cfg->preload_py_lite : m->cfg->preload_py,
                         lite ? "py-lite" : "py", &fe);
    if (!*fs)
        log_msg(KCR_LOG_WARN, NULL, "no fork-server%s: %s", lite ? " for lite pods" : "", fe.msg);
    return *fs;
}

static struct pod_entry *pod_find(struct podmgr *m, const char *id)
{
    for (size_t i = 0; i < m->npods; i++)
        if (!strcmp(m->pods[i].id, id))
            return &m->pods[i];
    return NULL;
}

int podmgr_pod_create_start(struct podmgr *m, const char *code, bool lite,
                            struct podmgr_starting *st, struct kcr_err *err)
{
    const struct kcr_lang *lang = lang_find(code);
    if (!lang)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "unknown language '%s'", code);
    if (check_runtime(m, lang, err) < 0)
        return -1;
    struct forkserver *fs = ensure_forkserver(m, lang, lite);
    char nano[KCR_ID_LEN + 1];
    id_new(nano);
    struct pod_entry tmp = {0};
    snprintf(tmp.id, sizeof(tmp.id), "kcr-%s-%s", lang->code, nano);
    uint64_t mem = (uint64_t)((double)m->cfg->memory_mb * lang_mem_mult(lang)) << 20;
    struct kcr_cgroup_limits lim = {
        .memory_bytes = mem,
        .pids_max = (uint64_t)m->cfg->pids_max,
        .cpu_quota_us = (uint64_t)m->cfg->cpu_millis * 100,
        .cpu_period_us = 100000,
    };
    struct pod_spawn s = {.join = KCR_CGROUP_JOIN_INIT, .release_fd = -1, .err_fd = -1};
    int fd = -1;
    if (prepare_spawn(m, lang, tmp.id, fs, &s, err) == 0) {
        tmp.cg = cgroup_create(m->cgm, tmp.id, &lim, err);
        if (tmp.cg)
            fd = spawn_pod(m, &s, &tmp, err);
    }
    if (fd >= 0) {
        *st = (struct podmgr_starting){.err_fd = fd,
                                       .deadline_ms = time_mono_ms() + SPAWN_TIMEOUT_MS};
        snprintf(st->id, sizeof(st->id), "%s", tmp.id);
        snprintf(st->lang, sizeof(st->lang), "%s", lang->code);
        snprintf(st->socket, sizeof(st->socket), "%s", s.sock_path);
        snprintf(st->working_dir, sizeof(st->working_dir), "%s", s.data_dir);
        *pod_add(m) = tmp; /* from now on a manager's exit removes it too */
    } else {
        (void)pod_teardown(m, &tmp, NULL);
        kcr_err_wrap(err, "create pod for '%s'", lang->code);
    }
    spawn_done(&s);
    return fd >= 0 ? 0 : -1;
}

int podmgr_pod_create_finish(struct podmgr *m, struct podmgr_starting *st, struct podmgr_resp *resp,
                             struct kcr_err *err)
{
    struct pod_entry *p = pod_find(m, st->id);
    int r = !p ? kcr_err_set(err, 0, KCR_ERR_INTERNAL, "pod '%s' vanished", st->id)
               : read_spawned(st->err_fd, err);
    if (r == 1 && time_mono_ms() >= st->deadline_ms)
        r = kcr_err_set(err, 0, KCR_ERR_TIMEOUT, "pod processes did not start within %d ms",
                        SPAWN_TIMEOUT_MS);
    if (r == 1)
        return 1;
    st->err_fd = safe_close(st->err_fd);
    if (r == 0)
        r = wait_socket(st->socket, p, m->cfg->ready_ms, err);
    if (r == 0) {
        snprintf(resp->id, sizeof(resp->id), "%s", st->id);
        snprintf(resp->socket, sizeof(resp->socket), "%s", st->socket);
        snprintf(resp->working_dir, sizeof(resp->working_dir), "%s", st->working_dir);
        return 0;
    }
    if (p)
        (void)podmgr_pod_destroy(m, st->id, NULL);
    return kcr_err_wrap(err, "create pod for '%s'", st->lang);
}

int podmgr_pod_destroy(struct podmgr *m, const char *id, struct kcr_err *err)
{
    struct pod_entry *p = pod_find(m, id);
    if (!p)
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no pod '%s'", id);
    int r = pod_teardown(m, p, err);
    *p = m->pods[--m->npods];
    return r;
}
