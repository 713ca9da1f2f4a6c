/* blob-s3-get — open(): an object streamed to the caller through a pipe.
 *
 * A detached thread runs the GET and writes the body into the pipe; open()
 * returns the read end as soon as the response headers are in, with the
 * size from Content-Length, so nothing is buffered whole. The reader sees
 * EOF at the end, or early (fewer than size bytes) if the transfer broke:
 * consumers compare what they read with the size. A reader that closes its
 * end stops the thread (EPIPE: SIGPIPE is blocked in the thread, whatever the
 * process does with it); one that stops reading for timeout_ms too. */
#include "store/blob-s3-internal.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

struct stream {
    struct blob_s3 *s;
    char *key; /* the thread's copy */
    int wfd;
    struct s3_call call;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs; /* open() and the thread */
    bool headers;
    bool finished;
    long status;
    bool have_length;
    uint64_t length;
    int rc;
    struct kcr_err err;
};

static void stream_unref(struct stream *st)
{
    pthread_mutex_lock(&st->lock);
    bool last = --st->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (!last)
        return;
    s3_call_done(&st->call);
    free(st->key);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    free(st);
}

static bool sink(const char *p, size_t n, void *ctx)
{
    struct stream *st = ctx;
    while (n > 0) {
        ssize_t w = write(st->wfd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            /* A full pipe: wait for the reader, at most timeout_ms. */
            struct pollfd pfd = {.fd = st->wfd, .events = POLLOUT};
            int r = poll(&pfd, 1, (int)st->s->timeout_ms);
            if (r > 0 || (r < 0 && errno == EINTR))
                continue; /* writable, or the reader is gone: write says which */
        }
        return false; /* EPIPE: the reader closed; or it stopped reading */
    }
    return true;
}

static void on_headers(struct s3_call *c, void *ctx)
{
    struct stream *st = ctx;
    pthread_mutex_lock(&st->lock);
    st->headers = true;
    st->status = c->status;
    st->have_length = c->have_length;
    st->length = c->length;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

static void *get_main(void *arg)
{
    struct stream *st = arg;
    struct blob_s3 *s = st->s;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct kcr_err err = {0};
    int r = s3_call_run(s, &st->call, &err);
    st->wfd = safe_close(st->wfd); /* EOF for the reader */
    pthread_mutex_lock(&st->lock);
    st->rc = r;
    st->err = err;
    st->finished = true;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
    stream_unref(st);
    pthread_mutex_lock(&s->lock);
    if (--s->nstreams == 0)
        pthread_cond_broadcast(&s->streams_done);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int start(struct blob_s3 *s, struct stream *st, struct kcr_err *err)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&s->lock);
    s->nstreams++;
    pthread_mutex_unlock(&s->lock);
    pthread_t t;
    int e = pthread_create(&t, &attr, get_main, st);
    pthread_attr_destroy(&attr);
    if (e == 0)
        return 0;
    pthread_mutex_lock(&s->lock);
    s->nstreams--;
    pthread_mutex_unlock(&s->lock);
    return kcr_err_set(err, e, KCR_ERR_INTERNAL, "start s3 download thread");
}

/* Waits for the headers (or the end) and judges them: 0 with the size, or
 * -1 with err. */
static int wait_headers(struct stream *st, const char *key, uint64_t *ret_size, struct kcr_err *err)
{
    pthread_mutex_lock(&st->lock);
    while (!st->headers && !st->finished)
        pthread_cond_wait(&st->cond, &st->lock);
    int r = 0;
    if (st->headers && st->status >= 200 && st->status < 300) {
        if (st->have_length)
            *ret_size = st->length;
        else
            r = kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "s3 GET '%s': no Content-Length", key);
    } else {
        /* An error: its body (bounded) is read to the end for its code. */
        while (!st->finished)
            pthread_cond_wait(&st->cond, &st->lock);
        if (st->rc < 0) {
            if (err)
                *err = st->err;
            r = -1;
        } else {
            r = s3_call_check(&st->call, key, err);
            if (r == 0)
                r = kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "s3 GET '%s': no answer", key);
        }
    }
    pthread_mutex_unlock(&st->lock);
    return r;
}

int s3_get_open(struct blob_s3 *s, const char *key, uint64_t *ret_size, struct kcr_err *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "pipe");
    _cleanup_close_ int rfd = p[0];
    (void)fcntl(p[1], F_SETFL, O_NONBLOCK);
    (void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20); /* fewer wake-ups; the default if refused */
    struct stream *st = xcalloc(1, sizeof(*st));
    st->s = s;
    st->wfd = p[1];
    st->refs = 2;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    st->call = (struct s3_call){
        .method = "GET", .fd = -1, .sink = sink, .on_headers = on_headers, .ctx = st};
    st->key = xstrdup(key);
    st->call.key = st->key;
    if (start(s, st, err) < 0) {
        safe_close(st->wfd);
        st->refs = 1;
        stream_unref(st);
        return -1;
    }
    uint64_t size = 0;
    int r = wait_headers(st, key, &size, err);
    stream_unref(st);
    if (r < 0)
        return -1;
    if (ret_size)
        *ret_size = size;
    return TAKE_FD(rfd);
}
