/* pod-k8s-watch — the watcher thread of the kubernetes backend (pod-k8s.c):
 * keeps the cache of the namespace's kcr pods current with a list, then a watch
 * from the list's resourceVersion. */
#include "pod/pod-k8s-internal.h"

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "pod/k8s-pod.h"
#include "pod/k8s-spec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*** Watch ***/

/* Caller holds mu. */
static void set_rv(struct k8s_backend *b, const char *rv)
{
    if (rv && *rv) {
        free(b->rv);
        b->rv = xstrdup(rv);
    }
}

static int on_event(const char *type, json_t *obj, void *ud)
{
    struct k8s_backend *b = ud;
    const char *name = k8s_pod_meta(obj, "name");
    pthread_mutex_lock(&b->mu);
    b->watch_ok = true;
    set_rv(b, k8s_pod_meta(obj, "resourceVersion"));
    if (name && (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")))
        json_object_set(b->cache, name, obj);
    else if (name && !strcmp(type, "DELETED"))
        json_object_del(b->cache, name);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
    return atomic_load(&b->stop) ? 1 : 0;
}

/* Replaces the cache with a fresh list. */
int pod_k8s_relist(struct k8s_backend *b, struct kcr_err *err)
{
    json_auto_t *list = NULL;
    if (k8s_pod_list(b->client, K8S_SELECTOR_ALL, &list, err) < 0)
        return -1;
    json_t *fresh = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(list, "items"), i, p)
    {
        const char *name = k8s_pod_meta(p, "name");
        if (name)
            json_object_set(fresh, name, p);
    }
    pthread_mutex_lock(&b->mu);
    json_decref(b->cache);
    b->cache = fresh;
    set_rv(b, k8s_pod_meta(list, "resourceVersion"));
    b->synced = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/* Sleeps up to ms, returning early when the backend stops. */
static void nap(struct k8s_backend *b, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->mu);
    if (!atomic_load(&b->stop))
        pthread_cond_timedwait(&b->cond, &b->mu, &ts);
    pthread_mutex_unlock(&b->mu);
}

void pod_k8s_record_error(struct k8s_backend *b, const struct kcr_err *err)
{
    pthread_mutex_lock(&b->mu);
    snprintf(b->last_error, sizeof(b->last_error), "%s", err->msg);
    pthread_mutex_unlock(&b->mu);
}

void *pod_k8s_watcher_main(void *arg)
{
    struct k8s_backend *b = arg;
    bool need_list = false; /* pod_k8s_new listed before starting us */
    long backoff = 200;
    while (!atomic_load(&b->stop)) {
        struct kcr_err err = {0};
        if (need_list) {
            if (pod_k8s_relist(b, &err) < 0) {
                pod_k8s_record_error(b, &err);
                nap(b, backoff);
                backoff = backoff < 2000 ? backoff * 2 : 2000;
                continue;
            }
            log_msg(KCR_LOG_INFO, NULL, "kubernetes: relisted pods at resourceVersion %s",
                    b->rv ? b->rv : "?");
            need_list = false;
        }
        pthread_mutex_lock(&b->mu);
        _cleanup_free_ char *rv = b->rv ? xstrdup(b->rv) : NULL;
        pthread_mutex_unlock(&b->mu);
        int rc = k8s_pod_watch(b->client, K8S_SELECTOR_ALL, rv, (int)b->cfg.watch_timeout_s,
                               on_event, b, &b->stop, &err);
        if (rc == 0) {
            backoff = 200;
            continue;
        }
        pthread_mutex_lock(&b->mu);
        b->watch_ok = false;
        snprintf(b->last_error, sizeof(b->last_error), "%s", err.msg);
        pthread_mutex_unlock(&b->mu);
        if (rc == K8S_GONE) {
            need_list = true;
            continue;
        }
        log_msg(KCR_LOG_WARN, NULL, "kubernetes: watch failed, retrying: %s", err.msg);
        nap(b, backoff);
        backoff = backoff < 2000 ? backoff * 2 : 2000;
    }
    return NULL;
}
