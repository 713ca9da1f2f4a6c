/* pod-k8s — execution pods as Kubernetes Pods, pooled in the cluster (pod-k8s.h).
 *
 * Three threads touch the shared state, always under `mu`:
 *  - the watcher (pod-k8s-watch.c) keeps `cache` (name -> Pod) current: list,
 *    then watch from the list's resourceVersion; a 410 relists; a dropped
 *    stream (API server restart) resumes from the last version seen;
 *  - the keeper (pod-k8s-keeper.c) refills the warm pool, renews the leases of
 *    the pods this replica holds, retries failed deletes and garbage-collects
 *    orphans;
 *  - callers of create()/destroy() (API threads).
 * HTTP calls are made without holding `mu`. */
#include "pod/pod-k8s.h"
#include "pod/pod-k8s-internal.h"

#include "common/cleanup.h"
#include "common/config.h"
#include "common/lang.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "common/time.h"
#include "pod/k8s-pod.h"
#include "pod/k8s-spec.h"
#include "pod/sidecar-client.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static struct k8s_backend *to_be(struct kcr_pod_backend *be)
{
    return (struct k8s_backend *)be;
}

int pod_k8s_lang_index(const char *code)
{
    size_t n = 0;
    const struct kcr_lang *langs = lang_all(&n);
    for (size_t i = 0; code && i < n && i < POD_K8S_MAX_LANGS; i++)
        if (!strcmp(langs[i].code, code))
            return (int)i;
    return -1;
}

/*** Creating, claiming, deleting ***/

static void random_hex(char *out, size_t nbytes)
{
    unsigned char r[16] = {0};
    if (nbytes > sizeof(r))
        nbytes = sizeof(r);
    if (getrandom(r, nbytes, 0) != (ssize_t)nbytes)
        for (size_t i = 0; i < nbytes; i++)
            r[i] = (unsigned char)rand();
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", r[i]);
}

static json_t *spec_params(struct k8s_backend *b, const struct kcr_lang *lang, const char *name,
                           bool claimed)
{
    const struct pod_k8s_config *c = &b->cfg;
    json_t *p =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                  " s:{s:s, s:s}, s:{}}",
                  "name", name, "namespace", c->client.namespace, "language", lang->code,
                  "registry", c->registry, "tag", c->tag, "pull_policy", c->pull_policy,
                  "memory_mb", (json_int_t)c->memory_mb, "cpu_millis", (json_int_t)c->cpu_millis,
                  "max_execution_time", (json_int_t)c->max_exec_s, "max_output_size",
                  (json_int_t)c->max_output, "max_pids", (json_int_t)c->max_pids, "data_size_mb",
                  (json_int_t)c->data_mb, "tmp_size_mb", (json_int_t)c->tmp_mb, "sidecar_port",
                  (json_int_t)c->sidecar_port, "labels", K8S_LABEL_POOL,
                  claimed ? "claimed" : "warm", "kcr.dev/creator", c->replica_id, "annotations");
    int li = pod_k8s_lang_index(lang->code);
    if (li >= 0 && b->spec_hash[li][0])
        json_object_set_new(json_object_get(p, "labels"), K8S_LABEL_SPEC,
                            json_string(b->spec_hash[li]));
    json_object_set_new(p, "main_memory_mb", json_integer(c->main_memory_mb));
    json_object_set_new(p, "main_cpu_millis", json_integer(c->main_cpu_millis));
    if (c->sidecar_image)
        json_object_set_new(p, "sidecar_image", json_string(c->sidecar_image));
    if (c->runtime_class)
        json_object_set_new(p, "runtime_class", json_string(c->runtime_class));
    if (c->preload_py && !strcmp(lang->code, "py"))
        json_object_set_new(p, "runner_preload", json_string(c->preload_py));
    if (claimed) {
        char lease[32], now[32];
        snprintf(lease, sizeof(lease), "%lld", (long long)(time(NULL) + c->lease_s));
        snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
        json_object_set_new(json_object_get(p, "labels"), K8S_LABEL_OWNER,
                            json_string(c->replica_id));
        json_object_set_new(json_object_get(p, "annotations"), K8S_ANNOT_LEASE, json_string(lease));
        json_object_set_new(json_object_get(p, "annotations"), K8S_ANNOT_CLAIMED, json_string(now));
    }
    return p;
}

/* FNV-1a of every language's rendered pod spec (labels excluded). Also
 * validates the configuration: a spec that cannot be built fails the start. */
static int compute_spec_hashes(struct k8s_backend *b, struct kcr_err *err)
{
    size_t n = 0;
    const struct kcr_lang *langs = lang_all(&n);
    for (size_t i = 0; i < n && i < POD_K8S_MAX_LANGS; i++) {
        json_auto_t *params = spec_params(b, &langs[i], "kcr-spec-hash", false);
        json_auto_t *pod = k8s_spec_pod(params, err);
        if (!pod)
            return -1;
        _cleanup_free_ char *text =
            json_dumps(json_object_get(pod, "spec"), JSON_SORT_KEYS | JSON_COMPACT);
        uint64_t h = 14695981039346656037ULL;
        for (const char *p = text ? text : ""; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        snprintf(b->spec_hash[i], sizeof(b->spec_hash[i]), "%016" PRIx64, h);
    }
    return 0;
}

/* Creates a pod (warm, or already claimed by us) and puts it in the cache so
 * the keeper does not count it missing before the watch reports it. */
char *pod_k8s_create_pod(struct k8s_backend *b, const struct kcr_lang *lang, bool claimed,
                         struct kcr_err *err)
{
    char hex[21];
    random_hex(hex, 5);
    _cleanup_free_ char *name = xasprintf("kcr-%s-%s", lang->code, hex);
    json_auto_t *params = spec_params(b, lang, name, claimed);
    json_auto_t *pod = k8s_spec_pod(params, err);
    json_auto_t *created = NULL;
    if (!pod || k8s_pod_create(b->client, pod, &created, err) < 0)
        return NULL;
    pthread_mutex_lock(&b->mu);
    if (!json_object_get(b->cache, name))
        json_object_set(b->cache, name, created);
    if (claimed)
        json_object_set_new(b->held, name, json_integer(time(NULL) + b->cfg.lease_s));
    b->n_created++;
    pthread_mutex_unlock(&b->mu);
    return TAKE_PTR(name);
}

/* Deletes now, or remembers to retry (the keeper) when the API is down. */
static void delete_pod(struct k8s_backend *b, const char *name)
{
    struct kcr_err err = {0};
    pthread_mutex_lock(&b->mu);
    json_object_del(b->held, name);
    pthread_mutex_unlock(&b->mu);
    if (k8s_pod_delete(b->client, name, 0, &err) == 0)
        return;
    pthread_mutex_lock(&b->mu);
    json_object_set_new(b->doomed, name, json_true());
    snprintf(b->last_error, sizeof(b->last_error), "%s", err.msg);
    pthread_mutex_unlock(&b->mu);
}

/* The claim: warm -> claimed by us, only if nobody changed the pod since we
 * saw version rv. Returns 0, K8S_CONFLICT, or -1 (gone or API failure). */
static int claim(struct k8s_backend *b, const char *name, const char *rv, struct kcr_err *err)
{
    char lease[32], now[32];
    snprintf(lease, sizeof(lease), "%lld", (long long)(time(NULL) + b->cfg.lease_s));
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    json_auto_t *patch =
        json_pack("{s:{s:s, s:{s:s, s:s}, s:{s:s, s:s}}}", "metadata", "resourceVersion", rv,
                  "labels", K8S_LABEL_POOL, "claimed", K8S_LABEL_OWNER, b->cfg.replica_id,
                  "annotations", K8S_ANNOT_LEASE, lease, K8S_ANNOT_CLAIMED, now);
    /* Held before the PATCH: a lease renewal may race ahead, never behind. */
    pthread_mutex_lock(&b->mu);
    json_object_set_new(b->held, name, json_integer(time(NULL) + b->cfg.lease_s));
    pthread_mutex_unlock(&b->mu);
    json_auto_t *updated = NULL;
    int rc = k8s_pod_patch(b->client, name, patch, &updated, err);
    pthread_mutex_lock(&b->mu);
    if (rc == 0) {
        json_object_set(b->cache, name, updated);
        b->n_claims++;
    } else {
        json_object_del(b->held, name);
        if (rc == K8S_CONFLICT)
            b->n_conflicts++;
    }
    b->kick = true; /* the pool lost a warm pod (or we learnt it is stale) */
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* Names and versions of lang's warm Ready pods, in random order. Caller holds mu. */
json_t *pod_k8s_warm_candidates(struct k8s_backend *b, const char *code, size_t *ret_pending)
{
    json_t *out = json_array();
    const char *name;
    json_t *p;
    int li = pod_k8s_lang_index(code);
    const char *hash = li >= 0 ? b->spec_hash[li] : "";
    *ret_pending = 0;
    json_object_foreach(b->cache, name, p)
    {
        if (strcmp(k8s_pod_label(p, K8S_LABEL_LANG) ?: "", code) ||
            strcmp(k8s_pod_label(p, K8S_LABEL_SPEC) ?: "", hash) ||
            strcmp(k8s_pod_label(p, K8S_LABEL_POOL) ?: "", "warm") || k8s_pod_is_deleting(p) ||
            k8s_pod_is_finished(p))
            continue;
        if (!k8s_pod_is_ready(p)) {
            (*ret_pending)++;
            continue;
        }
        json_array_append_new(out,
                              json_pack("[s, s]", name, k8s_pod_meta(p, "resourceVersion") ?: ""));
    }
    /* Shuffle so that replicas racing for the same pool mostly pick different pods. */
    for (size_t i = json_array_size(out); i > 1; i--) {
        size_t j = (size_t)rand() % i;
        json_t *a = json_incref(json_array_get(out, i - 1));
        json_array_set(out, i - 1, json_array_get(out, j));
        json_array_set_new(out, j, a);
    }
    return out;
}

/* Waits (bounded) for the cache to change. Caller holds mu. */
void pod_k8s_wait_change(struct k8s_backend *b, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&b->cond, &b->mu, &ts);
}

/* Tries to claim one warm Ready pod; returns its name or NULL. */
static char *claim_warm(struct k8s_backend *b, const struct kcr_lang *lang, size_t *ret_pending)
{
    pthread_mutex_lock(&b->mu);
    json_auto_t *cands = pod_k8s_warm_candidates(b, lang->code, ret_pending);
    pthread_mutex_unlock(&b->mu);
    size_t i;
    json_t *c;
    json_array_foreach(cands, i, c)
    {
        struct kcr_err err = {0};
        const char *name = json_string_value(json_array_get(c, 0));
        int rc = claim(b, name, json_string_value(json_array_get(c, 1)), &err);
        if (rc == 0)
            return xstrdup(name);
        if (rc == -1 && err.kind != KCR_ERR_NOT_FOUND)
            pod_k8s_record_error(b, &err);
    }
    return NULL;
}

/* Waits until pod name is Ready (returns its IP) or fails, or the deadline passes. */
static char *wait_ready(struct k8s_backend *b, const char *name, long deadline, struct kcr_err *err)
{
    long next_poll = 0;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        json_t *p = json_object_get(b->cache, name);
        if (p && k8s_pod_is_ready(p)) {
            char *ip = xstrdup(k8s_pod_ip(p));
            pthread_mutex_unlock(&b->mu);
            return ip;
        }
        if (p && k8s_pod_is_finished(p)) {
            pthread_mutex_unlock(&b->mu);
            return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "pod '%s' failed to start", name), NULL;
        }
        if (time_mono_ms() >= deadline || atomic_load(&b->stop)) {
            pthread_mutex_unlock(&b->mu);
            return kcr_err_set(err, 0, KCR_ERR_TIMEOUT, "pod '%s' not ready after %ld s", name,
                               b->cfg.ready_timeout_s),
                   NULL;
        }
        /* The watch feeds the cache; while it is down (API server restart),
         * look at the pod directly now and then. */
        if (!b->watch_ok && time_mono_ms() >= next_poll) {
            struct kcr_err gerr = {0};
            json_t *fresh = NULL;
            pthread_mutex_unlock(&b->mu);
            int rc = k8s_pod_get(b->client, name, &fresh, &gerr);
            pthread_mutex_lock(&b->mu);
            if (rc == 0)
                json_object_set_new(b->cache, name, fresh);
            next_poll = time_mono_ms() + 1000;
            continue;
        }
        pod_k8s_wait_change(b, 200);
    }
}

static struct kcr_pod *make_pod(struct k8s_backend *b, const struct kcr_lang *lang,
                                const char *name, const char *ip)
{
    struct kcr_pod *pod = xcalloc(1, sizeof(*pod));
    snprintf(pod->id, sizeof(pod->id), "%s", name);
    pod->lang = lang;
    pod->base_url = strchr(ip, ':') ? xasprintf("http://[%s]:%ld", ip, b->cfg.sidecar_port)
                                    : xasprintf("http://%s:%ld", ip, b->cfg.sidecar_port);
    return pod;
}

static void free_pod(struct kcr_pod *pod)
{
    if (pod) {
        free(pod->unix_socket);
        free(pod->base_url);
        free(pod);
    }
}

static struct kcr_pod *k8s_create(struct kcr_pod_backend *be, const struct kcr_lang *lang,
                                  struct kcr_err *err)
{
    struct k8s_backend *b = to_be(be);
    int li = pod_k8s_lang_index(lang->code);
    int target = li >= 0 ? b->cfg.pool_size[li] : 0;
    long deadline = time_mono_ms() + b->cfg.ready_timeout_s * 1000L;
    long warm_until = time_mono_ms() + (target > 0 ? b->cfg.acquire_wait_ms : 0);
    _cleanup_free_ char *name = NULL;
    for (;;) {
        size_t pending = 0;
        name = claim_warm(b, lang, &pending);
        if (name || time_mono_ms() >= warm_until || (pending == 0 && target == 0))
            break;
        pthread_mutex_lock(&b->mu);
        b->kick = true;
        pthread_cond_broadcast(&b->cond);
        pod_k8s_wait_change(b, 100);
        pthread_mutex_unlock(&b->mu);
    }
    if (!name) {
        name = pod_k8s_create_pod(b, lang, true, err);
        if (!name)
            return kcr_err_wrap(err, "kubernetes: create %s pod", lang->code), NULL;
    }
    _cleanup_free_ char *ip = wait_ready(b, name, deadline, err);
    if (!ip) {
        delete_pod(b, name);
        return NULL;
    }
    struct kcr_pod *pod = make_pod(b, lang, name, ip);
    /* Ready as the kubelet last saw it; one direct probe proves the route. */
    if (sidecar_client_ready(pod, 3000, err) < 0) {
        delete_pod(b, name);
        free_pod(pod);
        return kcr_err_wrap(err, "kubernetes: pod '%s'", name), NULL;
    }
    return pod;
}

static void k8s_destroy(struct kcr_pod_backend *be, struct kcr_pod *pod)
{
    if (!pod)
        return;
    delete_pod(to_be(be), pod->id);
    free_pod(pod);
}

/*** Health and lifetime ***/

static json_t *k8s_health(struct kcr_pod_backend *be)
{
    struct k8s_backend *b = to_be(be);
    json_t *pools = json_object();
    size_t n = 0;
    const struct kcr_lang *langs = lang_all(&n);
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < n && i < POD_K8S_MAX_LANGS; i++) {
        size_t pending = 0;
        json_auto_t *ready = pod_k8s_warm_candidates(b, langs[i].code, &pending);
        if (b->cfg.pool_size[i] > 0 || json_array_size(ready) || pending)
            json_object_set_new(pools, langs[i].code,
                                json_pack("{s:i, s:i, s:i}", "target", b->cfg.pool_size[i], "warm",
                                          (int)json_array_size(ready), "starting", (int)pending));
    }
    const char *status = !b->synced ? "unhealthy" : b->watch_ok ? "healthy" : "degraded";
    json_t *h = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:i, s:i, s:I, s:I, s:I, s:I, s:o, s:s}", "status", status,
        "backend", "kubernetes", "namespace", b->cfg.client.namespace, "replica", b->cfg.replica_id,
        "watching", b->watch_ok, "pods_seen", (int)json_object_size(b->cache), "held",
        (int)json_object_size(b->held), "claims", (json_int_t)b->n_claims, "claim_conflicts",
        (json_int_t)b->n_conflicts, "created", (json_int_t)b->n_created, "garbage_collected",
        (json_int_t)b->n_gc, "pools", pools, "last_error", b->last_error);
    pthread_mutex_unlock(&b->mu);
    return h;
}

static void k8s_free(struct kcr_pod_backend *be)
{
    struct k8s_backend *b = to_be(be);
    if (!b)
        return;
    atomic_store(&b->stop, true);
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
    if (b->threads) {
        pthread_join(b->watcher, NULL);
        pthread_join(b->keeper, NULL);
    }
    /* Pods we still hold die with us; warm pods stay for the other replicas. */
    const char *name;
    json_t *v;
    json_auto_t *held = json_deep_copy(b->held);
    json_object_foreach(held, name, v)
    {
        struct kcr_err err = {0};
        (void)k8s_pod_delete(b->client, name, 0, &err);
    }
    json_decref(b->held);
    json_decref(b->doomed);
    json_decref(b->cache);
    free(b->rv);
    k8s_client_free(b->client);
    pod_k8s_config_done(&b->cfg);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static const struct kcr_pod_ops k8s_ops = {
    .name = "kubernetes",
    .create = k8s_create,
    .destroy = k8s_destroy,
    .health = k8s_health,
    .free = k8s_free,
};

struct kcr_pod_backend *pod_k8s_new(const struct pod_k8s_config *cfg, struct kcr_err *err)
{
    struct k8s_backend *b = xcalloc(1, sizeof(*b));
    b->super.ops = &k8s_ops;
    pod_k8s_config_copy(&b->cfg, cfg);
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    b->cache = json_object();
    b->held = json_object();
    b->doomed = json_object();
    unsigned seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (unsigned)time(NULL);
    srand(seed ^ (unsigned)getpid());
    b->client = compute_spec_hashes(b, err) < 0 ? NULL : k8s_client_new(&b->cfg.client, err);
    if (!b->client || pod_k8s_relist(b, err) < 0) {
        kcr_err_wrap(err, "kubernetes backend");
        k8s_free(&b->super);
        return NULL;
    }
    b->watch_ok = true;
    if (pthread_create(&b->watcher, NULL, pod_k8s_watcher_main, b) != 0) {
        kcr_err_set(err, errno, KCR_ERR_INTERNAL, "kubernetes backend: pthread_create");
        k8s_free(&b->super);
        return NULL;
    }
    if (pthread_create(&b->keeper, NULL, pod_k8s_keeper_main, b) != 0) {
        atomic_store(&b->stop, true);
        pthread_join(b->watcher, NULL);
        kcr_err_set(err, errno, KCR_ERR_INTERNAL, "kubernetes backend: pthread_create");
        k8s_free(&b->super);
        return NULL;
    }
    b->threads = true;
    return &b->super;
}
