/* meta-redis-internal — the Redis metadata store's instance, its connection
 * pool and the one call every operation goes through (meta-redis-conn.c),
 * shared by meta-redis.c's operations. Not for other modules. */
#pragma once

#include <hiredis/hiredis.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "store/meta-redis.h"
#include "store/meta.h"

/* The Lua scripts of meta-redis.c, by index; their SHA-1s are computed once. */
#define RDS_SCRIPTS_MAX 24

/* Bounds on what a reply may hold, so a hostile or corrupt server costs an
 * error, never unbounded memory: the bytes of one reply, the elements of
 * one array, the bytes of one string. */
#define RDS_REPLY_MAX  (64u << 20)
#define RDS_ARRAY_MAX  (1u << 20)
#define RDS_STRING_MAX (1u << 20)

/* One connection: a socket (TCP, or a unix socket when host starts with
 * '/'), TLS over it when configured, and hiredis's reply parser. fd < 0:
 * not connected, opened on its next use. */
struct rds_conn {
    int fd;
    SSL *ssl;
    redisReader *rd;
};

struct meta_redis {
    struct kcr_meta super;
    char *host, *username, *password, *prefix;
    int port, db;
    long timeout_ms;
    bool tls;
    SSL_CTX *ssl_ctx;
    BIO_METHOD *bio_meth;
    /* The pool: conns[free[0..nfree)] are idle; a caller waits on cond. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct rds_conn *conns;
    size_t *free, nfree, size;
    /* Until then calls fail at once: a call used up the whole timeout, so
     * Redis hangs; one request's next call must not wait a second timeout
     * (guarded by lock). */
    int64_t down_until_ms;
    const char *const *scripts;
    size_t nscripts;
    char sha[RDS_SCRIPTS_MAX][41];
};

static inline struct meta_redis *mr(struct kcr_meta *m)
{
    return (struct meta_redis *)m;
}

/* The arguments of one command: strings borrowed from the caller, numbers
 * formatted into nums, built strings (keys) owned and freed by rds_args_done. */
#define RDS_ARGS_MAX 20
struct rds_args {
    int n;
    const char *v[RDS_ARGS_MAX];
    size_t len[RDS_ARGS_MAX];
    char nums[RDS_ARGS_MAX][24];
    char *owned[RDS_ARGS_MAX];
};

void rds_arg(struct rds_args *a, const char *s);
void rds_arg_i64(struct rds_args *a, int64_t x);
/* A string built with a format, owned by a. */
void rds_arg_fmt(struct rds_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rds_args_done(struct rds_args *a);

/* Fills the pool's settings from cfg and makes the TLS context; -1 with err
 * (KCR_ERR_INVALID for unusable settings). */
int rds_pool_init(struct meta_redis *r, const struct kcr_redis_config *cfg, struct kcr_err *err);
/* Closes every connection and frees what rds_pool_init made. */
void rds_pool_done(struct meta_redis *r);

/* Sends the command a on a pooled connection and returns its reply (freed by
 * the caller with freeReplyObject), which may be an error reply. Fails with
 * KCR_ERR_UNAVAILABLE when no connection frees up, the server cannot be
 * reached or does not answer within timeout_ms (the connection is then
 * closed and reopened on its next use); with KCR_ERR_INVALID when the
 * server refuses the password or the db. */
int rds_command(struct meta_redis *r, const struct rds_args *a, redisReply **ret,
                struct kcr_err *err);
/* Runs script number i with a as its ARGV (no KEYS): EVALSHA, then EVAL when
 * the server does not know it (NOSCRIPT). An error reply fails with
 * KCR_ERR_UNAVAILABLE naming what. */
int rds_eval(struct meta_redis *r, size_t i, const struct rds_args *a, redisReply **ret,
             const char *what, struct kcr_err *err);
