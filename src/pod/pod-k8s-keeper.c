/* pod-k8s-keeper — the keeper thread of the kubernetes backend (pod-k8s.c):
 * refills the warm pool, renews this replica's leases, retries failed deletes
 * and garbage-collects orphans. */
#include "pod/pod-k8s-internal.h"

#include "common/cleanup.h"
#include "common/lang.h"
#include "common/log.h"
#include "common/time.h"
#include "pod/k8s-pod.h"
#include "pod/k8s-spec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*** Keeper: refill, leases, retries, garbage collection ***/

static void refill(struct k8s_backend *b)
{
    size_t n = 0;
    const struct kcr_lang *langs = lang_all(&n);
    for (size_t i = 0; i < n && i < POD_K8S_MAX_LANGS && !atomic_load(&b->stop); i++) {
        if (b->cfg.pool_size[i] <= 0)
            continue;
        size_t pending = 0;
        pthread_mutex_lock(&b->mu);
        json_auto_t *ready = b->synced ? pod_k8s_warm_candidates(b, langs[i].code, &pending) : NULL;
        pthread_mutex_unlock(&b->mu);
        if (!ready)
            return;
        long missing = b->cfg.pool_size[i] - (long)(json_array_size(ready) + pending);
        /* One batch per round: the pods start in parallel in the cluster,
         * and the next round sees them through the watch. */
        for (long k = 0; k < missing && k < b->cfg.batch; k++) {
            struct kcr_err err = {0};
            _cleanup_free_ char *name = pod_k8s_create_pod(b, &langs[i], false, &err);
            if (!name) {
                pod_k8s_record_error(b, &err);
                break;
            }
        }
    }
}

static void renew_leases(struct k8s_backend *b)
{
    time_t now = time(NULL);
    json_auto_t *due = json_array();
    const char *name;
    json_t *v;
    pthread_mutex_lock(&b->mu);
    json_object_foreach(b->held, name, v)
    {
        if (json_integer_value(v) - now < b->cfg.lease_s / 2)
            json_array_append_new(due, json_string(name));
    }
    pthread_mutex_unlock(&b->mu);
    size_t i;
    json_array_foreach(due, i, v)
    {
        char lease[32];
        time_t until = time(NULL) + b->cfg.lease_s;
        snprintf(lease, sizeof(lease), "%lld", (long long)until);
        json_auto_t *patch =
            json_pack("{s:{s:{s:s}}}", "metadata", "annotations", K8S_ANNOT_LEASE, lease);
        struct kcr_err err = {0};
        if (k8s_pod_patch(b->client, json_string_value(v), patch, NULL, &err) < 0) {
            pod_k8s_record_error(b, &err);
            continue;
        }
        pthread_mutex_lock(&b->mu);
        if (json_object_get(b->held, json_string_value(v)))
            json_object_set_new(b->held, json_string_value(v), json_integer(until));
        pthread_mutex_unlock(&b->mu);
    }
}

static void retry_deletes(struct k8s_backend *b)
{
    pthread_mutex_lock(&b->mu);
    json_auto_t *names = json_deep_copy(b->doomed);
    pthread_mutex_unlock(&b->mu);
    const char *name;
    json_t *v;
    json_object_foreach(names, name, v)
    {
        struct kcr_err err = {0};
        if (k8s_pod_delete(b->client, name, 0, &err) < 0) {
            pod_k8s_record_error(b, &err);
            return;
        }
        pthread_mutex_lock(&b->mu);
        json_object_del(b->doomed, name);
        pthread_mutex_unlock(&b->mu);
    }
}

/* Why a pod in the cache is garbage, or NULL. Caller holds mu. */
static const char *garbage_reason(struct k8s_backend *b, const char *name, const json_t *p,
                                  time_t now)
{
    const char *pool = k8s_pod_label(p, K8S_LABEL_POOL) ?: "";
    time_t age = now - k8s_pod_created_at(p);
    if (k8s_pod_is_deleting(p))
        return NULL;
    if (k8s_pod_is_finished(p))
        return "finished";
    if (!strcmp(pool, "claimed")) {
        if (json_object_get(b->held, name))
            return NULL; /* ours: we renew its lease */
        long until = k8s_pod_annotation_long(p, K8S_ANNOT_LEASE);
        if (until ? until < now : age > b->cfg.lease_s)
            return "lease expired";
        return NULL;
    }
    if (age > b->cfg.max_age_s)
        return "max age";
    /* Warm pods of another configuration (a rolling update, another
     * deployment's settings): left to their replicas for a while, then
     * replaced, so that they do not hold cluster resources forever. */
    int li = pod_k8s_lang_index(k8s_pod_label(p, K8S_LABEL_LANG));
    if (li >= 0 && strcmp(k8s_pod_label(p, K8S_LABEL_SPEC) ?: "", b->spec_hash[li]) &&
        age > b->cfg.foreign_grace_s)
        return "other configuration";
    if (!k8s_pod_is_ready(p) && age > b->cfg.ready_timeout_s + 30)
        return "never ready";
    return NULL;
}

static void collect_garbage(struct k8s_backend *b)
{
    time_t now = time(NULL);
    json_auto_t *victims = json_object();
    const char *name;
    json_t *p;
    pthread_mutex_lock(&b->mu);
    if (b->synced)
        json_object_foreach(b->cache, name, p)
        {
            const char *why = garbage_reason(b, name, p, now);
            if (why)
                json_object_set_new(victims, name,
                                    json_pack("{s:s, s:s}", "reason", why, "rv",
                                              k8s_pod_meta(p, "resourceVersion") ?: ""));
        }
    pthread_mutex_unlock(&b->mu);
    json_object_foreach(victims, name, p)
    {
        struct kcr_err err = {0};
        /* Only the version judged: a pod claimed, or whose lease its owner
         * renewed, since our cache saw it is not garbage (409: skip). */
        int rc = k8s_pod_delete_if(b->client, name, 0, json_string_value(json_object_get(p, "rv")),
                                   &err);
        if (rc == K8S_CONFLICT)
            continue;
        if (rc < 0) {
            pod_k8s_record_error(b, &err);
            continue;
        }
        pthread_mutex_lock(&b->mu);
        b->n_gc++;
        pthread_mutex_unlock(&b->mu);
        log_json(KCR_LOG_INFO, NULL, "kubernetes: garbage-collected pod",
                 json_pack("{s:s, s:O}", "pod", name, "reason", json_object_get(p, "reason")));
    }
}

void *pod_k8s_keeper_main(void *arg)
{
    struct k8s_backend *b = arg;
    long next_gc = 0;
    while (!atomic_load(&b->stop)) {
        retry_deletes(b);
        renew_leases(b);
        refill(b);
        if (time_mono_ms() >= next_gc) {
            collect_garbage(b);
            next_gc = time_mono_ms() + b->cfg.gc_interval_s * 1000L;
        }
        pthread_mutex_lock(&b->mu);
        if (!b->kick && !atomic_load(&b->stop))
            pod_k8s_wait_change(b, 1000);
        b->kick = false;
        pthread_mutex_unlock(&b->mu);
    }
    return NULL;
}
