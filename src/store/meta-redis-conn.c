/* meta-redis-conn — the Redis store's transport: a pool of connections
 * shared by every thread, each a non-blocking socket (plain or TLS through
 * OpenSSL) whose every wait is bounded by poll() and the configured timeout.
 * hiredis only encodes commands and parses replies: hiredis 0.14 (Debian 12)
 * has no TLS, and its blocking context cannot bound a connect. */
#include "store/meta-redis-internal.h"
#include "common/cleanup.h"
#include "common/time.h"
#include "common/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

/*** Arguments ***/

void rds_arg(struct rds_args *a, const char *s)
{
    if (a->n >= RDS_ARGS_MAX)
        abort(); /* a programming error: RDS_ARGS_MAX is sized for the scripts */
    a->v[a->n] = s;
    a->len[a->n] = strlen(s);
    a->n++;
}

void rds_arg_i64(struct rds_args *a, int64_t x)
{
    snprintf(a->nums[a->n], sizeof(a->nums[0]), "%lld", (long long)x);
    rds_arg(a, a->nums[a->n]);
}

void rds_arg_fmt(struct rds_args *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap, NULL);
    va_end(ap);
    a->owned[a->n] = s;
    rds_arg(a, s);
}

void rds_args_done(struct rds_args *a)
{
    for (int i = 0; i < a->n; i++)
        a->owned[i] = (free(a->owned[i]), NULL);
    a->n = 0;
}

/*** Reply bounds ***/

/* hiredis's own object functions, wrapped so that a reply announcing more
 * elements or bytes than the bounds fails as out-of-memory in the parser
 * (a protocol error) instead of allocating them. */
static redisReplyObjectFunctions default_fns, bounded_fns;
static pthread_once_t fns_once = PTHREAD_ONCE_INIT;

static void *bounded_string(const redisReadTask *t, char *s, size_t len)
{
    return len > RDS_STRING_MAX ? NULL : default_fns.createString(t, s, len);
}

/* The element count is an int in hiredis 0.14 (Debian 12) and a size_t from
 * 1.0 on (Debian 13, the images' base). */
#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
typedef size_t rds_count;
#else
typedef int rds_count;
#endif

static void *bounded_array(const redisReadTask *t, rds_count n)
{
    return (long long)n < 0 || (size_t)n > RDS_ARRAY_MAX ? NULL : default_fns.createArray(t, n);
}

static void fns_init(void)
{
    redisReader *rd = redisReaderCreate();
    if (!rd)
        abort();
    default_fns = *rd->fn;
    redisReaderFree(rd);
    bounded_fns = default_fns;
    bounded_fns.createString = bounded_string;
    bounded_fns.createArray = bounded_array;
}

/*** Socket I/O with a deadline ***/

/* Waits until fd is ready for events or the monotonic deadline passes:
 * 0, or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - time_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* A BIO over the non-blocking socket that sends with MSG_NOSIGNAL: OpenSSL's
 * own socket BIO writes with write(), which raises SIGPIPE on a peer gone. */
static int bio_write(BIO *b, const char *buf, int len)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    ssize_t n;
    BIO_clear_retry_flags(b);
    do
        n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_write(b);
    return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    ssize_t n;
    BIO_clear_retry_flags(b);
    do
        n = recv(fd, buf, (size_t)len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_read(b);
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* Runs one step of TLS (rc from SSL_*) to its wait: 1 retry after waiting,
 * 0 done, -1 failed (errno-style code in *ret_e, 0 for a TLS error). */
static int ssl_wait(struct rds_conn *c, int rc, int64_t deadline, int *ret_e)
{
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        int w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        *ret_e = -w;
        return w < 0 ? -1 : 1;
    }
    *ret_e = e == SSL_ERROR_SYSCALL       ? (errno ? errno : ECONNRESET)
             : e == SSL_ERROR_ZERO_RETURN ? ECONNRESET
                                          : 0;
    return -1;
}

/* Writes all of buf before the deadline: 0 or -errno (-EPROTO for TLS). */
static int io_write(struct rds_conn *c, const char *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n;
        if (c->ssl) {
            int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
            int rc = SSL_write(c->ssl, buf, chunk), e = 0;
            if (rc <= 0) {
                int w = ssl_wait(c, rc, deadline, &e);
                if (w < 0)
                    return e ? -e : -EPROTO;
                continue;
            }
            n = rc;
        } else {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                int w = wait_fd(c->fd, POLLOUT, deadline);
                if (w < 0)
                    return w;
                continue;
            }
            if (n < 0)
                return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads what is there (at least one byte) before the deadline: the count,
 * or -errno (-ECONNRESET at end of stream, -EPROTO for TLS). */
static ssize_t io_read(struct rds_conn *c, char *buf, size_t size, int64_t deadline)
{
    for (;;) {
        if (c->ssl) {
            int rc = SSL_read(c->ssl, buf, (int)size), e = 0;
            if (rc > 0)
                return rc;
            if (ssl_wait(c, rc, deadline, &e) < 0)
                return e ? -e : -EPROTO;
            continue;
        }
        ssize_t n = recv(c->fd, buf, size, 0);
        if (n > 0)
            return n;
        if (n == 0)
            return -ECONNRESET;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int w = wait_fd(c->fd, POLLIN, deadline);
        if (w < 0)
            return w;
    }
}

/*** Connections ***/

static void conn_close(struct rds_conn *c)
{
    if (c->ssl) {
        /* No close_notify: it could block, and the server does not need it. */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    c->fd = safe_close(c->fd);
    if (c->rd) {
        redisReaderFree(c->rd);
        c->rd = NULL;
    }
}

/* A non-blocking socket connected to addr before the deadline: fd or -errno. */
static int connect_addr(const struct sockaddr *addr, socklen_t len, int64_t deadline)
{
    _cleanup_close_ int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, addr, len) < 0) {
        if (errno != EINPROGRESS && errno != EINTR)
            return -errno;
        int w = wait_fd(fd, POLLOUT, deadline), soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (w < 0)
            return w;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            return -errno;
        if (soerr)
            return -soerr;
    }
    if (addr->sa_family != AF_UNIX) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return TAKE_FD(fd);
}

/* getaddrinfo() in a thread of its own, waited for until the deadline: the
 * resolver's own bounds (resolv.conf: 5 s a try, two tries, up to three
 * servers) are far longer than REDIS_SOCKET_TIMEOUT, and a connect that
 * waits them out holds its HTTP request as long. A lookup that outlives
 * the wait ends in its thread, which then frees what the caller left. */
struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    int refs;            /* the thread's and the caller's */
    bool done;
    int rc; /* getaddrinfo's */
    struct addrinfo *res;
    char *host, *port;
};

/* Drops one reference, mu held; unlocks it and frees on the last. */
static void lookup_unref(struct lookup *l)
{
    bool last = --l->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (!last)
        return;
    if (l->res)
        freeaddrinfo(l->res);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
    free(l->host);
    free(l->port);
    free(l);
}

static void *lookup_run(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(l->host, l->port, &hints, &res);
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->res = res;
    l->done = true;
    pthread_cond_signal(&l->cond);
    lookup_unref(l);
    return NULL;
}

/* 0 with *ret (freeaddrinfo it), -ETIMEDOUT past the deadline (a monotonic
 * time_mono_ms), or 1 when getaddrinfo failed, with its code in *gai. */
static int resolve(const char *host, const char *port, int64_t deadline, struct addrinfo **ret,
                   int *gai)
{
    struct lookup *l = xcalloc(1, sizeof(*l));
    l->host = xstrdup(host);
    l->port = xstrdup(port);
    l->refs = 2;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&l->mu, NULL);
    pthread_attr_t ta;
    pthread_attr_init(&ta);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int e = pthread_create(&t, &ta, lookup_run, l);
    pthread_attr_destroy(&ta);
    pthread_mutex_lock(&l->mu);
    if (e != 0) {
        l->refs = 1; /* no thread: resolve here, unbounded, rather than fail */
        pthread_mutex_unlock(&l->mu);
        l->rc = getaddrinfo(host, port,
                            &(struct addrinfo){.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM},
                            &l->res);
        pthread_mutex_lock(&l->mu);
        l->done = true;
    }
    struct timespec until = {.tv_sec = (time_t)(deadline / 1000),
                             .tv_nsec = (long)(deadline % 1000) * 1000000L};
    while (!l->done && pthread_cond_timedwait(&l->cond, &l->mu, &until) != ETIMEDOUT)
        ;
    int rc = -ETIMEDOUT;
    if (l->done) {
        *gai = l->rc;
        rc = l->rc == 0 ? 0 : 1;
        *ret = l->res;
        l->res = NULL;
    }
    lookup_unref(l);
    return rc;
}

/* The server's socket: a unix socket when host is a path, else the first
 * address of host that accepts, all before the deadline. */
static int connect_server(struct meta_redis *r, int64_t deadline, struct kcr_err *err)
{
    if (r->host[0] == '/') {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(r->host) >= sizeof(sun.sun_path))
            return kcr_err_set(err, 0, KCR_ERR_INVALID, "redis socket path too long");
        memcpy(sun.sun_path, r->host, strlen(r->host) + 1);
        int fd = connect_addr((struct sockaddr *)&sun, sizeof(sun), deadline);
        return fd >= 0 ? fd
                       : kcr_err_set(err, -fd, KCR_ERR_UNAVAILABLE, "redis connect '%s'", r->host);
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    struct addrinfo *res = NULL;
    int g = 0, rc = resolve(r->host, port, deadline, &res, &g);
    if (rc == -ETIMEDOUT)
        return kcr_err_set(err, ETIMEDOUT, KCR_ERR_UNAVAILABLE,
                           "redis resolve '%s': no answer within the socket timeout", r->host);
    if (rc != 0)
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "redis resolve '%s': %s", r->host,
                           gai_strerror(g));
    int fd = -ENOENT;
    for (struct addrinfo *ai = res; ai && fd < 0 && fd != -ETIMEDOUT; ai = ai->ai_next)
        fd = connect_addr(ai->ai_addr, ai->ai_addrlen, deadline);
    freeaddrinfo(res);
    if (fd < 0)
        return kcr_err_set(err, -fd, KCR_ERR_UNAVAILABLE, "redis connect '%s:%d'", r->host,
                           r->port);
    return fd;
}

static int tls_fail(struct meta_redis *r, struct rds_conn *c, int e, struct kcr_err *err)
{
    long v = SSL_get_verify_result(c->ssl);
    if (v != X509_V_OK)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "redis TLS '%s': certificate: %s", r->host,
                           X509_verify_cert_error_string(v));
    char buf[160] = "";
    unsigned long le = ERR_get_error();
    if (le)
        ERR_error_string_n(le, buf, sizeof(buf));
    ERR_clear_error();
    return kcr_err_set(err, e, KCR_ERR_UNAVAILABLE, "redis TLS handshake with '%s'%s%s", r->host,
                       buf[0] ? ": " : "", buf);
}

/* TLS over c->fd: the server's certificate checked against the CA and its
 * name (or IP address) against host, unless verification is off. */
static int tls_start(struct meta_redis *r, struct rds_conn *c, int64_t deadline,
                     struct kcr_err *err)
{
    ERR_clear_error();
    BIO *bio = BIO_new(r->bio_meth);
    if (!bio || !(c->ssl = SSL_new(r->ssl_ctx))) {
        BIO_free(bio);
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "redis TLS: out of memory");
    }
    BIO_set_data(bio, (void *)(intptr_t)c->fd);
    SSL_set_bio(c->ssl, bio, bio);
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, r->host, ip) == 1 || inet_pton(AF_INET6, r->host, ip) == 1;
    if (is_ip)
        (void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), r->host);
    else if (r->host[0] != '/') {
        (void)SSL_set_tlsext_host_name(c->ssl, r->host);
        (void)SSL_set1_host(c->ssl, r->host);
    }
    for (;;) {
        int rc = SSL_connect(c->ssl), e = 0;
        if (rc == 1)
            return 0;
        if (ssl_wait(c, rc, deadline, &e) < 0)
            return e == ETIMEDOUT ? kcr_err_set(err, e, KCR_ERR_UNAVAILABLE,
                                                "redis TLS handshake with '%s'", r->host)
                                  : tls_fail(r, c, e, err);
    }
}

/* Sends a and reads its reply on c, before the deadline. */
static int conn_call(struct rds_conn *c, const struct rds_args *a, int64_t deadline,
                     redisReply **ret, struct kcr_err *err)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, a->n, (const char **)a->v, a->len);
    if (len < 0)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "redis: cannot format the command");
    int w = io_write(c, cmd, (size_t)len, deadline);
    free(cmd);
    if (w < 0)
        return kcr_err_set(err, -w, KCR_ERR_UNAVAILABLE, "redis %s: send", a->v[0]);
    size_t fed = 0;
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(c->rd, &reply) != REDIS_OK)
            return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "redis %s: bad reply: %s", a->v[0],
                               c->rd->err == REDIS_ERR_OOM ? "over the size bounds"
                                                           : c->rd->errstr);
        if (reply) {
            *ret = reply;
            return 0;
        }
        char buf[16384];
        ssize_t n = io_read(c, buf, sizeof(buf), deadline);
        if (n < 0)
            return kcr_err_set(err, (int)-n, KCR_ERR_UNAVAILABLE, "redis %s: no reply", a->v[0]);
        if ((fed += (size_t)n) > RDS_REPLY_MAX)
            return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "redis %s: reply over %u bytes",
                               a->v[0], RDS_REPLY_MAX);
        if (redisReaderFeed(c->rd, buf, (size_t)n) != REDIS_OK)
            return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "redis %s: bad reply", a->v[0]);
    }
}

/* A command of the handshake (AUTH, SELECT): an error reply means the
 * settings are wrong, KCR_ERR_INVALID. */
static int conn_setup_cmd(struct rds_conn *c, const struct rds_args *a, int64_t deadline,
                          struct kcr_err *err)
{
    redisReply *rep = NULL;
    if (conn_call(c, a, deadline, &rep, err) < 0)
        return -1;
    int r = 0;
    if (rep->type == REDIS_REPLY_ERROR)
        r = kcr_err_set(err, 0, KCR_ERR_INVALID, "redis %s refused: %.160s", a->v[0], rep->str);
    freeReplyObject(rep);
    return r;
}

static int conn_open(struct meta_redis *r, struct rds_conn *c, struct kcr_err *err)
{
    int64_t deadline = time_mono_ms() + r->timeout_ms;
    int fd = connect_server(r, deadline, err);
    if (fd < 0)
        return -1;
    c->fd = fd;
    c->rd = redisReaderCreateWithFunctions(&bounded_fns);
    if (!c->rd)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "redis: out of memory");
    if (r->tls && tls_start(r, c, deadline, err) < 0)
        return -1;
    if (r->password) {
        struct rds_args a = {0};
        rds_arg(&a, "AUTH");
        if (r->username)
            rds_arg(&a, r->username);
        rds_arg(&a, r->password);
        if (conn_setup_cmd(c, &a, deadline, err) < 0)
            return -1;
    }
    struct rds_args a = {0};
    rds_arg(&a, "SELECT");
    rds_arg_i64(&a, r->db);
    /* SELECT even for db 0: a server that wants a password says so here. */
    return conn_setup_cmd(c, &a, deadline, err);
}

/* An idle connection that is readable has been closed by the server (or
 * sent something unasked): either way it is not reused. */
static bool conn_stale(const struct rds_conn *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

/*** The pool ***/

static int pool_get(struct meta_redis *r, struct rds_conn **ret, struct kcr_err *err)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += r->timeout_ms / 1000;
    ts.tv_nsec += (r->timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&r->lock);
    while (r->nfree == 0) {
        if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT && r->nfree == 0) {
            pthread_mutex_unlock(&r->lock);
            return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                               "redis: no free connection within %ld ms (%zu in use)",
                               r->timeout_ms, r->size);
        }
    }
    *ret = &r->conns[r->free[--r->nfree]];
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* Returns c to the pool; a connection that failed is closed first. */
static void pool_put(struct meta_redis *r, struct rds_conn *c, bool ok)
{
    if (!ok)
        conn_close(c);
    pthread_mutex_lock(&r->lock);
    r->free[r->nfree++] = (size_t)(c - r->conns);
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* A Redis that let a call run out its whole timeout is taken for hung for
 * RDS_DOWN_MS: calls in that window fail at once (a request makes several,
 * and must answer 503 within one timeout), then the next one tries again. */
#define RDS_DOWN_MS 1000

static bool is_down(struct meta_redis *r, int64_t now, struct kcr_err *err)
{
    pthread_mutex_lock(&r->lock);
    int64_t until = r->down_until_ms;
    pthread_mutex_unlock(&r->lock);
    if (now >= until)
        return false;
    kcr_err_set(err, ETIMEDOUT, KCR_ERR_UNAVAILABLE,
                "redis '%s' did not answer within %ld ms (next try in %lld ms)", r->host,
                r->timeout_ms, (long long)(until - now));
    return true;
}

static int call_failed(struct meta_redis *r, int64_t start)
{
    int64_t now = time_mono_ms();
    if (now - start >= r->timeout_ms) {
        pthread_mutex_lock(&r->lock);
        r->down_until_ms = now + RDS_DOWN_MS;
        pthread_mutex_unlock(&r->lock);
    }
    return -1;
}

int rds_command(struct meta_redis *r, const struct rds_args *a, redisReply **ret,
                struct kcr_err *err)
{
    struct rds_conn *c = NULL;
    *ret = NULL;
    int64_t start = time_mono_ms();
    if (is_down(r, start, err))
        return -1;
    if (pool_get(r, &c, err) < 0)
        return call_failed(r, start);
    if (c->fd >= 0 && conn_stale(c))
        conn_close(c);
    if (c->fd < 0 && conn_open(r, c, err) < 0) {
        pool_put(r, c, false);
        return call_failed(r, start);
    }
    int rc = conn_call(c, a, start + r->timeout_ms, ret, err);
    pool_put(r, c, rc == 0);
    return rc < 0 ? call_failed(r, start) : rc;
}

int rds_eval(struct meta_redis *r, size_t i, const struct rds_args *a, redisReply **ret,
             const char *what, struct kcr_err *err)
{
    struct rds_args e = {0};
    rds_arg(&e, "EVALSHA");
    rds_arg(&e, r->sha[i]);
    rds_arg(&e, "0");
    rds_arg(&e, r->prefix);
    for (int k = 0; k < a->n; k++) {
        e.v[e.n] = a->v[k];
        e.len[e.n++] = a->len[k];
    }
    if (rds_command(r, &e, ret, err) < 0)
        return -1;
    if ((*ret)->type == REDIS_REPLY_ERROR && strncmp((*ret)->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(*ret);
        e.v[0] = "EVAL";
        e.len[0] = 4;
        e.v[1] = r->scripts[i];
        e.len[1] = strlen(r->scripts[i]);
        if (rds_command(r, &e, ret, err) < 0)
            return -1;
    }
    if ((*ret)->type == REDIS_REPLY_ERROR) {
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "redis %s: %.160s", what, (*ret)->str);
        *ret = (freeReplyObject(*ret), NULL);
        return -1;
    }
    return 0;
}

/*** Setup ***/

static int tls_init(struct meta_redis *r, const struct kcr_redis_config *cfg, struct kcr_err *err)
{
    r->ssl_ctx = SSL_CTX_new(TLS_client_method());
    r->bio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kcr-redis");
    if (!r->ssl_ctx || !r->bio_meth)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "redis TLS: out of memory");
    BIO_meth_set_write(r->bio_meth, bio_write);
    BIO_meth_set_read(r->bio_meth, bio_read);
    BIO_meth_set_ctrl(r->bio_meth, bio_ctrl);
    BIO_meth_set_create(r->bio_meth, bio_create);
    (void)SSL_CTX_set_min_proto_version(r->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(r->ssl_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(r->ssl_ctx, cfg->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    int ok = cfg->tls_ca ? SSL_CTX_load_verify_locations(r->ssl_ctx, cfg->tls_ca, NULL)
                         : SSL_CTX_set_default_verify_paths(r->ssl_ctx);
    if (ok != 1)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "redis TLS: cannot load the CA '%s'",
                           cfg->tls_ca ? cfg->tls_ca : "(system)");
    if (cfg->tls_cert || cfg->tls_key) {
        if (!cfg->tls_cert || !cfg->tls_key)
            return kcr_err_set(err, 0, KCR_ERR_INVALID,
                               "redis TLS: a client certificate needs both cert and key");
        if (SSL_CTX_use_certificate_chain_file(r->ssl_ctx, cfg->tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(r->ssl_ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(r->ssl_ctx) != 1)
            return kcr_err_set(err, 0, KCR_ERR_INVALID,
                               "redis TLS: cannot load the client certificate '%s' and key '%s'",
                               cfg->tls_cert, cfg->tls_key);
    }
    ERR_clear_error();
    return 0;
}

int rds_pool_init(struct meta_redis *r, const struct kcr_redis_config *cfg, struct kcr_err *err)
{
    pthread_once(&fns_once, fns_init);
    r->host = xstrdup(cfg->host && cfg->host[0] ? cfg->host : "127.0.0.1");
    r->port = cfg->port > 0 ? cfg->port : 6379;
    r->username = cfg->username && cfg->username[0] ? xstrdup(cfg->username) : NULL;
    r->password = cfg->password && cfg->password[0] ? xstrdup(cfg->password) : NULL;
    r->prefix = xstrdup(cfg->key_prefix ? cfg->key_prefix : "");
    r->db = cfg->db;
    r->timeout_ms = cfg->socket_timeout_ms > 0 ? cfg->socket_timeout_ms : 5000;
    r->tls = cfg->tls;
    r->size = cfg->max_connections > 0 ? cfg->max_connections : 20;
    r->conns = xcalloc(r->size, sizeof(*r->conns));
    r->free = xcalloc(r->size, sizeof(*r->free));
    for (size_t i = 0; i < r->size; i++) {
        r->conns[i].fd = -1;
        r->free[r->nfree++] = r->size - 1 - i;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->lock, NULL);
    if (r->port > 65535 || r->db < 0)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "redis: bad port %d or db %d", r->port, r->db);
    return r->tls ? tls_init(r, cfg, err) : 0;
}

void rds_pool_done(struct meta_redis *r)
{
    for (size_t i = 0; r->conns && i < r->size; i++)
        conn_close(&r->conns[i]);
    free(r->conns);
    free(r->free);
    SSL_CTX_free(r->ssl_ctx);
    BIO_meth_free(r->bio_meth);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r->host);
    free(r->username);
    free(r->password);
    free(r->prefix);
}
