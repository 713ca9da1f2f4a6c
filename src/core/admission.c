#include "core/admission.h"
#include "common/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct kcr_admission {
    pthread_mutex_t lock;
    pthread_cond_t freed; /* CLOCK_MONOTONIC */
    long max, running, waiting, wait_ms;
    unsigned long long refused;
};

struct kcr_admission *admission_new(long max, long wait_ms)
{
    struct kcr_admission *a = xcalloc(1, sizeof(*a));
    a->max = max < 1 ? 1 : max;
    a->wait_ms = wait_ms < 0 ? 0 : wait_ms;
    pthread_mutex_init(&a->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    /* A wall-clock jump must not stretch or cut the wait. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&a->freed, &attr);
    pthread_condattr_destroy(&attr);
    return a;
}

struct kcr_admission *admission_free(struct kcr_admission *a)
{
    if (!a)
        return NULL;
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->freed);
    free(a);
    return NULL;
}

int admission_enter(struct kcr_admission *a, struct kcr_err *err)
{
    if (!a)
        return 0;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += a->wait_ms / 1000;
    until.tv_nsec += (a->wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->lock);
    a->waiting++;
    int e = 0;
    while (a->running >= a->max && e != ETIMEDOUT)
        e = pthread_cond_timedwait(&a->freed, &a->lock, &until);
    a->waiting--;
    bool admitted = a->running < a->max;
    if (admitted)
        a->running++;
    else
        a->refused++;
    long max = a->max;
    pthread_mutex_unlock(&a->lock);
    if (!admitted)
        return kcr_err_set(err, 0, KCR_ERR_BUSY,
                           "Server busy: all %ld execution slots are in use; retry shortly", max);
    return 0;
}

void admission_leave(struct kcr_admission *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->running--;
    pthread_cond_signal(&a->freed);
    pthread_mutex_unlock(&a->lock);
}

void admission_stats(struct kcr_admission *a, struct kcr_admission_stats *ret)
{
    *ret = (struct kcr_admission_stats){0};
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    *ret = (struct kcr_admission_stats){a->max, a->running, a->waiting, a->refused};
    pthread_mutex_unlock(&a->lock);
}

long admission_default_max(long mem_mb)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    long max = (cpus > 0 ? cpus : 1) * 4;
    if (pages > 0 && page > 0 && mem_mb > 0) {
        long by_mem = (long)((double)pages * (double)page * 0.75 / ((double)mem_mb * 1048576.0));
        if (by_mem < max)
            max = by_mem;
    }
    return max < 1 ? 1 : max;
}
