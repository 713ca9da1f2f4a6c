/* pod-local — the local backend: the unprivileged side of the pod manager.
 *
 * Every pod operation is one request to the manager (podmgr-client.c) over the
 * socketpair; requests from several threads (the pool's workers create and
 * destroy pods in parallel) are in flight together. Readiness is the sidecar's own
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
    struct podmgr_client *mgr;
    enum kcr_cgroup_mode cg_mode;
    unsigned long created, failed, live;
};

#define LOCAL_POD_MAGIC 0x6b63726cu /* "kcrl": tells local pods from other backends' */

struct local_pod {
    struct kcr_pod super;
    unsigned magic;
    char *working_dir;
};

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

static int call(struct pod_local *pl, enum podmgr_op op, uint32_t flags, const char *arg,
                struct podmgr_resp *resp, struct kcr_err *err)
{
    return podmgr_call(pl->mgr, op, flags, arg, resp, err);
}

static void local_destroy(struct kcr_pod_backend *be, struct kcr_pod *pod)
{
    struct pod_local *pl = (struct pod_local *)be;
    if (!pod)
        return;
    struct local_pod *lp = (struct local_pod *)pod;
    struct podmgr_resp resp;
    struct kcr_err e = {0};
    if (call(pl, PODMGR_DESTROY, 0, pod->id, &resp, &e) == 0)
        __atomic_sub_fetch(&pl->live, 1, __ATOMIC_RELAXED);
    free(pod->unix_socket);
    free(pod->base_url);
    free(lp->working_dir);
    free(lp);
}

static struct kcr_pod *create_pod(struct kcr_pod_backend *be, const struct kcr_lang *lang,
                                  bool lite, struct kcr_err *err)
{
    struct pod_local *pl = (struct pod_local *)be;
    struct podmgr_resp resp;
    if (call(pl, PODMGR_CREATE, lite ? PODMGR_LITE : 0, lang->code, &resp, err) < 0) {
        __atomic_add_fetch(&pl->failed, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    __atomic_add_fetch(&pl->live, 1, __ATOMIC_RELAXED);
    struct local_pod *lp = xcalloc(1, sizeof(*lp));
    snprintf(lp->super.id, sizeof(lp->super.id), "%s", resp.id);
    lp->super.lang = lang;
    lp->super.lite = lite;
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

static struct kcr_pod *local_create(struct kcr_pod_backend *be, const struct kcr_lang *lang,
                                    struct kcr_err *err)
{
    return create_pod(be, lang, false, err);
}

/* Lite pods need a fork-server (root) whose standard template preloads
 * something; only py has one. */
static bool local_has_lite(struct kcr_pod_backend *be, const struct kcr_lang *lang)
{
    const struct pod_local *pl = (const struct pod_local *)be;
    return pl->cfg.forkserver && !pl->cfg.rootless && pl->cfg.preload_py && pl->cfg.preload_py[0] &&
           !strcmp(lang->code, "py");
}

static struct kcr_pod *local_create_lite(struct kcr_pod_backend *be, const struct kcr_lang *lang,
                                         struct kcr_err *err)
{
    return create_pod(be, lang, true, err);
}

static json_t *local_health(struct kcr_pod_backend *be)
{
    struct pod_local *pl = (struct pod_local *)be;
    bool alive = podmgr_alive(pl->mgr);
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
    pl->mgr = podmgr_stop(pl->mgr); /* it destroys every pod */
    pod_local_config_done(&pl->cfg);
    free(pl);
}

static const struct kcr_pod_ops local_ops = {
    .name = "local",
    .create = local_create,
    .has_lite = local_has_lite,
    .create_lite = local_create_lite,
    .destroy = local_destroy,
    .health = local_health,
    .free = local_free,
};

struct kcr_pod_backend *pod_local_new(const struct kcr_pod_local_config *cfg, struct kcr_err *err)
{
    (void)curl_init_once(NULL);
    struct pod_local *pl = xcalloc(1, sizeof(*pl));
    pl->super.ops = &local_ops;
    pod_local_config_copy(&pl->cfg, cfg);
    pl->mgr = podmgr_start(&pl->cfg, err);
    if (!pl->mgr) {
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
