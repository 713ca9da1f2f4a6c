#include "http/http-watch.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "common/time.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

/* How often the watchdog looks: deadlines are kept to within this. */
#define TICK_MS 500

struct http_watch_conn {
    struct http_watch_conn *prev, *next;
    int fd;
    int64_t deadline_ms; /* 0: none (a handler runs) */
    bool cut;
    const char *phase;
};

struct http_watch {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    pthread_t thread;
    bool stop;
    unsigned header_s, body_s, idle_s;
    struct http_watch_conn *head;
    unsigned long cut;
};

/* Cuts what is past its deadline; the log says how many and why. */
static void sweep(struct http_watch *w)
{
    unsigned headers = 0, bodies = 0;
    int64_t now = time_mono_ms();
    for (struct http_watch_conn *c = w->head; c; c = c->next) {
        if (c->cut || !c->deadline_ms || now < c->deadline_ms)
            continue;
        c->cut = true;
        (void)shutdown(c->fd, SHUT_RDWR);
        w->cut++;
        *(c->phase[0] == 'h' ? &headers : &bodies) += 1;
    }
    if (headers || bodies)
        log_json(KCR_LOG_WARN, NULL, "slow connections cut",
                 json_pack("{s:i,s:i,s:i,s:i}", "headers", headers, "bodies", bodies,
                           "header_timeout_s", w->header_s, "body_timeout_s", w->body_s));
}

static void *watch_main(void *arg)
{
    struct http_watch *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&w->wake, &w->lock, &until);
        if (!w->stop)
            sweep(w);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct http_watch *http_watch_start(unsigned header_s, unsigned body_s, unsigned idle_s)
{
    struct http_watch *w = xcalloc(1, sizeof(*w));
    w->header_s = header_s;
    w->body_s = body_s;
    w->idle_s = idle_s;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        free(w);
        return NULL;
    }
    return w;
}

struct http_watch *http_watch_stop(struct http_watch *w)
{
    if (!w)
        return NULL;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    /* The daemon is stopped first: every connection was closed already. */
    while (w->head) {
        struct http_watch_conn *c = w->head;
        w->head = c->next;
        free(c);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    free(w);
    return NULL;
}

static void set_deadline(struct http_watch *w, struct http_watch_conn *c, unsigned s,
                         const char *phase)
{
    if (!w || !c)
        return;
    pthread_mutex_lock(&w->lock);
    c->deadline_ms = s ? time_mono_ms() + (int64_t)s * 1000 : 0;
    c->phase = phase;
    pthread_mutex_unlock(&w->lock);
}

struct http_watch_conn *http_watch_open(struct http_watch *w, int fd)
{
    if (!w || fd < 0)
        return NULL;
    struct http_watch_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fd = fd;
    c->phase = "headers";
    pthread_mutex_lock(&w->lock);
    c->deadline_ms = time_mono_ms() + (int64_t)w->header_s * 1000;
    c->next = w->head;
    if (w->head)
        w->head->prev = c;
    w->head = c;
    pthread_mutex_unlock(&w->lock);
    return c;
}

void http_watch_close(struct http_watch *w, struct http_watch_conn *c)
{
    if (!w || !c)
        return;
    pthread_mutex_lock(&w->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&w->lock);
    free(c);
}

void http_watch_headers(struct http_watch *w, struct http_watch_conn *c)
{
    set_deadline(w, c, w ? w->body_s : 0, "body");
}

void http_watch_busy(struct http_watch *w, struct http_watch_conn *c)
{
    set_deadline(w, c, 0, "handler");
}

void http_watch_idle(struct http_watch *w, struct http_watch_conn *c)
{
    set_deadline(w, c, w ? w->idle_s : 0, "headers");
}

unsigned long http_watch_cut_count(struct http_watch *w)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    unsigned long n = w->cut;
    pthread_mutex_unlock(&w->lock);
    return n;
}
