/* pool — warm pods per language on top of any backend.
 *
 * At start a background thread creates POD_POOL_<CODE> pods per language
 * (defaults: py 2, js 1, others 0), and POD_POOL_<CODE>_LITE lite pods where
 * the backend makes them (py 2), and replenishes after each acquire. Pods are
 * single-use: pool_release() destroys the pod. pool_acquire() waits a bounded
 * time for a warm pod, then creates one on demand. Idle pods that fail their
 * health check are replaced. Thread-safe. */
#pragma once

#include <jansson.h>

#include "common/err.h"
#include "common/lang.h"
#include "pod/pod.h"

struct kcr_pool;

struct kcr_pool_config {
    int size[32];        /* warm pods per language, indexed like lang_all() */
    int lite_size[32];   /* warm lite pods (pod.h) per language, where the backend has them */
    int acquire_wait_ms; /* how long acquire waits for a warm pod (default 2000) */
    int health_every_s;  /* idle health-check period (default 30) */
};

/* Reads POD_POOL_<CODE> and POD_POOL_<CODE>_LITE (upper-case code) for
 * every language into cfg. */
int pool_config_from_env(struct kcr_pool_config *cfg, struct kcr_err *err);

/* Starts the pool (and its background thread) on a backend (borrowed). */
struct kcr_pool *pool_new(struct kcr_pod_backend *be, const struct kcr_pool_config *cfg,
                          struct kcr_err *err);

/* A ready pod for lang: warm if one is there, else created now. lite asks
 * for a lite pod (pod.h), and gets an ordinary one where lang has none. */
struct kcr_pod *pool_acquire(struct kcr_pool *pool, const struct kcr_lang *lang, bool lite,
                             struct kcr_err *err);

/* Destroys a used pod and wakes the replenisher. Accepts NULL. */
void pool_release(struct kcr_pool *pool, struct kcr_pod *pod);

/* {"py":{"target":2,"warm":2,"creating":0,"in_use":1,"failures":0,
 * "lite":{the same of its lite pods, when it has them}}, ...} for /metrics and health. */
json_t *pool_stats(struct kcr_pool *pool);

/* Stops the thread and destroys every idle pod. Accepts NULL; returns NULL. */
struct kcr_pool *pool_free(struct kcr_pool *pool);
