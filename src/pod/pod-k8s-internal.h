/* pod-k8s-internal — what the parts of the kubernetes backend share: the
 * backend struct and the functions one part calls in another. pod-k8s.c:
 * creating, claiming and deleting pods, health and lifetime; pod-k8s-watch.c:
 * the watcher thread; pod-k8s-keeper.c: the keeper thread. Not for use outside
 * src/pod. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "common/lang.h"
#include "pod/pod-k8s.h"

struct k8s_backend {
    struct kcr_pod_backend super;
    struct pod_k8s_config cfg;
    struct k8s_client *client;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* cache changed, or a kick for the keeper */
    json_t *cache;       /* name -> Pod, fed by the watch */
    char *rv;            /* last resourceVersion seen */
    bool synced;         /* the cache reflects a list (+ watch) */
    bool watch_ok;       /* the last watch attempt connected */
    bool kick;           /* wake the keeper now */
    json_t *held;        /* name -> lease expiry (unix s) of pods we hold */
    json_t *doomed;      /* name -> true: deletes to retry */
    /* Hash of the pod spec each language's pods get from this replica's
     * configuration: only pods with our hash are claimed or counted, so a
     * replica never runs code under another configuration's limits. */
    char spec_hash[POD_K8S_MAX_LANGS][17];
    char last_error[256];
    unsigned long n_claims, n_conflicts, n_created, n_gc;
    atomic_bool stop;
    pthread_t watcher, keeper;
    bool threads;
};

/* pod-k8s.c */

/* Index of language code in lang_all(), or -1. */
int pod_k8s_lang_index(const char *code);
/* Names and versions of lang's warm Ready pods, in random order. Caller holds mu. */
json_t *pod_k8s_warm_candidates(struct k8s_backend *b, const char *code, size_t *ret_pending);
/* Creates a pod (warm, or already claimed by us) and puts it in the cache so
 * the keeper does not count it missing before the watch reports it. */
char *pod_k8s_create_pod(struct k8s_backend *b, const struct kcr_lang *lang, bool claimed,
                         struct kcr_err *err);
/* Waits (bounded) for the cache to change. Caller holds mu. */
void pod_k8s_wait_change(struct k8s_backend *b, long ms);

/* pod-k8s-watch.c */

/* Keeps err's message as the backend's last error (health). */
void pod_k8s_record_error(struct k8s_backend *b, const struct kcr_err *err);
/* Replaces the cache with a fresh list. */
int pod_k8s_relist(struct k8s_backend *b, struct kcr_err *err);
/* The watcher thread: keeps the cache current until b->stop. */
void *pod_k8s_watcher_main(void *arg);

/* pod-k8s-keeper.c */

/* The keeper thread: refill, leases, retried deletes, garbage collection. */
void *pod_k8s_keeper_main(void *arg);
