/* pod-local — the local backend: the unprivileged side of the pod manager.
 *
 * Every pod operation is one request to the manager (podmgr-client.c) over the
 * socketpair, serialized by a mutex (the pool creates pods from a background
 * thread while handlers destroy them). Readiness is the sidecar's own
 * GET /ready answering 200 over its unix socket. */
#include "pod/pod-local.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/config.h"
#include "common/xalloc.h"
#include "common/time.h"
#include "common/curl-init.h"
#include "pod/podmgr.h"
#include "sandbox/cgroup.h"

struct pod_local {
    struct kcr_pod_backend super;
    struct kcr_pod_local_config cfg;
    pthread_mutex_t lock;
    int fd;
    pid_t mgr_pid;
    enum kcr_cgroup_mode cg_mode;
    unsigned long created, failed, live;
};

#define LOCAL_POD_MAGIC 0x6b63726cu /* "kcrl": tells local pods from other backends' */

struct local_pod {
    struct kcr_pod super;
    unsigned magic;
    char *working_dir;
};

/*** Configuration ***/

static char *exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return xstrdup(".");
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    return xstrdup(buf);
}

static int parse_cpus(long *ret, struct kcr_err *err)
{
    const char *v = config_str("MAX_CPUS", "1.0");
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < 0.01 || d > 1024)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "MAX_CPUS: '%s' is not a number in 0.01..1024",
                           v);
    *ret = (long)(d * 1000 + 0.5);
    return 0;
}

int pod_local_config_from_env(struct kcr_pod_local_config *cfg, struct kcr_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    _cleanup_free_ char *dir = exe_dir();
    cfg->rootless = geteuid() != 0;
    if (cfg->rootless) {
        _cleanup_free_ char *def = xasprintf("/tmp/kcr-%u", (unsigned)getuid());
        cfg->run_dir = xstrdup(config_str("KCR_RUN_DIR", def));
    } else {
        cfg->run_dir = xstrdup(config_str("KCR_RUN_DIR", "/run/kcr"));
    }
    _cleanup_free_ char *rt = xasprintf("%s/runtime", dir);
    _cleanup_free_ char *sc = xasprintf("%s/kcr-sidecar", dir);
    _cleanup_free_ char *ne = xasprintf("%s/kcr-nsexec", dir);
    _cleanup_free_ char *fl = xasprintf("%s/kcr-forkserver.so", dir);
    cfg->runtime_dir = xstrdup(config_str("KCR_RUNTIME_DIR", rt));
    cfg->sidecar_bin = xstrdup(config_str("KCR_SIDECAR_BIN", sc));
    cfg->nsexec_bin = xstrdup(config_str("KCR_NSEXEC_BIN", ne));
    cfg->cgroup_parent = xstrdup(config_str("KCR_CGROUP_PARENT", "kcr"));
    cfg->forkserver_lib = xstrdup(config_str("KCR_FORKSERVER_LIB", fl));
    /* "none": a template that imports nothing (the interpreter start-up is
     * still saved); empty means the default, as for every variable. */
    const char *preload = config_str("PRELOAD_PY", LANG_PRELOAD_PY_DEFAULT);
    cfg->preload_py = xstrdup(strcmp(preload, "none") ? preload : "");
    if (config_bool("FORKSERVER", !cfg->rootless, &cfg->forkserver, err) < 0 ||
        config_long("FORKSERVER_WAIT_MS", 30000, 0, 600000, &cfg->forkserver_wait_ms, err) < 0 ||
        config_long("MAX_MEMORY_MB", 512, 16, 1 << 20, &cfg->memory_mb, err) < 0 ||
        config_long("MAX_PIDS", 256, 8, 1 << 22, &cfg->pids_max, err) < 0 ||
        parse_cpus(&cfg->cpu_millis, err) < 0 ||
        config_long("POD_TMP_MB", 256, 1, 1 << 20, &cfg->tmp_mb, err) < 0 ||
        config_long("POD_DATA_MB", 512, 1, 1 << 20, &cfg->data_mb, err) < 0 ||
        config_long("POD_READY_TIMEOUT_MS", 10000, 100, 600000, &cfg->ready_ms, err) < 0) {
        pod_local_config_done(cfg);
        return -1;
    }
    if (cfg->rootless)
        cfg->forkserver = false; /* it needs root to enter pods */
    if (cfg->run_dir[0] != '/' || cfg->runtime_dir[0] != '/' || cfg->sidecar_bin[0] != '/' ||
        cfg->nsexec_bin[0] != '/') {
        pod_local_config_done(cfg);
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "KCR_RUN_DIR, KCR_RUNTIME_DIR, KCR_SIDECAR_BIN and KCR_NSEXEC_BIN "
                           "must be absolute paths");
    }
    return 0;
}

void pod_local_config_done(struct kcr_pod_local_config *cfg)
{
    free(cfg->run_dir);
    free(cfg->runtime_dir);
    free(cfg->sidecar_bin);
    free(cfg->nsexec_bin);
    free(cfg->cgroup_parent);
    free(cfg->forkserver_lib);
    free(cfg->preload_py);
    memset(cfg, 0, sizeof(*cfg));
}

static void config_copy(struct kcr_pod_local_config *dst, const struct kcr_pod_local_config *src)
{
    *dst = *src;
    dst->run_dir = xstrdup(src->run_dir);
    dst->runtime_dir = xstrdup(src->runtime_dir);
    dst->sidecar_bin = xstrdup(src->sidecar_bin);
    dst->nsexec_bin = xstrdup(src->nsexec_bin);
    dst->cgroup_parent = xstrdup(src->cgroup_parent);
    dst->forkserver_lib = xstrdup(src->forkserver_lib);
    dst->preload_py = xstrdup(src->preload_py);
}

/*** Readiness ***/

static size_t discard_cb(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* Polls GET /ready until 200 or the deadline. The sidecar binds its socket
 * a few milliseconds after exec; until then connect fails fast. */
static int wait_ready(const struct kcr_pod *pod, long timeout_ms, struct kcr_err *err)
{
    CURL *h = curl_easy_init();
    if (!h)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "curl_easy_init");
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, pod->unix_socket);
    curl_easy_setopt(h, CURLOPT_URL, "http://localhost/ready");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
    long deadline = time_mono_ms() + timeout_ms, status = 0, delay_us = 500;
    CURLcode rc = CURLE_OK;
    while (time_mono_ms() < deadline) {
        if (access(pod->unix_socket, F_OK) == 0) {
            rc = curl_easy_perform(h);
            status = 0;
            if (rc == CURLE_OK)
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            if (status == 200)
                break;
        }
        usleep((useconds_t)delay_us);
        if (delay_us < 20000)
            delay_us *= 2;
    }
    curl_easy_cleanup(h);
    if (status == 200)
        return 0;
    return kcr_err_set(err, 0, KCR_ERR_TIMEOUT,
                       "sidecar of pod '%s' not ready within %ld ms (last: %s, HTTP %ld)", pod->id,
                       timeout_ms, curl_easy_strerror(rc), status);
}

/*** Backend ops ***/

static int call(struct pod_local *pl, enum podmgr_op op, const char *arg, struct podmgr_resp *resp,
                struct kcr_err *err)
{
    struct podmgr_req req = {.op = op};
    snprintf(req.arg, sizeof(req.arg), "%s", arg);
    pthread_mutex_lock(&pl->lock);
    int r = podmgr_call(pl->fd, &req, resp, err);
    pthread_mutex_unlock(&pl->lock);
    return r;
}

static void local_destroy(struct kcr_pod_backend *be, struct kcr_pod *pod)
{
    struct pod_local *pl = (struct pod_local *)be;
    if (!pod)
        return;
    struct local_pod *lp = (struct local_pod *)pod;
    struct podmgr_resp resp;
    struct kcr_err e = {0};
    if (call(pl, PODMGR_DESTROY, pod->id, &resp, &e) == 0)
        __atomic_sub_fetch(&pl->live, 1, __ATOMIC_RELAXED);
    free(pod->unix_socket);
    free(pod->base_url);
    free(lp->working_dir);
    free(lp);
}

static struct kcr_pod *local_create(struct kcr_pod_backend *be, const struct kcr_lang *lang,
                                    struct kcr_err *err)
{
    struct pod_local *pl = (struct pod_local *)be;
    struct podmgr_resp resp;
    if (call(pl, PODMGR_CREATE, lang->code, &resp, err) < 0) {
        __atomic_add_fetch(&pl->failed, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    __atomic_add_fetch(&pl->live, 1, __ATOMIC_RELAXED);
    struct local_pod *lp = xcalloc(1, sizeof(*lp));
    snprintf(lp->super.id, sizeof(lp->super.id), "%s", resp.id);
    lp->super.lang = lang;
    lp->super.unix_socket = xstrdup(resp.socket);
    lp->super.base_url = xstrdup("http://localhost");
    lp->magic = LOCAL_POD_MAGIC;
    lp->working_dir = xstrdup(resp.working_dir);
    if (wait_ready(&lp->super, pl->cfg.ready_ms, err) < 0) {
        local_destroy(be, &lp->super);
        __atomic_add_fetch(&pl->failed, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    __atomic_add_fetch(&pl->created, 1, __ATOMIC_RELAXED);
    return &lp->super;
}

static json_t *local_health(struct kcr_pod_backend *be)
{
    struct pod_local *pl = (struct pod_local *)be;
    bool alive = waitpid(pl->mgr_pid, NULL, WNOHANG) == 0;
    const char *status = !alive ? "unhealthy" : pl->cfg.rootless ? "degraded" : "healthy";
    return json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:{s:I, s:I, s:f}}", "status", status,
                     "isolation", pl->cfg.rootless ? "rootless" : "namespaces+cgroups", "cgroups",
                     cgroup_mode_name(pl->cg_mode), "pod_manager_alive", alive, "pods_live",
                     (json_int_t)pl->live, "pods_created", (json_int_t)pl->created, "pods_failed",
                     (json_int_t)pl->failed, "limits", "memory_mb", (json_int_t)pl->cfg.memory_mb,
                     "pids", (json_int_t)pl->cfg.pids_max, "cpus", pl->cfg.cpu_millis / 1000.0);
}

static void local_free(struct kcr_pod_backend *be)
{
    struct pod_local *pl = (struct pod_local *)be;
    if (!pl)
        return;
    /* Closing the socket makes the manager destroy every pod and exit. */
    pl->fd = safe_close(pl->fd);
    if (pl->mgr_pid > 0)
        while (waitpid(pl->mgr_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    pthread_mutex_destroy(&pl->lock);
    pod_local_config_done(&pl->cfg);
    free(pl);
}

static const struct kcr_pod_ops local_ops = {
    .name = "local",
    .create = local_create,
    .destroy = local_destroy,
    .health = local_health,
    .free = local_free,
};

struct kcr_pod_backend *pod_local_new(const struct kcr_pod_local_config *cfg, struct kcr_err *err)
{
    (void)curl_init_once(NULL);
    struct pod_local *pl = xcalloc(1, sizeof(*pl));
    pl->super.ops = &local_ops;
    config_copy(&pl->cfg, cfg);
    pthread_mutex_init(&pl->lock, NULL);
    pl->fd = -1;
    pl->mgr_pid = podmgr_start(&pl->cfg, &pl->fd, err);
    if (pl->mgr_pid < 0) {
        pl->mgr_pid = 0;
        local_free(&pl->super);
        return NULL;
    }
    /* The mode for health(): detection is cheap and read-only. */
    struct kcr_cgroup_mgr *cgm = cfg->rootless ? NULL : cgroup_mgr_new(NULL, "kcr", NULL);
    pl->cg_mode = cgm ? cgroup_mgr_mode(cgm) : KCR_CGROUP_DISABLED;
    cgroup_mgr_free(cgm);
    return &pl->super;
}

const char *pod_local_working_dir(const struct kcr_pod_backend *be, const struct kcr_pod *pod)
{
    if (!be || be->ops != &local_ops || !pod)
        return NULL;
    const struct local_pod *lp = (const struct local_pod *)pod;
    return lp->magic == LOCAL_POD_MAGIC ? lp->working_dir : NULL;
}
