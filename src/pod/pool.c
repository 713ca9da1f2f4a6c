/* pool — warm pods per language on top of any backend (see pool.h).
 *
 * A few identical worker threads share one mutex and one condition variable.
 * Each loop takes the most urgent job: create a pod for a language somebody is
 * waiting for, destroy a released pod (so teardown never sits on a request's
 * path), create a pod to reach a language's target, health-check an idle pod.
 * Failed creations back off exponentially per language (0.5 s doubling to
 * 60 s) and are logged once with their cause, so a missing runtime never
 * makes the pool spin. The workers are the pool's "background thread"; there
 * are several only so that pods are created and destroyed in parallel. */
#include "pod/pool.h"

#include "common/cleanup.h"
#include "common/config.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "common/time.h"
#include "pod/sidecar-client.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LANGS        32
#define MAX_POOLS        (2 * MAX_LANGS) /* a language's pods and its lite pods */
#define WORKERS          4
#define BACKOFF_FIRST_MS 500L
#define BACKOFF_MAX_MS   60000L
#define READY_TIMEOUT_MS 2000
#define IDLE_TICK_MS     1000L

struct idle_pod {
    struct kcr_pod *pod;
    long long checked_ms; /* last successful readiness check */
};

struct lang_pool {
    const struct kcr_lang *lang;
    bool lite; /* its pods are lite pods (pod.h) */
    int target;
    struct idle_pod *idle; /* FIFO, capacity target */
    int nidle;
    int creating; /* by workers and on demand */
    int checking; /* idle pods out for a health check */
    int in_use;
    int waiters; /* pool_acquire calls waiting for a warm pod */
    int failures;
    long long retry_ms; /* no worker creation before this (backoff) */
    bool logged;        /* the current failure streak was logged */
};

struct kcr_pool {
    struct kcr_pod_backend *be;
    int acquire_wait_ms;
    int health_every_ms;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* any state change; everyone re-checks */
    bool stopping;
    struct lang_pool langs[MAX_POOLS];
    size_t nlangs;         /* pools in langs */
    struct kcr_pod **reap; /* released pods waiting for destruction */
    size_t nreap, reap_alloc;
    pthread_t workers[WORKERS];
    int nworkers;
};

static void wait_until(struct kcr_pool *p, long long deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000,
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    (void)pthread_cond_timedwait(&p->cond, &p->mu, &ts);
}

/*** Configuration ***/

int pool_config_from_env(struct kcr_pool_config *cfg, struct kcr_err *err)
{
    *cfg = (struct kcr_pool_config){.acquire_wait_ms = 2000, .health_every_s = 30};
    size_t n;
    const struct kcr_lang *all = lang_all(&n);
    for (size_t i = 0; i < n && i < MAX_LANGS; i++) {
        char name[64];
        int w = snprintf(name, sizeof(name), "POD_POOL_");
        for (const char *c = all[i].code; *c && w < (int)sizeof(name) - 1; c++)
            name[w++] = (char)toupper((unsigned char)*c);
        name[w] = '\0';
        long def = !strcmp(all[i].code, "py") ? 2 : !strcmp(all[i].code, "js") ? 1 : 0;
        long v;
        if (config_long(name, def, 0, 64, &v, err) < 0)
            return -1;
        cfg->size[i] = (int)v;
        snprintf(name + w, sizeof(name) - (size_t)w, "_LITE");
        if (config_long(name, !strcmp(all[i].code, "py") ? 2 : 0, 0, 64, &v, err) < 0)
            return -1;
        cfg->lite_size[i] = (int)v;
    }
    return 0;
}

/*** Queues (called with the mutex held) ***/

/* lang's pool of lite pods or of the others; NULL when there is none. */
static struct lang_pool *lang_pool_of(struct kcr_pool *p, const struct kcr_lang *lang, bool lite)
{
    for (size_t i = 0; i < p->nlangs; i++)
        if (p->langs[i].lite == lite &&
            (p->langs[i].lang == lang || !strcmp(p->langs[i].lang->code, lang->code)))
            return &p->langs[i];
    return NULL;
}

static struct kcr_pod *create_for(struct kcr_pool *p, const struct lang_pool *lp,
                                  struct kcr_err *err)
{
    return lp->lite ? p->be->ops->create_lite(p->be, lp->lang, err)
                    : p->be->ops->create(p->be, lp->lang, err);
}

static void reap_push(struct kcr_pool *p, struct kcr_pod *pod)
{
    if (p->nreap == p->reap_alloc) {
        p->reap_alloc = p->reap_alloc ? 2 * p->reap_alloc : 16;
        p->reap = xrealloc(p->reap, p->reap_alloc * sizeof(*p->reap));
    }
    p->reap[p->nreap++] = pod;
}

static void idle_push(struct lang_pool *lp, struct kcr_pod *pod, long long checked_ms)
{
    lp->idle[lp->nidle++] = (struct idle_pod){pod, checked_ms};
}

static struct kcr_pod *idle_take(struct lang_pool *lp, int i)
{
    struct kcr_pod *pod = lp->idle[i].pod;
    memmove(&lp->idle[i], &lp->idle[i + 1], (size_t)(lp->nidle - i - 1) * sizeof(*lp->idle));
    lp->nidle--;
    return pod;
}

static int deficit(const struct lang_pool *lp)
{
    return lp->target - lp->nidle - lp->checking - lp->creating;
}

static bool in_backoff(const struct lang_pool *lp, long long now)
{
    return lp->failures > 0 && now < lp->retry_ms;
}

/*** Creation results ***/

static void note_failure(struct lang_pool *lp, const struct kcr_err *err)
{
    lp->failures++;
    long delay = BACKOFF_FIRST_MS << (lp->failures < 8 ? lp->failures - 1 : 7);
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    lp->retry_ms = time_mono_ms() + delay;
    if (lp->logged)
        return;
    lp->logged = true;
    log_json(KCR_LOG_WARN, NULL, "pool: cannot create pods; retrying with backoff",
             json_pack("{s:s, s:s, s:s, s:I}", "lang", lp->lang->code, "error", err->msg, "kind",
                       kcr_err_kind_name(err->kind), "retry_in_ms", (json_int_t)delay));
}

static void note_success(struct lang_pool *lp)
{
    if (lp->logged)
        log_json(KCR_LOG_INFO, NULL, "pool: creating pods again",
                 json_pack("{s:s}", "lang", lp->lang->code));
    lp->failures = 0;
    lp->retry_ms = 0;
    lp->logged = false;
}

/*** Workers ***/

static void do_create(struct kcr_pool *p, struct lang_pool *lp)
{
    lp->creating++;
    pthread_mutex_unlock(&p->mu);
    struct kcr_err err = {0};
    struct kcr_pod *pod = create_for(p, lp, &err);
    pthread_mutex_lock(&p->mu);
    lp->creating--;
    if (!pod)
        note_failure(lp, &err);
    else if (p->stopping || lp->nidle >= lp->target)
        reap_push(p, pod), note_success(lp);
    else
        idle_push(lp, pod, time_mono_ms()), note_success(lp);
    pthread_cond_broadcast(&p->cond);
}

static void do_reap(struct kcr_pool *p)
{
    struct kcr_pod *pod = p->reap[--p->nreap];
    pthread_mutex_unlock(&p->mu);
    p->be->ops->destroy(p->be, pod);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cond);
}

static void do_check(struct kcr_pool *p, struct lang_pool *lp, int i)
{
    struct kcr_pod *pod = idle_take(lp, i);
    lp->checking++;
    pthread_mutex_unlock(&p->mu);
    struct kcr_err err = {0};
    int r = sidecar_client_ready(pod, READY_TIMEOUT_MS, &err);
    pthread_mutex_lock(&p->mu);
    lp->checking--;
    if (r == 0 && !p->stopping) {
        idle_push(lp, pod, time_mono_ms());
    } else {
        if (r < 0)
            log_json(KCR_LOG_WARN, NULL, "pool: idle pod failed its health check; replacing it",
                     json_pack("{s:s, s:s, s:s}", "lang", lp->lang->code, "pod", pod->id, "error",
                               err.msg));
        reap_push(p, pod);
    }
    pthread_cond_broadcast(&p->cond);
}

/* One unit of work, most urgent first. Returns false when there is none;
 * *next_ms then says when something (backoff, health check) falls due. */
static bool work_once(struct kcr_pool *p, long long *next_ms)
{
    long long now = time_mono_ms();
    *next_ms = now + IDLE_TICK_MS;
    for (size_t i = 0; i < p->nlangs; i++) {
        struct lang_pool *lp = &p->langs[i];
        if (lp->waiters > 0 && deficit(lp) > 0 && !in_backoff(lp, now) && !p->stopping)
            return do_create(p, lp), true;
    }
    if (p->nreap > 0)
        return do_reap(p), true;
    if (p->stopping)
        return false;
    for (size_t i = 0; i < p->nlangs; i++) {
        struct lang_pool *lp = &p->langs[i];
        if (deficit(lp) <= 0)
            continue;
        if (!in_backoff(lp, now))
            return do_create(p, lp), true;
        if (lp->retry_ms < *next_ms)
            *next_ms = lp->retry_ms;
    }
    for (size_t i = 0; i < p->nlangs; i++) {
        struct lang_pool *lp = &p->langs[i];
        for (int k = 0; k < lp->nidle; k++) {
            long long due = lp->idle[k].checked_ms + p->health_every_ms;
            if (due <= now)
                return do_check(p, lp, k), true;
            if (due < *next_ms)
                *next_ms = due;
        }
    }
    return false;
}

static void *worker(void *arg)
{
    struct kcr_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        long long next_ms;
        if (work_once(p, &next_ms))
            continue;
        if (p->stopping)
            break;
        wait_until(p, next_ms);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/*** Public interface ***/

struct kcr_pool *pool_new(struct kcr_pod_backend *be, const struct kcr_pool_config *cfg,
                          struct kcr_err *err)
{
    struct kcr_pool *p = xcalloc(1, sizeof(*p));
    p->be = be;
    p->acquire_wait_ms = cfg->acquire_wait_ms > 0 ? cfg->acquire_wait_ms : 0;
    p->health_every_ms = (cfg->health_every_s > 0 ? cfg->health_every_s : 30) * 1000;
    size_t n;
    const struct kcr_lang *all = lang_all(&n);
    n = n < MAX_LANGS ? n : MAX_LANGS;
    for (size_t i = 0; i < n; i++) {
        struct lang_pool *lp = &p->langs[p->nlangs++];
        lp->lang = &all[i];
        lp->target = cfg->size[i] > 0 ? cfg->size[i] : 0;
        lp->idle = xcalloc((size_t)lp->target + 1, sizeof(struct idle_pod));
    }
    /* Lite pools only where the backend makes lite pods. */
    for (size_t i = 0; i < n; i++) {
        if (cfg->lite_size[i] <= 0 || !be->ops->has_lite || !be->ops->create_lite ||
            !be->ops->has_lite(be, &all[i]))
            continue;
        struct lang_pool *lp = &p->langs[p->nlangs++];
        lp->lang = &all[i];
        lp->lite = true;
        lp->target = cfg->lite_size[i];
        lp->idle = xcalloc((size_t)lp->target + 1, sizeof(struct idle_pod));
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < WORKERS; i++) {
        int r = pthread_create(&p->workers[i], NULL, worker, p);
        if (r != 0) {
            kcr_err_set(err, r, KCR_ERR_INTERNAL, "pool: start worker thread");
            return pool_free(p);
        }
        p->nworkers++;
    }
    return p;
}

struct kcr_pod *pool_acquire(struct kcr_pool *pool, const struct kcr_lang *lang, bool lite,
                             struct kcr_err *err)
{
    pthread_mutex_lock(&pool->mu);
    struct lang_pool *lp = lite ? lang_pool_of(pool, lang, true) : NULL;
    if (!lp)
        lp = lang_pool_of(pool, lang, false);
    if (!lp) {
        pthread_mutex_unlock(&pool->mu);
        kcr_err_set(err, 0, KCR_ERR_INVALID, "pool: unknown language '%s'", lang->code);
        return NULL;
    }
    long long deadline = time_mono_ms() + pool->acquire_wait_ms;
    bool announced = false;
    for (;;) {
        if (lp->nidle > 0) {
            struct kcr_pod *pod = idle_take(lp, 0);
            lp->in_use++;
            pthread_cond_broadcast(&pool->cond); /* replenish */
            pthread_mutex_unlock(&pool->mu);
            return pod;
        }
        /* Wait only if a pod is on its way; a language without a warm
         * target, or one whose creation keeps failing, goes straight to an
         * on-demand create (which reports the cause). */
        bool coming = lp->creating > 0 || lp->checking > 0 ||
                      (lp->target > 0 && !in_backoff(lp, time_mono_ms()));
        if (!coming || pool->stopping || time_mono_ms() >= deadline)
            break;
        lp->waiters++;
        /* The workers learn of a new waiter once. Broadcasting again on every
         * wake-up would wake the other waiters, which broadcast in turn: a
         * futex ping-pong that burnt ~40% of the CPU with more clients than
         * warm pods. */
        if (!announced)
            pthread_cond_broadcast(&pool->cond);
        announced = true;
        wait_until(pool, deadline);
        lp->waiters--;
    }
    lp->creating++;
    pthread_mutex_unlock(&pool->mu);
    struct kcr_pod *pod = create_for(pool, lp, err);
    pthread_mutex_lock(&pool->mu);
    lp->creating--;
    if (pod) {
        lp->in_use++;
        note_success(lp);
    }
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mu);
    if (!pod)
        kcr_err_wrap(err, "create %s pod", lang->code);
    return pod;
}

void pool_release(struct kcr_pool *pool, struct kcr_pod *pod)
{
    if (!pod)
        return;
    pthread_mutex_lock(&pool->mu);
    struct lang_pool *lp = lang_pool_of(pool, pod->lang, pod->lite);
    if (lp && lp->in_use > 0)
        lp->in_use--;
    reap_push(pool, pod);
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mu);
}

json_t *pool_stats(struct kcr_pool *pool)
{
    json_t *o = json_object();
    pthread_mutex_lock(&pool->mu);
    for (size_t i = 0; i < pool->nlangs; i++) {
        const struct lang_pool *lp = &pool->langs[i];
        json_t *one = json_pack("{s:i, s:i, s:i, s:i, s:i}", "target", lp->target, "warm",
                                lp->nidle + lp->checking, "creating", lp->creating, "in_use",
                                lp->in_use, "failures", lp->failures);
        /* The standard pools come first: a lite one goes inside its language's. */
        json_t *std = lp->lite ? json_object_get(o, lp->lang->code) : NULL;
        if (std)
            json_object_set_new(std, "lite", one);
        else
            json_object_set_new(o, lp->lang->code, one);
    }
    pthread_mutex_unlock(&pool->mu);
    return o;
}

struct kcr_pool *pool_free(struct kcr_pool *pool)
{
    if (!pool)
        return NULL;
    pthread_mutex_lock(&pool->mu);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mu);
    /* Workers finish what they hold (a creation in flight ends in the reap
     * queue) and drain the reap queue before they exit. */
    for (int i = 0; i < pool->nworkers; i++)
        pthread_join(pool->workers[i], NULL);
    for (size_t i = 0; i < pool->nlangs; i++) {
        struct lang_pool *lp = &pool->langs[i];
        while (lp->nidle > 0)
            pool->be->ops->destroy(pool->be, idle_take(lp, lp->nidle - 1));
        free(lp->idle);
    }
    for (size_t i = 0; i < pool->nreap; i++)
        pool->be->ops->destroy(pool->be, pool->reap[i]);
    free(pool->reap);
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->mu);
    free(pool);
    return NULL;
}
